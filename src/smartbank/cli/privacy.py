"""``smartbank privacy ...``: a customer's data handed over on their behalf (PIPL Art. 45). The export is made by
an operator of the server, recorded in the audit log as the system's; the last line is one JSON object."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, emit

app = typer.Typer(help="Privacy: a customer's data export; the purge of identity data past its retention.",
                  no_args_is_help=True)


@app.command("export")
def privacy_export(customer_number: Annotated[str, typer.Argument(help="the customer number, e.g. C0000000001")],
                   fmt: Annotated[str, typer.Option("--format",
                                                    help="json, or csv (a zip of one CSV per kind)")] = "json",
                   *, out: Annotated[Path, typer.Option("--out", help="the file to write")],
                   database_url: DbUrl = None) -> None:
    """Write everything the bank holds about the customer (profile, consents, accounts, transactions, payees,
    loans, wealth, assistant conversations, notifications, privacy requests) to OUT."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.privacy import service as privacy

    if fmt not in privacy.EXPORT_FORMATS:
        print(f"privacy export: --format must be one of {', '.join(privacy.EXPORT_FORMATS)}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        body, name, media = db.run_in_transaction(
            lambda s: privacy.export_for_customer(s, customer_number.strip(), fmt=fmt),
            engine=db.get_engine(database_url))
    except SmartbankError as exc:
        print(f"privacy export: {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from exc
    out.write_bytes(body)
    print(f"privacy export: {len(body)} bytes ({media}) written to {out}", file=sys.stderr)
    emit({"customer_number": customer_number, "format": fmt, "path": str(out), "bytes": len(body),
          "suggested_name": name})


@app.command("purge")
def privacy_purge(database_url: DbUrl = None) -> None:
    """Purge the identity data of deleted customers whose retention period (five years after the relationship
    ended) is over: name, identity document, birth date and gender. Meant to run daily."""
    from smartbank import db
    from smartbank.privacy import service as privacy

    res = db.run_in_transaction(lambda s: privacy.purge_expired(s), engine=db.get_engine(database_url))
    print(f"privacy purge: {res['purged']} customers' identity data purged ({res['day']})", file=sys.stderr)
    emit(res)
