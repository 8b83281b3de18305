"""``smartbank marketing loyalty ...``: the loyalty programme's rules, earning, balances, redemption, expiry and
the reconciliation of the points liability. Commands act as the system user (``redeem`` as the customer); the
last line of each is one JSON object. One point is worth 1 fen."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, emit

app = typer.Typer(no_args_is_help=True, help="The loyalty programme: points, rules, rewards, liability.")

Number = Annotated[str, typer.Option("--customer", help="the customer's number")]


@app.command("rules")
def loyalty_rules(history: Annotated[bool, typer.Option("--history", help="every version")] = False,
                  database_url: DbUrl = None) -> None:
    """The earning rules in force (or every version)."""
    from smartbank import db
    from smartbank.loyalty import service as loyalty
    from smartbank.security.service import SYSTEM

    rows = db.run_in_transaction(lambda s: loyalty.list_rules(s, SYSTEM, history=history),
                                 engine=db.get_engine(database_url))
    for r in rows:
        limit = "once" if r["once_per_customer"] else (f"cap {r['cap_per_month']}/month" if r["cap_per_month"] else "")
        print(f"{r['code']:<18} v{r['version']:<3} {r['behaviour']:<22} {r['points']:>6} {limit}", file=sys.stderr)
    emit({"rules": rows})


@app.command("earn")
def loyalty_earn(database_url: DbUrl = None) -> None:
    """Award points for the bank's records since the last run (idempotent), then expire what is due."""
    from smartbank import db
    from smartbank.loyalty import service as loyalty

    emit(db.run_in_transaction(loyalty.run_due, engine=db.get_engine(database_url)))


@app.command("balance")
def loyalty_balance(customer: Number, database_url: DbUrl = None) -> None:
    """A customer's points, what expires soon and the latest entries."""
    from smartbank import db
    from smartbank.loyalty import service as loyalty
    from smartbank.security.service import SYSTEM

    out = db.run_in_transaction(lambda s: loyalty.points_by_number(s, SYSTEM, customer),
                                engine=db.get_engine(database_url))
    out = {k: out[k] for k in ("customer_number", "balance", "value_minor", "expiring_soon", "lots", "history")}
    emit(out)


@app.command("redeem")
def loyalty_redeem(customer: Number, reward: Annotated[str, typer.Option("--reward", help="the reward's code")],
                   database_url: DbUrl = None) -> None:
    """Redeem a reward for a customer (as the customer)."""
    from smartbank import db
    from smartbank.customers import service as customers
    from smartbank.loyalty import service as loyalty
    from smartbank.security.service import Principal

    def work(s):
        c = customers.customer_by_number(s, customer)
        actor = Principal(user_id=0, username="system", role="customer", customer_id=c.id)
        return loyalty.redeem(s, actor, reward)

    emit(db.run_in_transaction(work, engine=db.get_engine(database_url)))


@app.command("expire")
def loyalty_expire(database_url: DbUrl = None) -> None:
    """Expire every lot past its expiry (liability -> breakage)."""
    from smartbank import db
    from smartbank.loyalty import service as loyalty

    emit(db.run_in_transaction(lambda s: loyalty.expire_due(s), engine=db.get_engine(database_url)))


@app.command("reconcile")
def loyalty_reconcile(database_url: DbUrl = None) -> None:
    """Outstanding points x value against the liability account, and the lots against the entries; exits 1 when
    they do not agree."""
    from smartbank import db
    from smartbank.loyalty import service as loyalty
    from smartbank.security.service import SYSTEM

    out = db.run_in_transaction(lambda s: loyalty.reconciliation(s, SYSTEM), engine=db.get_engine(database_url))
    print(f"loyalty: {out['outstanding_points']} points outstanding = {out['liability_expected_minor']} fen; "
          f"liability account {out['liability_minor']} fen; {'reconciled' if out['ok'] else 'NOT RECONCILED'}",
          file=sys.stderr)
    emit(out)
    if not out["ok"]:
        raise typer.Exit(1)
