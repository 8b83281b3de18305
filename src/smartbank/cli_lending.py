"""``smartbank lending ...``: seed products and the LPR, list products, rates and applications, keep the
credit blacklist. Commands act as the system user (an administrator). The last line of each is one JSON
object."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

# as smartbank.cli.DbUrl (defined here too: typer reads the annotations from this module's globals)
DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                           help="defaults to SMARTBANK_DATABASE_URL")]


def _emit(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def register(app: typer.Typer, lending_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this module's commands to the ``smartbank lending`` group."""

    @lending_app.command("seed")
    def seed_cmd(database_url: DbUrl = None) -> None:
        """Add the default loan products and the LPR history (idempotent)."""
        from smartbank import db
        from smartbank.lending import seed

        out = db.run_in_transaction(seed.seed, engine=db.get_engine(database_url))
        print(f"added {out['products']} products and {out['rates']} reference rates")
        _emit(out)

    @lending_app.command("products")
    def products_cmd(retired: Annotated[bool, typer.Option("--retired", help="include retired products")] = False,
                     database_url: DbUrl = None) -> None:
        """The loan products."""
        from smartbank import db
        from smartbank.lending import products

        items = db.run_in_transaction(lambda s: [products.product_dict(p) for p in products.list_products(
            s, include_retired=retired)], engine=db.get_engine(database_url))
        for p in items:
            print(f"{p['code']:<10} {p['name_zh']:<10} {p['kind']:<9} {p['min_amount_minor'] / 100:>12,.0f}"
                  f" - {p['max_amount_minor'] / 100:<14,.0f} {p['min_term_months']}-{p['max_term_months']} months"
                  f"  {p['reference_rate']} + {p['spreads_bps']}")
        _emit({"products": items})

    @lending_app.command("rates")
    def rates_cmd(
        set_: Annotated[tuple[str, int] | None, typer.Option(
            "--set", help="publish NAME RATE_BPS, e.g. --set LPR1Y 290")] = None,
        from_: Annotated[str | None, typer.Option("--from", help="effective date of --set, YYYY-MM-DD")] = None,
        database_url: DbUrl = None,
    ) -> None:
        """The reference rates by effective date; --set NAME RATE_BPS --from DATE publishes one (audited)."""
        from smartbank import db
        from smartbank.lending import products
        from smartbank.security.service import SYSTEM

        engine = db.get_engine(database_url)
        if set_ is not None:
            if not from_:
                raise typer.BadParameter("--set needs --from DATE")
            try:
                day = date.fromisoformat(from_)
            except ValueError as exc:
                raise typer.BadParameter("--from is YYYY-MM-DD") from exc
            name, bps = set_
            db.run_in_transaction(lambda s: products.set_rate(s, SYSTEM, name, bps, day), engine=engine)
        items = db.run_in_transaction(lambda s: products.list_rates(s), engine=engine)
        for r in items:
            print(f"{r['name']:<6} {r['effective_date']}  {r['rate_bps'] / 100:.2f}%")
        _emit({"rates": items})

    @lending_app.command("applications")
    def applications_cmd(status: Annotated[str | None, typer.Option("--status", help="only this status")] = None,
                         limit: Annotated[int, typer.Option(help="at most this many")] = 50,
                         database_url: DbUrl = None) -> None:
        """Loan applications, newest first."""
        from smartbank import db
        from smartbank.lending import applications
        from smartbank.security.service import SYSTEM

        def work(s):
            return [{"id": a.id, "number": a.number, "customer_id": a.customer_id, "status": a.status,
                     "amount_minor": a.amount_minor, "term_months": a.term_months, "grade": a.grade,
                     "approved_amount_minor": a.approved_amount_minor, "rate_bps": a.rate_bps,
                     "created_at": a.created_at}
                    for a in applications.list_applications(s, SYSTEM, status=status, limit=limit)]

        items = db.run_in_transaction(work, engine=db.get_engine(database_url))
        for a in items:
            print(f"{a['id']:>6} {a['number']:<20} {a['status']:<14} {a['amount_minor'] / 100:>14,.2f}"
                  f" {a['term_months']:>3}m grade {a['grade'] or '-'}")
        _emit({"applications": items})

    blacklist_app = typer.Typer(help="The credit blacklist (keyed hashes of resident ID numbers).",
                                no_args_is_help=True)
    lending_app.add_typer(blacklist_app, name="blacklist")

    @blacklist_app.command("add")
    def blacklist_add(id_number: Annotated[str, typer.Argument(help="the resident ID number")],
                      reason: Annotated[str, typer.Option("--reason", help="why")] = "",
                      database_url: DbUrl = None) -> None:
        """Put a person on the blacklist (audited)."""
        from smartbank import db
        from smartbank.lending import policy
        from smartbank.security.service import SYSTEM

        out = db.run_in_transaction(lambda s: policy.add_to_blacklist(s, SYSTEM, id_number, reason),
                                    engine=db.get_engine(database_url))
        print(f"added ****{out['last4']}")
        _emit(out)

    @blacklist_app.command("remove")
    def blacklist_remove(id_number: Annotated[str, typer.Argument(help="the resident ID number")],
                         reason: Annotated[str, typer.Option("--reason", help="why")] = "",
                         database_url: DbUrl = None) -> None:
        """Take a person off the blacklist (audited)."""
        from smartbank import db
        from smartbank.lending import policy
        from smartbank.security.service import SYSTEM

        out = db.run_in_transaction(lambda s: policy.remove_from_blacklist(s, SYSTEM, id_number, reason),
                                    engine=db.get_engine(database_url))
        print(f"removed ****{out['last4']}")
        _emit(out)

    @blacklist_app.command("list")
    def blacklist_list(removed: Annotated[bool, typer.Option("--removed", help="include removed entries")] = False,
                       database_url: DbUrl = None) -> None:
        """The blacklist (last four characters and reason only)."""
        from smartbank import db
        from smartbank.lending import policy
        from smartbank.security.service import SYSTEM

        items = db.run_in_transaction(lambda s: policy.list_blacklist(s, SYSTEM, include_removed=removed),
                                      engine=db.get_engine(database_url))
        for e in items:
            print(f"****{e['last4']}  {'active' if e['active'] else 'removed':<8} {e['reason']}")
        _emit({"blacklist": items})
