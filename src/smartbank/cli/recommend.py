"""``smartbank recommend ...``: sync items, back-fill feedback, train, show a list, report. Commands act as the
system user; the last line of each is one JSON object."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, emit

app = typer.Typer(help="Recommendation: items, events, training, serving.", no_args_is_help=True)


@app.command("sync")
def rec_sync(database_url: DbUrl = None) -> None:
    """Copy the wealth and loan catalogues into rec_items and back-fill holdings and purchase orders."""
    from smartbank import db
    from smartbank.recommend import service as recommend
    from smartbank.security.service import SYSTEM

    def work(s):
        return {"items": recommend.sync_items(s, SYSTEM), "feedback": recommend.sync_wealth(s, SYSTEM)}

    emit(db.run_in_transaction(work, engine=db.get_engine(database_url)))


@app.command("train")
def rec_train(database_url: DbUrl = None) -> None:
    """Sync, then refit the item-item model (EASE) on all feedback and save it to the model registry;
    serving processes load it within seconds."""
    from smartbank import db
    from smartbank.recommend import service as recommend

    res = recommend.train(db.get_engine(database_url))
    print(f"recommend: {res.get('customers', 0)} customers x {res.get('items', 0)} items, "
          f"{res.get('interactions', 0)} interactions; model {res.get('model_version', '-')}",
          file=sys.stderr)
    emit(res)


@app.command("show")
def rec_show(customer_id: Annotated[int, typer.Option("--customer", min=1, help="the customer's id")],
             slot: str = "cli", n: Annotated[int, typer.Option(min=1, max=50)] = 10,
             database_url: DbUrl = None) -> None:
    """A customer's list as the portal would serve it (recorded like any served list)."""
    from smartbank import db
    from smartbank.recommend import service
    from smartbank.security.service import Principal

    actor = Principal(user_id=0, username="system", role="customer", customer_id=customer_id)
    out = db.run_in_transaction(lambda s: service.recommend(s, actor, slot=slot, n=n),
                                engine=db.get_engine(database_url))
    for it in out["items"]:
        print(f"{it['rank']:>2} {it['item_key']:<24} {it['score']:.3f}  {it['reason']['en']}")
    emit(out)


@app.command("report")
def rec_report(date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
               date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
               database_url: DbUrl = None) -> None:
    """Click-through and conversion per slot and per model version."""
    from smartbank import db
    from smartbank.recommend import service as recommend
    from smartbank.security.service import SYSTEM

    d0 = date.fromisoformat(date_from) if date_from else None
    d1 = date.fromisoformat(date_to) if date_to else None
    out = db.run_in_transaction(lambda s: recommend.report(s, SYSTEM, date_from=d0, date_to=d1),
                                engine=db.get_engine(database_url))
    for r in out["by_slot_model"]:
        print(f"{r['slot']:<16} {r['model_version']:<40} impressions {r['impressions']:>7} "
              f"ctr {r['ctr'] if r['ctr'] is not None else '-'} conv {r['conversion_rate'] or '-'}")
    emit(out)
