"""``smartbank assistant ...``: the assistant's language models (train-sentiment, train-intents), one chat
turn, the hand-off queue, analytics, and ``smartbank assistant faq seed|list|test`` (as the system)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="The assistant: language models, FAQ knowledge base, conversations.", no_args_is_help=True)
faq_app = typer.Typer(help="The assistant's knowledge base.", no_args_is_help=True)
app.add_typer(faq_app, name="faq")

_db_url = typer.Option(None, "--database-url", envvar="SMARTBANK_DATABASE_URL", help="the database")


def _run(fn: Any, database_url: str | None) -> Any:
    from smartbank import db

    return db.run_in_transaction(fn, engine=db.get_engine(database_url))


@app.command("train-sentiment")
def train_sentiment(
    train: Annotated[list[Path] | None, typer.Option(  # noqa: UP007
        "--train", help="labelled file(s), ChnSentiCorp TSV or SophonPlus CSV (default: the four Chinese "
                        "review sets under datasets_dir, ChnSentiCorp first)")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="registry folder (default: model_dir)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the validation split")] = 0,
) -> None:
    """Fit the assistant's Chinese sentiment model and save it; the last line is one JSON object."""
    from rich.console import Console

    from smartbank.assistant.service import train_sentiment as train_and_save
    from smartbank.config import get_settings
    from smartbank.errors import SmartbankError

    defaults = ("chnsenticorp/train.tsv", "chnsenticorp_htl/ChnSentiCorp_htl_all.csv",
                "waimai_10k/waimai_10k.csv", "online_shopping_10_cats/online_shopping_10_cats.csv")
    console = Console(stderr=True)
    files = list(train or [])
    if not files:
        root = Path(get_settings().datasets_dir)
        files = [root / f for f in defaults if (root / f).is_file()]
        if not files:
            console.print(f"[red]no training file given and none of {', '.join(defaults)} "
                          f"under {root}[/]")
            raise typer.Exit(2)
    try:
        with console.status(f"fitting on {len(files)} file(s)"):
            res = train_and_save(files, model_dir=model_dir, seed=seed)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    console.print(f"saved {res['model']} {res['version']} ({res['n_train']:,} texts, C={res['C']:g}, "
                  f"{res['train_seconds']:.1f} s) in {res['path']}")
    print(json.dumps(res))


@app.command("train-intents")
def train_intents() -> None:
    """Fit the assistant's intent classifier on its training utterances and save it in the model registry."""
    from smartbank.assistant import service as assistant

    print(json.dumps(assistant.train_intents()))


@app.command("chat")
def chat(text: str = typer.Argument(..., help="the customer's message"),
         customer: int = typer.Option(..., "--customer", help="customer id"),
         conversation: int | None = typer.Option(None, "--conversation", help="continue a conversation")
         ) -> None:
    """One turn as the customer (acting as their first user): prints the assistant's replies."""
    from smartbank import db
    from smartbank.assistant import service
    from smartbank.security import service as security
    from smartbank.security.service import Principal

    def work(s):  # type: ignore[no-untyped-def]
        u = security.user_of_customer(s, customer)
        if u is None:
            raise typer.BadParameter(f"customer {customer} has no user")
        actor = Principal(user_id=u.id, username=u.username, role=u.role, customer_id=customer)
        return service.send(s, actor, text=text, conversation_id=conversation, channel="api")

    res = db.run_in_transaction(work)
    for r in res["replies"]:
        print(r["text"])
    print(f"[conversation {res['conversation_id']} · {res['status']} · {res['intent']} "
          f"{res['confidence']}]")


@app.command("queue")
def queue_cmd(status: str = typer.Option("waiting", "--status", help="waiting, assigned or closed"),
              database_url: str | None = _db_url) -> None:
    """The agents' hand-off queue; the last line is JSON (counts per tab)."""
    from smartbank.assistant import service as assistant
    from smartbank.security.service import SYSTEM

    items, counts = _run(lambda s: (assistant.handoff_queue(s, SYSTEM, status=status),
                                    assistant.handoff_counts(s, SYSTEM)), database_url)
    for i in items:
        left = i["sla_seconds_left"]
        sla = "" if left is None else (f"overdue {-left // 60} min" if left < 0 else f"{left // 60} min left")
        print(f"#{i['conversation_id']} P{i['priority']} {i['status']:<8} {i['reason']:<13} "
              f"{i['intent'] or '-':<16} {i['customer']['name'] or i['customer_id']} {sla}")
    print(json.dumps(counts))


@app.command("analytics")
def analytics_cmd(start: str | None = typer.Option(None, "--start", help="YYYY-MM-DD (default: 30 days ago)"),
                  end: str | None = typer.Option(None, "--end", help="YYYY-MM-DD (default: today)"),
                  database_url: str | None = _db_url) -> None:
    """Containment, intents, hand-off reasons, sentiment, satisfaction and SLA; the last line is JSON."""
    from smartbank.assistant import service as assistant
    from smartbank.security.service import SYSTEM

    try:
        d0 = date.fromisoformat(start) if start else None
        d1 = date.fromisoformat(end) if end else None
    except ValueError as exc:
        raise typer.BadParameter("dates are YYYY-MM-DD") from exc
    res = _run(lambda s: assistant.analytics_summary(s, SYSTEM, start=d0, end=d1), database_url)
    rate = res["containment_rate"]
    print(f"{res['start']} .. {res['end']}: {res['conversations']} conversations, {res['handed_off']} handed off"
          + ("" if rate is None else f", containment {rate:.1%}"))
    print(json.dumps(res))


@faq_app.command("seed")
def faq_seed_cmd(database_url: str | None = _db_url) -> None:
    """Add the starting questions that are not there yet; the last line is JSON."""
    from smartbank.assistant import service as assistant
    from smartbank.security.service import SYSTEM

    print(json.dumps(_run(lambda s: assistant.seed_faq(s, SYSTEM), database_url)))


@faq_app.command("list")
def faq_list(all_: bool = typer.Option(False, "--all", help="include deactivated entries"),
             database_url: str | None = _db_url) -> None:
    """The entries: id, category, version, Chinese and English question."""
    from smartbank.assistant import service as assistant
    from smartbank.security.service import SYSTEM

    items = _run(lambda s: assistant.list_faq_entries(s, SYSTEM, include_inactive=all_), database_url)
    for e in items:
        mark = "" if e["active"] else " (inactive)"
        print(f"{e['id']:>5} {e['category']:<9} v{e['version']} {e['question_zh']} | {e['question_en']}{mark}")
    print(json.dumps({"entries": len(items)}))


@faq_app.command("test")
def faq_test(question: str = typer.Argument(..., help="a customer's question"),
             language: str = typer.Option("zh", "--language", help="zh or en"),
             database_url: str | None = _db_url) -> None:
    """What the assistant would answer, with the best candidates; the last line is JSON."""
    from smartbank.assistant import service as assistant
    from smartbank.security.service import SYSTEM

    res = _run(lambda s: assistant.explain_faq_match(s, SYSTEM, question, language=language), database_url)
    for c in res["candidates"]:
        print(f"{c['score']:.3f} #{c['entry_id']} {c['question']}")
    m = res["match"]
    print(m["answer"] if m else f"(no entry reaches the threshold {res['threshold']})")
    print(json.dumps(res, ensure_ascii=False))
