"""``smartbank marketing opinion ...``: public-opinion monitoring - ingest feed files, list mentions, detect
spikes, and work the alert queue (ack, assign, respond, close, escalate).

Commands act as the system user unless ``--as USER`` names an active staff member (who is then audited and
must hold the permission). The last line of each is one JSON object.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(no_args_is_help=True)

As = Annotated[str | None, typer.Option("--as", help="act as this staff user (default: the system)")]  # noqa: UP007
Note = Annotated[str | None, typer.Option("--note", help="a note kept with the step")]  # noqa: UP007


def _run(database_url: str | None, as_user: str | None, fn: Any) -> Any:
    from smartbank import db
    from smartbank.cli.changes import run_as_staff, staff_principal
    from smartbank.security.service import SYSTEM

    use_database(database_url)

    def work(s: Any) -> Any:
        import smartbank.opinion.service  # noqa: F401 - registers the KRI provider

        return fn(s, staff_principal(s, as_user) if as_user else SYSTEM)

    return run_as_staff(work, engine=db.get_engine(database_url))


@app.command("ingest")
def ingest_cmd(
    file: Annotated[Path, typer.Argument(help="a JSON-lines (.jsonl) or CSV file: id, text, posted_at[, author, url]")],
    source: Annotated[str, typer.Option("--source", help="the feed's name, e.g. weibo")],
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl or csv (default: from the suffix)")] = None,  # noqa: UP007
    as_user: As = None, database_url: DbUrl = None,
) -> None:
    """Ingest a feed file: all rows or none (bad rows are listed with their line numbers); duplicates skipped."""
    from smartbank.opinion import service as opinion

    res = _run(database_url, as_user, lambda s, who: opinion.ingest_file(s, who, file, source=source, fmt=fmt))
    console.print(f"{res['inserted']} new, {res['duplicates']} duplicates, {res['negative']} negative")
    emit(res)


@app.command("mentions")
def mentions_cmd(
    label: Annotated[str | None, typer.Option(help="negative | neutral | positive")] = None,  # noqa: UP007
    topic: Annotated[str | None, typer.Option(help="a topic code, e.g. outage")] = None,  # noqa: UP007
    source: Annotated[str | None, typer.Option(help="a feed's name")] = None,  # noqa: UP007
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_user: As = None, database_url: DbUrl = None,
) -> None:
    """The latest mentions with their sentiment and topics."""
    from smartbank.opinion import service as opinion

    rows = _run(database_url, as_user, lambda s, who: opinion.list_mentions(
        s, who, label=label, topic=topic, source=source, limit=limit))
    for m in rows:
        console.print(f"{m['posted_at'][:16]} {m['source']:<8} {m['sentiment_label']:<8} {m['sentiment']:+.2f} "
                      f"{','.join(m['topics']) or '-':<16} {m['text'][:60]}")
    emit({"mentions": len(rows), "items": rows})


@app.command("detect")
def detect_cmd(
    days: Annotated[int, typer.Option(min=1, max=31, help="test the complete hours of the last N days")] = 1,
    as_user: As = None, database_url: DbUrl = None,
) -> None:
    """Test the last days' complete hours for spikes against the seasonal baseline; raise alerts."""
    from smartbank import clock
    from smartbank.opinion import service as opinion

    end = opinion.hour_floor(clock.now())
    start = end - timedelta(days=days)
    res = _run(database_url, as_user, lambda s, who: opinion.detect_range(s, who, start, end))
    for a in res:
        console.print(f"#{a['id']} {a['bucket_start'][:16]} {a['kind']:<8} {a['severity']:<6} count {a['count']} "
                      f"baseline {a['baseline']} threshold {a['threshold']} p {a['p_value']:.2e}")
    emit({"alerts_raised": len(res), "alerts": res})


@app.command("alerts")
def alerts_cmd(
    status: Annotated[str | None, typer.Option(help="new | acknowledged | assigned | responded | closed")] = None,  # noqa: UP007
    open_only: Annotated[bool, typer.Option("--open", help="only alerts not closed")] = False,
    as_user: As = None, database_url: DbUrl = None,
) -> None:
    """The alert queue."""
    from smartbank.opinion import service as opinion

    rows = _run(database_url, as_user, lambda s, who: opinion.list_alerts(s, who, status=status, open_only=open_only))
    for a in rows:
        late = " LATE" if a["sla"]["ack_breached"] or a["sla"]["respond_breached"] else ""
        console.print(f"#{a['id']} {a['bucket_start'][:16]} {a['kind']:<8} {a['severity']:<6} {a['status']:<12} "
                      f"{a['count']} vs {a['baseline']}{late}")
    emit({"alerts": len(rows), "items": rows})


def _step(step: str, alert_id: int, note: str | None, as_user: str | None, database_url: str | None,
          **kw: Any) -> None:
    from smartbank.opinion import service as opinion

    res = _run(database_url, as_user, lambda s, who: getattr(opinion, step)(s, who, alert_id, note=note, **kw))
    console.print(f"#{res['id']} {res['status']} ({res['severity']})")
    emit(res)


@app.command("ack")
def ack_cmd(alert_id: int, note: Note = None, as_user: As = None, database_url: DbUrl = None) -> None:
    """Acknowledge an alert."""
    _step("acknowledge", alert_id, note, as_user, database_url)


@app.command("assign")
def assign_cmd(alert_id: int, assignee: Annotated[str, typer.Argument(help="who handles it")], note: Note = None,
               as_user: As = None, database_url: DbUrl = None) -> None:
    """Assign an acknowledged alert to someone."""
    from smartbank.opinion import service as opinion

    res = _run(database_url, as_user, lambda s, who: opinion.assign(s, who, alert_id, assignee, note=note))
    console.print(f"#{res['id']} {res['status']} -> {res['assignee']}")
    emit(res)


@app.command("respond")
def respond_cmd(alert_id: int, note: Annotated[str, typer.Option("--note", help="what was done")],
                as_user: As = None, database_url: DbUrl = None) -> None:
    """Record the response to an assigned alert."""
    _step("respond", alert_id, note, as_user, database_url)


@app.command("close")
def close_cmd(alert_id: int, note: Note = None, as_user: As = None, database_url: DbUrl = None) -> None:
    """Close an alert (one not responded to needs a note)."""
    _step("close", alert_id, note, as_user, database_url)


@app.command("escalate")
def escalate_cmd(alert_id: int, note: Note = None, as_user: As = None, database_url: DbUrl = None) -> None:
    """Escalate an open alert: its severity goes up one level and its deadlines tighten."""
    _step("escalate", alert_id, note, as_user, database_url)


