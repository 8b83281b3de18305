"""``smartbank lending loans``, ``smartbank lending book``, ``smartbank lending write-off`` and ``smartbank
lending collect``: loans after disbursement, from the command line (reads as the system; a write-off or a
recovery collected as the named staff user, ``--as``; the last line printed is one JSON object)."""

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
            owed = r.get("still_owed_minor")
            table.add_row(r["number"], r["status"], format_minor(r["outstanding_minor"], r["currency"])
                          + (f" (still owed {format_minor(owed, r['currency'])})" if owed else ""),
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
        wo = res["written_off"]
        console.print(f"written off: {wo['loans']} loans, {format_minor(wo['principal_minor'])} of principal; "
                      f"recovered since {format_minor(wo['recovered_minor'])}"
                      + ("" if wo["recovery_rate"] is None else f" ({wo['recovery_rate']:.2%} of the principal)"))
        typer.echo(json.dumps(res, default=str))

    @lending_app.command("write-off")
    def write_off_cmd(
        loan_id: Annotated[int, typer.Argument(min=1, help="the loan to write off")],
        reason: Annotated[str, typer.Option("--reason", help="why (1-200 characters; audited)")],
        as_user: Annotated[str, typer.Option("--as", help="the acting staff user (a risk officer or an admin)")],
    ) -> None:
        """Write off an active loan classified loss, as a named staff user: the provision is brought to 100 %,
        the allowance is used up against the loan's account, the write-off is audited under that user."""
        from smartbank.lending import writeoff

        def work(s: Any) -> dict[str, Any]:
            return writeoff.write_off(s, _staff_user(s, as_user), loan_id, reason=reason)

        _run_as_staff(work)

    @lending_app.command("collect")
    def collect_cmd(
        loan_id: Annotated[int, typer.Argument(min=1, help="the written-off loan")],
        amount: Annotated[str, typer.Option("--amount", help="yuan received, e.g. 1200 or 1,200.50")],
        reference: Annotated[str, typer.Option("--reference", help="the incoming payment's reference")],
        as_user: Annotated[str, typer.Option("--as", help="the acting staff user (a risk officer or an admin)")],
        key: Annotated[str | None, typer.Option("--key", help="idempotency key (default: from the reference)")]  # noqa: UP007
        = None,
    ) -> None:
        """Record money received for a written-off loan outside the customer's accounts (a collection agency's
        or a court's payment, through settlement), as a named staff user; audited. Last line: JSON."""
        from smartbank.errors import ValidationFailed
        from smartbank.lending import writeoff
        from smartbank.money import parse_major

        try:
            minor = parse_major(amount)
        except ValidationFailed as exc:
            raise typer.BadParameter(exc.message, param_hint="--amount") from None

        def work(s: Any) -> dict[str, Any]:
            return writeoff.record_collection(s, _staff_user(s, as_user), loan_id, amount_minor=minor,
                                              reference=reference, key=key or f"collect:{loan_id}:{reference}")

        _run_as_staff(work)


def _staff_user(session: Any, username: str) -> Any:
    """The named active staff user as the acting principal (the one audited)."""
    from sqlalchemy import select

    from smartbank.security.models import User
    from smartbank.security.service import Principal

    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.is_active or user.role == "customer":
        raise typer.BadParameter(f"no active staff user {username!r}", param_hint="--as")
    return Principal(user_id=user.id, username=user.username, role=user.role, customer_id=None,
                     display_name=user.display_name or user.username)


def _run_as_staff(work: Any) -> None:
    """One transaction; a refusal is exit 2 with its reason, success prints the result as JSON."""
    from smartbank import db
    from smartbank.errors import SmartbankError

    try:
        res = db.run_in_transaction(work)
    except SmartbankError as exc:
        typer.echo(f"refused ({exc.status_code} {exc.code}): {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(res, default=str))
