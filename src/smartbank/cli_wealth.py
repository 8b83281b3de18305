"""``smartbank wealth seed|products|navs CODE|settle``: the catalogue, NAV history and order settlement."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer


def register(app: typer.Typer, group: typer.Typer, bench_app: typer.Typer) -> None:
    @group.command("seed")
    def seed_cmd(
        until: Annotated[str | None, typer.Option(help="last NAV day (YYYY-MM-DD); default yesterday")] = None,
        years: Annotated[int, typer.Option(min=1, max=10, help="years of NAV history")] = 3,
    ) -> None:
        """The risk questionnaire (v1), the product catalogue and its daily NAV history (from the sp500_skfolio
        prices where a product invests in them). Existing products are left alone."""
        from smartbank import db
        from smartbank.wealth import seed

        day = date.fromisoformat(until) if until else None
        out = db.run_in_transaction(lambda s: seed.seed(s, until=day, years=years))
        typer.echo(json.dumps(out, default=str))

    @group.command("products")
    def products_cmd(
        kind: Annotated[str | None, typer.Option(help="time_deposit | wmp | fund | insurance")] = None,
    ) -> None:
        """The catalogue with each product's risk level, minimum, fees and latest NAV."""
        from rich.console import Console
        from rich.table import Table

        from smartbank import db
        from smartbank.money import format_minor
        from smartbank.wealth import products

        rows = db.run_in_transaction(lambda s: products.list_products(s, kind=kind, status=None))
        table = Table(title="Wealth products")
        for col in ("code", "kind", "risk", "minimum", "fees (sub/red bps)", "T+", "NAV", "day", "status"):
            table.add_column(col)
        for p in rows:
            table.add_row(p["code"], p["kind"], p["risk_level"], format_minor(p["min_amount_minor"], p["currency"]),
                          f"{p['subscription_fee_bps']}/{p['redemption_fee_bps']}", str(p["settlement_days"]),
                          "-" if p["nav_micro"] is None else f"{p['nav_micro'] / 1e6:.6f}" + (
                              f" (7-day {p['yield_7d_ppm'] / 1e4:.4f}%)" if p.get("yield_7d_ppm") is not None else ""),
                          str(p["nav_day"] or "-"),
                          p["status"])
        Console(stderr=True).print(table)
        typer.echo(json.dumps(rows, default=str))

    @group.command("navs")
    def navs_cmd(
        code: Annotated[str, typer.Argument(help="product code")],
        start: Annotated[str | None, typer.Option(help="first day (YYYY-MM-DD)")] = None,
        end: Annotated[str | None, typer.Option(help="last day (YYYY-MM-DD)")] = None,
    ) -> None:
        """A product's NAV history as CSV (day,nav_micro) and its figures on stderr."""
        from smartbank import db
        from smartbank.wealth import products

        def work(s):
            p = products.get_product(s, code)
            return (products.nav_history(s, p.id, start=date.fromisoformat(start) if start else None,
                                         end=date.fromisoformat(end) if end else None),
                    products.product_page(s, code))

        series, page = db.run_in_transaction(work)
        typer.echo(json.dumps({"code": page["code"], "returns": page["returns"], "metrics": page["metrics"]}),
                   err=True)
        typer.echo("day,nav_micro")
        for d, n in series:
            typer.echo(f"{d.isoformat()},{n}")

    @group.command("settle")
    def settle_cmd(
        day: Annotated[str | None, typer.Option(help="business day (YYYY-MM-DD); default today")] = None,
        publish: Annotated[bool, typer.Option(help="publish the day's NAVs first")] = True,
    ) -> None:
        """Publish the day's NAVs, credit money-market income and settle the orders due (what close of day does for
        wealth); rerunnable."""
        from smartbank import db
        from smartbank.wealth import orders, products

        d = date.fromisoformat(day) if day else orders.today()

        def work(s):
            out = products.publish_day(s, d) if publish else {}
            return out | orders.accrue_income(s, d) | orders.settle_day(s, d)

        typer.echo(json.dumps({"day": d.isoformat()} | db.run_in_transaction(work)))
