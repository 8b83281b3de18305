"""`smartbank marketing campaign ...`: campaigns - draft from a JSON file, preview the audience, submit,
approve or reject (a second staff user), run, pause, list and show. Each command acts as a named staff user
(``--as``, audited under that name); the service checks the permissions and the maker-checker rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from smartbank.cli.changes import AsUser, run_as_staff, staff_principal
from smartbank.cli.common import DbUrl, emit, use_database

app = typer.Typer(no_args_is_help=True)
Ref = Annotated[str, typer.Argument(help="the campaign's id or code")]


def _spec(path: Path) -> dict[str, Any]:
    try:
        out = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="--file") from None
    if not isinstance(out, dict):
        raise typer.BadParameter("the file holds one JSON object", param_hint="--file")
    return out


def _act(as_user: str, fn: Any) -> Any:
    from smartbank.marketing import service as mkt  # noqa: F401 - registers the audience scorers

    return run_as_staff(lambda s: fn(s, staff_principal(s, as_user)))


def _line(c: dict[str, Any]) -> str:
    return (f"#{c['id']:<4} {c['code']:<20} {c['status']:<10} v{c['version']:<3} {c['goal']:<17} "
            f"{','.join(c['channels'])}  next {c.get('next_run_at') or '-'}")


@app.command("create")
def create_cmd(file: Annotated[Path, typer.Option("--file", help="the campaign as JSON (see docs/MARKETING.md)")],
               as_user: AsUser, database_url: DbUrl = None) -> None:
    """A new draft campaign from a JSON file."""
    from smartbank.marketing import service as mkt

    use_database(database_url)
    spec = _spec(file)
    out = _act(as_user, lambda s, a: mkt.create_campaign(s, a, spec))
    typer.echo(_line(out))
    emit(out)


@app.command("edit")
def edit_cmd(ref: Ref, file: Annotated[Path, typer.Option("--file")], as_user: AsUser,
             database_url: DbUrl = None) -> None:
    """Change a campaign not yet running (an approved one goes back to draft, version + 1)."""
    from smartbank.marketing import service as mkt

    use_database(database_url)
    spec = _spec(file)
    out = _act(as_user, lambda s, a: mkt.edit_campaign(s, a, ref, spec))
    typer.echo(_line(out))
    emit(out)


@app.command("list")
def list_cmd(as_user: AsUser, status: Annotated[str | None, typer.Option(help="only this status")] = None,
             database_url: DbUrl = None) -> None:
    """The campaigns, newest first."""
    from smartbank.marketing import service as mkt

    use_database(database_url)
    rows = _act(as_user, lambda s, a: mkt.list_campaigns(s, a, status=status))
    for r in rows:
        typer.echo(_line(r))
    emit({"campaigns": rows})


@app.command("show")
def show_cmd(ref: Ref, as_user: AsUser, database_url: DbUrl = None) -> None:
    """One campaign with its arms and its results."""
    from smartbank.marketing import service as mkt

    use_database(database_url)
    out = _act(as_user, lambda s, a: {**mkt.get_campaign(s, a, ref), "results": mkt.campaign_results(s, a, ref)})
    typer.echo(_line(out))
    for r in out["results"]["arms"]:
        typer.echo(f"  arm {r['arm']:<8} assigned {r['assigned']:>6}  sent {r['sent']:>6}  "
                   f"suppressed {r['suppressed']:>6}  converted {r['converted']:>5}")
    if out["results"]["suppressed_by_reason"]:
        typer.echo("  not sent: " + ", ".join(f"{k} {v}" for k, v in out["results"]["suppressed_by_reason"].items()))
    emit(out)


@app.command("preview")
def preview_cmd(as_user: AsUser, ref: Annotated[str | None, typer.Argument(help="a campaign (its audience)")] = None,
                file: Annotated[Path | None, typer.Option("--file", help="or a campaign JSON file")] = None,
                database_url: DbUrl = None) -> None:
    """How many customers the audience selects now, how many are reachable, and a sample."""
    from smartbank.marketing import service as mkt

    use_database(database_url)
    if (ref is None) == (file is None):
        raise typer.BadParameter("give a campaign or --file")
    spec = _spec(file) if file else None

    def work(s: Any, a: Any) -> dict[str, Any]:
        src = spec if spec is not None else mkt.get_campaign(s, a, str(ref))
        return mkt.preview_audience(s, a, src.get("audience") or {}, src.get("channels") or None)

    out = _act(as_user, work)
    typer.echo(f"in audience {out['in_audience']} of {out['profiles']} profiles; reachable {out['reachable']}")
    for r in out["sample"]:
        typer.echo(f"  {r['customer_number']:<14} {r['name']:<10} {r['segment'] or '-':<6} "
                   f"{'' if r['score'] is None else round(r['score'], 3)}")
    emit(out)


def _step(name: str, doc: str, with_note: bool = False) -> None:
    def cmd(ref: Ref, as_user: AsUser,
            note: Annotated[str, typer.Option(help="a note (required to reject)")] = "",
            database_url: DbUrl = None) -> None:
        from smartbank.marketing import service as mkt

        use_database(database_url)
        fn = getattr(mkt, f"{name}_campaign")
        out = _act(as_user, (lambda s, a: fn(s, a, ref, note=note)) if with_note else (lambda s, a: fn(s, a, ref)))
        typer.echo(_line(out))
        emit(out)

    cmd.__doc__ = doc
    app.command(name)(cmd)


_step("submit", "Submit a draft for approval.")
_step("approve", "Approve a submitted campaign (not its maker).", with_note=True)
_step("reject", "Reject a submitted campaign with a note.", with_note=True)
_step("pause", "Pause a campaign.")
_step("resume", "Resume a paused campaign.")
_step("cancel", "Cancel a campaign.", with_note=True)


@app.command("run")
def run_cmd(ref: Ref, as_user: AsUser, database_url: DbUrl = None) -> None:
    """Run a campaign now (its due run, or its current run again: nobody is messaged twice for one run)."""
    from smartbank.marketing import service as mkt

    use_database(database_url)
    out = _act(as_user, lambda s, a: mkt.run_campaign(s, ref, actor=a, force=True))
    typer.echo(" ".join(f"{k}={v}" for k, v in out.items()))
    emit(out)
