"""``smartbank wealth seed|products|navs CODE|settle``: the catalogue, NAV history and order settlement;
``smartbank wealth robo propose`` (a plan for a customer, written) and ``smartbank wealth robo backtest`` (what
the method allocates for a grade and horizon on today's catalogue, and its backtest against equal weight; nothing
written). Figures go to stderr; the last line printed is one JSON object."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer

app = typer.Typer(help="Wealth: risk assessment, products and NAV, orders, holdings, robo-advice.",
                  no_args_is_help=True)
robo_app = typer.Typer(help="Robo-advice: optimised plans per grade and horizon, backtests, drift.",
                       no_args_is_help=True)
app.add_typer(robo_app, name="robo")


@app.command("seed")
def seed_cmd(
    until: Annotated[str | None, typer.Option(help="last NAV day (YYYY-MM-DD); default yesterday")] = None,
    years: Annotated[int, typer.Option(min=1, max=10, help="years of NAV history")] = 3,
) -> None:
    """The risk questionnaire (v1), the product catalogue and its daily NAV history (from the sp500_skfolio
    prices where a product invests in them). Existing products are left alone."""
    from smartbank import db
    from smartbank.wealth import service as wealth

    day = date.fromisoformat(until) if until else None
    out = db.run_in_transaction(lambda s: wealth.seed_products(s, until=day, years=years))
    typer.echo(json.dumps(out, default=str))


@app.command("products")
def products_cmd(
    kind: Annotated[str | None, typer.Option(help="time_deposit | wmp | fund | insurance")] = None,
) -> None:
    """The catalogue with each product's risk level, minimum, fees and latest NAV."""
    from rich.console import Console
    from rich.table import Table

    from smartbank import db
    from smartbank.money import format_minor
    from smartbank.wealth import service as wealth

    rows = db.run_in_transaction(lambda s: wealth.list_products(s, kind=kind, status=None))
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


@app.command("navs")
def navs_cmd(
    code: Annotated[str, typer.Argument(help="product code")],
    start: Annotated[str | None, typer.Option(help="first day (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last day (YYYY-MM-DD)")] = None,
) -> None:
    """A product's NAV history as CSV (day,nav_micro) and its figures on stderr."""
    from smartbank import db
    from smartbank.wealth import service as wealth

    def work(s):
        p = wealth.get_product(s, code)
        return (wealth.nav_history(s, p.id, start=date.fromisoformat(start) if start else None,
                                     end=date.fromisoformat(end) if end else None),
                wealth.product_page(s, code))

    series, page = db.run_in_transaction(work)
    typer.echo(json.dumps({"code": page["code"], "returns": page["returns"], "metrics": page["metrics"]}),
               err=True)
    typer.echo("day,nav_micro")
    for d, n in series:
        typer.echo(f"{d.isoformat()},{n}")


@app.command("settle")
def settle_cmd(
    day: Annotated[str | None, typer.Option(help="business day (YYYY-MM-DD); default today")] = None,
    publish: Annotated[bool, typer.Option(help="publish the day's NAVs first")] = True,
) -> None:
    """Publish the day's NAVs, credit money-market income and settle the orders due (what close of day does for
    wealth); rerunnable."""
    from smartbank import db
    from smartbank.wealth import service as wealth

    d = date.fromisoformat(day) if day else wealth.trade_date()

    def work(s):
        out = wealth.publish_day(s, d) if publish else {}
        return out | wealth.accrue_income(s, d) | wealth.settle_day(s, d)

    typer.echo(json.dumps({"day": d.isoformat()} | db.run_in_transaction(work)))


