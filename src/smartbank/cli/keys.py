"""``smartbank keys ...``: the personal-data encryption's keys (status, online rotation) and the
personal-information classification of every column."""

from __future__ import annotations

from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(help="Encryption keys of personal data: status, rotation; the data classification.",
                  no_args_is_help=True)


@app.command("status")
def keys_status(database_url: DbUrl = None) -> None:
    """The data key versions (active, retired; which master key wrapped each) and, per encrypted column, the
    rows each version protects."""
    import smartbank.models  # noqa: F401 - every table, so every encrypted column is known
    from smartbank.security import service as security

    use_database(database_url)
    keys = security.data_keys()
    rows = security.rows_per_version()
    provider = security.key_provider()
    for k in keys:
        console.print(f"data key v{k['version']}: {k['status']}, wrapped by master key {k['master_key_id']}"
                      f"{'' if k['master_key_id'] == provider.key_id else ' (NOT the configured one)'}")
    for col, counts in rows.items():
        console.print(f"  {col}: " + (", ".join(f"v{v}: {n}" for v, n in counts.items()) or "no values"))
    emit({"master_key_id": provider.key_id, "data_keys": keys, "rows": rows})


@app.command("rotate")
def keys_rotate(
    database_url: DbUrl = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="rows per transaction")] = 500,
    resume: Annotated[bool, typer.Option("--resume", help="no new key: finish bringing rows to the active one")]
    = False,
) -> None:
    """Make a new data key active and re-encrypt every encrypted column under it, online: in batches, each its
    own short transaction, while the bank keeps serving. Run again with --resume after an interruption."""
    import smartbank.models  # noqa: F401
    from smartbank.security import service as security

    use_database(database_url)
    done: dict[str, int] = {}

    def progress(column: str, n: int) -> None:
        done[column] = done.get(column, 0) + n

    with console.status("re-encrypting"):
        report = security.rotate_data_key(batch_size=batch_size, new_key=not resume, progress=progress)
    console.print(f"data key v{report.version} active; re-encrypted "
                  + (", ".join(f"{c}: {n}" for c, n in report.rewritten.items()) or "nothing"))
    if report.left:
        console.print(f"[yellow]rows written under an older key meanwhile[/]: {report.left}; "
                      "run `smartbank keys rotate --resume`")
    emit(report.as_dict())
    raise typer.Exit(1 if report.left else 0)


@app.command("classification")
def keys_classification(
    table: Annotated[str | None, typer.Option(help="only this table")] = None,
) -> None:
    """Every column's personal-information class (JR/T 0171-2020: C3 authentication, C2 identity and
    financial situation, C1 internal, none), and whether it is encrypted at rest."""
    import smartbank.models as registry
    from smartbank.security import service as security

    classes = registry.classification()
    encrypted = {f"{t.name}.{c.name}" for t, c, _ in security.encrypted_columns()}
    out = {}
    for t, cols in classes.items():
        if table and t != table:
            continue
        out[t] = {c: {"class": k, "encrypted": f"{t}.{c}" in encrypted} for c, k in cols.items()}
        console.print(f"[bold]{t}[/]: " + ", ".join(
            f"{c}={k}{' (encrypted)' if f'{t}.{c}' in encrypted else ''}" for c, k in cols.items() if k != "none"))
    problems = registry.unclassified()
    for p in problems:
        console.print(f"[red]unclassified[/]: {p}")
    emit({"tables": out, "unclassified": problems})
    raise typer.Exit(1 if problems else 0)
