"""Ingest: JSON lines and CSV, bad rows with their line numbers and nothing written, deduplication, the webhook
signature, and what is understood of each mention."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from smartbank.errors import Forbidden, NotAuthenticated, ValidationFailed
from smartbank.opinion import service as opinion
from smartbank.opinion.models import Mention
from tests.opinion.support import MARKETER, OFFICER, TELLER


def _count(session) -> int:
    return session.execute(select(func.count(Mention.id))).scalar()


def _jsonl(rows) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


ROWS = [
    {"id": "w1", "text": "智慧银行手机银行又崩了，登不上，太差了！", "posted_at": "2026-11-24T09:10:00+08:00"},
    {"id": "w2", "text": "智慧银行的客服态度很好，点赞", "posted_at": "2026-11-24T09:20:00+08:00", "author": "a"},
    {"id": "w3", "text": "今天天气不错", "posted_at": "2026-11-24T09:30:00"},
    {"id": "w4", "text": "SmartBank charged me a fee twice, terrible service", "posted_at": "2026-11-24T01:40:00Z"},
]


def test_jsonl_and_csv_ingest_understand_and_dedupe(session, tmp_path):
    opinion.seed_understanding(session)
    f = tmp_path / "feed.jsonl"
    f.write_text(_jsonl(ROWS), encoding="utf-8")
    res = opinion.ingest_file(session, MARKETER, f, source="weibo")
    assert (res["read"], res["inserted"], res["duplicates"], res["format"]) == (4, 4, 0, "jsonl")
    by = {m.external_id: m for m in session.scalars(select(Mention))}
    assert by["w1"].relevant and "智慧银行" in by["w1"].terms and by["w1"].sentiment_label == "negative"
    assert "outage" in by["w1"].topics and by["w1"].language == "zh" and by["w1"].model_version
    assert by["w2"].sentiment_label == "positive" and "service_attitude" in by["w2"].topics
    assert not by["w3"].relevant and by["w3"].terms == []
    assert by["w4"].language == "en" and "fees" in by["w4"].topics and by["w4"].relevant
    assert by["w4"].sentiment_label == "negative"
    # again: every row is a duplicate
    again = opinion.ingest_file(session, MARKETER, f, source="weibo")
    assert (again["inserted"], again["duplicates"]) == (0, 4) and _count(session) == 4
    # the same ids from another source are other mentions; CSV, with a repeated row in the file
    c = tmp_path / "feed.csv"
    c.write_text("id,text,posted_at,author\nw1,智慧银行收费太高,2026-11-24T10:00:00+08:00,x\n"
                 "w1,智慧银行收费太高,2026-11-24T10:00:00+08:00,x\n"
                 "w9,\"智慧银行, 好\",2026-11-24T10:05:00+08:00,\n", encoding="utf-8")
    res = opinion.ingest_file(session, MARKETER, c, source="news")
    assert (res["read"], res["inserted"], res["duplicates"], res["format"]) == (3, 2, 1, "csv")
    assert _count(session) == 6


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_bad_rows_are_reported_by_line_and_nothing_is_written(session, tmp_path, fmt):
    if fmt == "jsonl":
        text = (_jsonl(ROWS[:1]) + "{not json\n" + json.dumps({"id": "x", "posted_at": "2026-11-24T09:00:00"})
                + "\n" + json.dumps({"id": "y", "text": "t", "posted_at": "yesterday"}) + "\n")
        bad = [2, 3, 4]
    else:
        text = ("id,text,posted_at\nok,智慧银行,2026-11-24T09:00:00\n,no id,2026-11-24T09:00:00\n"
                "z,text,not a time\nq,,2026-11-24T09:00:00\n")
        bad = [3, 4, 5]
    f = tmp_path / f"bad.{fmt}"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        opinion.ingest_file(session, MARKETER, f, source="feed")
    assert e.value.reason == "opinion.bad_rows"
    assert [x["line"] for x in e.value.details["errors"]] == bad
    assert _count(session) == 0


def test_bad_source_unreadable_file_and_wrong_role(session, tmp_path):
    f = tmp_path / "f.jsonl"
    f.write_text(_jsonl(ROWS[:1]), encoding="utf-8")
    with pytest.raises(ValidationFailed):
        opinion.ingest_file(session, MARKETER, f, source="bad source!")
    with pytest.raises(ValidationFailed):
        opinion.ingest_file(session, MARKETER, tmp_path / "missing.jsonl", source="feed")
    for who in (OFFICER, TELLER):  # risk officers read and respond, they do not ingest
        with pytest.raises(Forbidden):
            opinion.ingest_file(session, who, f, source="feed")
    assert _count(session) == 0


def test_webhook_signature(session):
    body = json.dumps({"source": "hook", "mentions": ROWS[:2]}).encode()
    secret = "s3cret"
    for sig, key in ((None, secret), ("sha256=" + "0" * 64, secret), (opinion.sign(body, "other"), secret),
                     (opinion.sign(body, secret), None), (opinion.sign(body + b" ", secret), secret)):
        with pytest.raises(NotAuthenticated):
            opinion.ingest_webhook(session, body, sig, key)
    assert _count(session) == 0
    res = opinion.ingest_webhook(session, body, opinion.sign(body, secret), secret)
    assert res["inserted"] == 2 and _count(session) == 2
    bad = json.dumps({"source": "hook", "mentions": [{"id": "z"}]}).encode()
    with pytest.raises(ValidationFailed):
        opinion.ingest_webhook(session, bad, opinion.sign(bad, secret), secret)
    assert _count(session) == 2