def _show(res: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from smartbank.money import format_minor

    console = Console(stderr=True)
    table = Table(title=title)
    for col in ("product", "weight", "amount"):
        table.add_column(col)
    for code, w in sorted(res["weights"].items(), key=lambda kv: -kv[1]):
        table.add_row(code, f"{w:.2%}", format_minor(int(res["amounts"].get(code, 0))))
    console.print(table)
    bt = res.get("backtest")
    if bt and bt.get("sharpe") is not None:
        for label, p in (("plan", ""), ("equal weight", "equal_weight_")):
            console.print(f"{label:>12}: return {bt[p + 'annual_return']:.2%}  "
                          f"vol {bt[p + 'annual_volatility']:.2%}  max drawdown {bt[p + 'max_drawdown']:.2%}  "
                          f"Sharpe {bt[p + 'sharpe']:.2f}")
        if "fees_paid" in bt:
            console.print(f"after fees: {bt['fees_paid']:.2%} of the start paid in subscription and redemption "
                          f"fees (equal weight {bt['equal_weight_fees_paid']:.2%}); total return before fees "
                          f"{bt['gross_total_return']:.2%}, after {bt['total_return']:.2%}")
        console.print(f"out of sample {bt['start']} .. {bt['end']}, {bt['n_refits']} monthly refits")
    else:
        console.print("no backtest: the NAV history is too short")


@robo_app.command("propose")
def propose_cmd(
    customer: Annotated[int, typer.Option("--customer", min=1, help="customer id")],
    amount: Annotated[str, typer.Option("--amount", help="yuan, e.g. 200000 or 200,000.00")],
    horizon: Annotated[int, typer.Option("--horizon", min=1, max=360, help="months")],
) -> None:
    """Propose (and store) a plan for the customer's grade in force (as the system)."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.money import parse_major
    from smartbank.security.service import SYSTEM
    from smartbank.wealth import service as wealth

    try:
        minor = parse_major(amount, "CNY")
        res = db.run_in_transaction(lambda s: wealth.plan_view(s, wealth.propose_plan(
            s, SYSTEM, amount_minor=minor, horizon_months=horizon, customer_id=customer)))
    except SmartbankError as exc:
        raise typer.BadParameter(f"{exc.code}: {exc.message}") from exc
    _show(res, f"Plan {res['id']} for customer {customer} ({res['grade']}, {horizon} months, {res['method']})")
    bt = dict(res["backtest"] or {})
    bt.pop("curve", None)
    out = {k: res[k] for k in ("id", "customer_id", "grade", "horizon_months", "amount_minor", "method", "status",
                               "weights", "amounts", "by_class", "uninvested_minor", "left_out")}
    out["backtest"] = bt or None
    typer.echo(json.dumps(out, default=str))


@robo_app.command("backtest")
def backtest_cmd(
    grade: Annotated[str, typer.Option("--grade", help="C1..C5")],
    horizon: Annotated[int, typer.Option("--horizon", min=1, max=360, help="months")] = 36,
    amount: Annotated[str, typer.Option("--amount", help="yuan (minimum amounts decide what is kept)")]
    = "1000000",
) -> None:
    """The grade's method on today's catalogue: the allocation, and its walk-forward backtest (monthly refits
    on the year before) against equal weight over the same products. Nothing is written."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.money import parse_major
    from smartbank.wealth import service as wealth

    g = grade.strip().upper()
    try:
        minor = parse_major(amount, "CNY")
        res = db.run_in_transaction(lambda s: wealth.propose_plan_for_grade(s, grade=g, horizon_months=horizon,
                                                                    amount_minor=minor))
    except SmartbankError as exc:
        raise typer.BadParameter(f"{exc.code}: {exc.message}") from exc
    _show(res, f"{g}, {horizon} months: {res['method']}")
    bt = dict(res["backtest"] or {})
    bt.pop("curve", None)
    typer.echo(json.dumps({"grade": g, "horizon_months": horizon, "amount_minor": minor, "method": res["method"],
                           "weights": res["weights"], "amounts": res["amounts"], "class_caps": res["class_caps"],
                           "growth_cap": res["growth_cap"], "max_weight": res["max_weight"],
                           "left_out": res["left_out"], "backtest": bt or None}, default=str))
