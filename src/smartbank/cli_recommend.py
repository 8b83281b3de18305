"""``smartbank recommend ...`` (sync items, back-fill feedback, train, show a list, report) and
``smartbank bench recommend``. Commands act as the system user; the last line of each is one JSON object."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

# as smartbank.cli.DbUrl (defined here too: typer reads the annotations from this module's globals)
DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                           help="defaults to SMARTBANK_DATABASE_URL")]


def _emit(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def register(app: typer.Typer, group: typer.Typer, bench_app: typer.Typer) -> None:
    @group.command("sync")
    def rec_sync(database_url: DbUrl = None) -> None:
        """Copy the wealth and loan catalogues into rec_items and back-fill holdings and purchase orders."""
        from smartbank import db
        from smartbank.recommend import events, items
        from smartbank.security.service import SYSTEM

        def work(s):
            return {"items": items.sync_items(s, SYSTEM), "feedback": events.sync_wealth(s, SYSTEM)}

        _emit(db.run_in_transaction(work, engine=db.get_engine(database_url)))

    @group.command("train")
    def rec_train(database_url: DbUrl = None) -> None:
        """Sync, then refit the item-item model (EASE) on all feedback and save it to the model registry;
        serving processes load it within seconds."""
        from smartbank import db
        from smartbank.recommend import engine as rec_engine

        res = rec_engine.train(db.get_engine(database_url))
        print(f"recommend: {res.get('customers', 0)} customers x {res.get('items', 0)} items, "
              f"{res.get('interactions', 0)} interactions; model {res.get('model_version', '-')}",
              file=__import__("sys").stderr)
        _emit(res)

    @group.command("show")
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
        _emit(out)

    @group.command("report")
    def rec_report(date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
                   date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
                   database_url: DbUrl = None) -> None:
        """Click-through and conversion per slot and per model version."""
        from smartbank import db
        from smartbank.recommend import report
        from smartbank.security.service import SYSTEM

        d0 = date.fromisoformat(date_from) if date_from else None
        d1 = date.fromisoformat(date_to) if date_to else None
        out = db.run_in_transaction(lambda s: report.report(s, SYSTEM, date_from=d0, date_to=d1),
                                    engine=db.get_engine(database_url))
        for r in out["by_slot_model"]:
            print(f"{r['slot']:<16} {r['model_version']:<40} impressions {r['impressions']:>7} "
                  f"ctr {r['ctr'] if r['ctr'] is not None else '-'} conv {r['conversion_rate'] or '-'}")
        _emit(out)

    @bench_app.command("recommend")
    def bench_recommend(
        database_url: DbUrl = None,
        customers: Annotated[int, typer.Option(min=10)] = 10_000,
        items: Annotated[int, typer.Option(min=5)] = 300,
        requests: Annotated[int, typer.Option(min=10)] = 2000,
    ) -> None:
        """Top-10 for one customer through the service (ranking, filters, reasons, recording, commit);
        a temporary SQLite bank unless a database is given. Last line: JSON with p50_ms, p95_ms, p99_ms."""
        import sys

        from smartbank.bench import recommend as br

        res = br.run(database_url, customers=customers, items=items, requests=requests)
        print(f"recommend: {res['requests']} lists, p50 {res['p50_ms']} ms, p95 {res['p95_ms']} ms, "
              f"p99 {res['p99_ms']} ms ({res['database']}, {res['customers']} customers, {res['items']} items)",
              file=sys.stderr)
        _emit(res)
