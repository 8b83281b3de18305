"""``smartbank marketing uplift ...``: train a campaign's uplift model, report Qini and AUUC. Commands act as the
system user; the last line of each is one JSON object."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from smartbank.cli.common import DbUrl, emit

app = typer.Typer(no_args_is_help=True)


@app.command("train")
def uplift_train(code: Annotated[str, typer.Option("--campaign", help="the campaign's code")],
                 seed: Annotated[int, typer.Option(help="seed of the split and the model")] = 0,
                 database_url: DbUrl = None) -> None:
    """Fit the campaign's uplift model on its assignments (contacted arms vs holdout) and conversions, measure
    it on a held-out 30%, save it to the model registry."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.marketing import service as marketing
    from smartbank.security.service import SYSTEM

    try:
        res = db.run_in_transaction(lambda s: marketing.train_campaign_uplift(s, SYSTEM, code, seed=seed),
                                    engine=db.get_engine(database_url))
    except SmartbankError as exc:
        print(f"{exc.message}: {exc.details}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(f"{res['model']} {res['version']}: {res['customers']} customers ({res['treated']} contacted, "
          f"{res['holdout']} holdout, {res['conversions']} conversions); validation Qini {res['qini']:.4f} "
          f"AUUC {res['auuc']:.4f}", file=sys.stderr)
    emit(res)


@app.command("report")
def uplift_report(code: Annotated[str | None, typer.Option("--campaign", help="one campaign (default: all)")]  # noqa: UP007
                  = None, database_url: DbUrl = None) -> None:
    """Qini and AUUC of every campaign's latest uplift model, or one campaign's with its Qini curve."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.marketing import service as marketing
    from smartbank.security.service import SYSTEM

    out: Any
    try:
        if code:
            out = db.run_in_transaction(lambda s: marketing.uplift_report(s, SYSTEM, code),
                                        engine=db.get_engine(database_url))
            rows: list[dict[str, Any]] = [out]
        else:
            rows = db.run_in_transaction(lambda s: marketing.list_uplift_models(s, SYSTEM),
                                         engine=db.get_engine(database_url))
            out = rows
    except SmartbankError as exc:
        print(f"{exc.message}: {exc.details}", file=sys.stderr)
        raise typer.Exit(2) from None
    for r in rows:
        q, a = r.get("qini"), r.get("auuc")
        print(f"{r['campaign'] or '-':<20} {r['version']:<24} customers {r.get('customers', 0):>7}  "
              f"Qini {q if q is None else round(q, 4)}  AUUC {a if a is None else round(a, 4)}", file=sys.stderr)
    emit(out)
