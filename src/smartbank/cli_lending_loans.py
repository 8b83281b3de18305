"""``smartbank lending loans`` and ``smartbank lending book``: loans after disbursement, from the command
line (as the system; the last line printed is one JSON object)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer


def register(app: typer.Typer, lending_app: typer.Typer, eval_app: typer.Typer) -> None:
    @lending_app.command("loans")
    def loans_cmd(
        customer_id: Annotated[int, typer.Option("--customer-id", min=1, help="whose loans")],
    ) -> None:
        """A customer's loans: outstanding principal, next payment, days past due, classification."""
        from rich.console import Console
        from rich.table import Table

        from smartbank import db
        from smartbank.lending import servicing
        from smartbank.money import format_minor
        from smartbank.security.service import SYSTEM

        rows = db.run_in_transaction(lambda s: servicing.list_loans(s, SYSTEM, customer_id))
        table = Table(title=f"Loans of customer {customer_id}")
        for col in ("loan", "status", "outstanding", "next due", "dpd", "classification"):
            table.add_column(col)
        for r in rows:
            nxt = r["next_due"]
            table.add_row(r["number"], r["status"], format_minor(r["outstanding_minor"], r["currency"]),
                          f"{format_minor(nxt['amount_minor'], r['currency'])} on {nxt['due_date']}" if nxt else "-",
                          str(r["days_past_due"]), r["classification"])
        Console(stderr=True).print(table)
        typer.echo(json.dumps({"customer_id": customer_id, "loans": rows}, default=str))

    @lending_app.command("book")
    def book_cmd() -> None:
        """The loan book: outstanding and provisions by classification, by delinquency bucket, the
        delinquency rate, the loan loss allowance and how often early warnings were right."""
        from rich.console import Console
        from rich.table import Table

        from smartbank import db
        from smartbank.lending import servicing, warning
        from smartbank.money import format_minor
        from smartbank.security.service import SYSTEM

        def work(s: Any) -> dict[str, Any]:
            out = servicing.portfolio_summary(s, SYSTEM)
            out["warnings"] = warning.hit_rate(s)
            return out

        res = db.run_in_transaction(work)
        console = Console(stderr=True)
        table = Table(title="Loan book by classification")
        for col in ("classification", "loans", "outstanding", "provision rate", "provision"):
            table.add_column(col)
        for name, v in res["by_classification"].items():
            table.add_row(name, str(v["loans"]), format_minor(v["outstanding_minor"]),
                          f"{v['provision_rate_bps'] / 100:g}%", format_minor(v["provision_minor"]))
        console.print(table)
        table = Table(title="By delinquency bucket")
        for col in ("bucket", "loans", "outstanding", "share"):
            table.add_column(col)
        for name, v in res["by_bucket"].items():
            table.add_row(name, str(v["loans"]), format_minor(v["outstanding_minor"]),
                          "-" if v["share"] is None else f"{v['share']:.2%}")
        console.print(table)
        rate = res["delinquency_rate"]
        console.print(f"delinquency rate: {'-' if rate is None else f'{rate:.2%}'}; allowance "
                      f"{format_minor(res['allowance_balance_minor'])}")
        typer.echo(json.dumps(res, default=str))
