"""``smartbank wealth robo propose`` (a plan for a customer, written) and ``smartbank wealth robo backtest`` (what
the method allocates for a grade and horizon on today's catalogue, and its backtest against equal weight; nothing
written). Figures go to stderr; the last line printed is one JSON object."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer


def register(app: typer.Typer, group: typer.Typer, bench_app: typer.Typer) -> None:
    robo_app = typer.Typer(help="Robo-advice: optimised plans per grade and horizon, backtests, drift.",
                           no_args_is_help=True)
    group.add_typer(robo_app, name="robo")

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
        from smartbank.wealth import robo

        try:
            minor = parse_major(amount, "CNY")
            res = db.run_in_transaction(lambda s: robo.plan_view(s, robo.propose(
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
        from smartbank.wealth import robo

        g = grade.strip().upper()
        try:
            minor = parse_major(amount, "CNY")
            res = db.run_in_transaction(lambda s: robo.propose_for_grade(s, grade=g, horizon_months=horizon,
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
