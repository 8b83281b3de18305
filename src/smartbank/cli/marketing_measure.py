"""``smartbank marketing report ...``: attribution and ROI. Commands act as the system user; the last line of each
is one JSON object."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from smartbank.cli.common import DbUrl, emit, json_safe

app = typer.Typer(no_args_is_help=True)


def _yuan(minor: int | None) -> str:
    from smartbank import money

    return "-" if minor is None else money.format_minor(int(minor), "CNY")


@app.command("attribute")
def report_attribute(campaign: Annotated[str | None, typer.Option("--campaign", help="a campaign's code "
                                                                  "(default: every measured campaign)")] = None,
                     database_url: DbUrl = None) -> None:
    """Find the conversions of the campaigns in the bank's records now (the worker does it every run)."""
    from sqlalchemy import select

    from smartbank import db
    from smartbank.errors import NotFound
    from smartbank.marketing import service as marketing

    def work(s: Any) -> dict[str, Any]:
        if not campaign:
            return marketing.find_all_conversions(s)
        cid = s.scalars(select(marketing.Campaign.id).where(marketing.Campaign.code == campaign)).first()
        if cid is None:
            raise NotFound("campaign not found", reason="marketing.report_campaign_code",
                           details={"code": campaign})
        return marketing.find_conversions(s, cid)

    emit(_emit_or_refuse(lambda: db.run_in_transaction(work, engine=db.get_engine(database_url))))


def _emit_or_refuse(fn: Any) -> Any:
    """Run ``fn``; a refusal is printed and ends the command with status 2 (its JSON as the last line)."""
    from smartbank.errors import SmartbankError

    try:
        return fn()
    except SmartbankError as exc:
        typer.echo(f"error: {exc}", err=True)
        emit({"error": exc.reason, "message": str(exc), "details": exc.details})
        raise typer.Exit(2) from None


@app.command("roi")
def report_roi(campaign: Annotated[str | None, typer.Option("--campaign", help="one campaign's code")] = None,
               by: Annotated[str, typer.Option("--by", help="campaign | arm | channel | segment")] = "campaign",
               goal: Annotated[str | None, typer.Option("--goal", help="only the campaigns of this goal")] = None,
               database_url: DbUrl = None) -> None:
    """Conversions, incremental conversions and margin over the holdout's baseline, cost and ROI: a table, then
    the rows as the last line's JSON. Money in yuan in the table, exact integers (fen; cost in 1e-6 yuan) in the
    JSON."""
    from smartbank import db
    from smartbank.marketing import service as marketing
    from smartbank.security.service import SYSTEM

    rows = _emit_or_refuse(lambda: db.run_in_transaction(
        lambda s: marketing.roi_report(s, SYSTEM, campaign=campaign, by=by, goal=goal),
        engine=db.get_engine(database_url)))
    head = f"{'campaign':<14} {by if by != 'campaign' else 'goal':<18} {'cust':>6} {'hold':>5} {'conv':>5} " \
           f"{'incr':>7} {'incr margin':>14} {'cost':>12} {'ROI':>9}"
    print(head)
    for r in rows:
        key = r["goal"] if by == "campaign" else str(r["key"])
        roi = "-" if r["roi"] is None else f"{r['roi']:.2f}"
        print(f"{r['code']:<14} {key[:18]:<18} {r['customers']:>6} {r['holdout_customers']:>5} "
              f"{r['conversions']:>5} {r['incremental_conversions']:>7.2f} "
              f"{_yuan(r['incremental_margin_minor']):>14} {_yuan(r['cost_minor']):>12} {roi:>9}")
    emit(json_safe({"by": by, "rows": [{k: v for k, v in r.items() if k not in ("name_zh", "funnel")}
                                       for r in rows]}))
