"""A demo public-opinion feed: mentions of the bank over the last weeks with a daily and weekly rhythm, and a
negative spike (a rumour of an outage) a few hours ago that the detector finds.

``seed_opinion(engine)`` writes the feed through the opinion service's ingest (so every mention is understood as
a real one: terms, sentiment, topics), then runs the spike detection over the last week. Deterministic for a
given seed and clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from smartbank import clock, db
from smartbank.opinion import service as opinion
from smartbank.security.service import SYSTEM

__all__ = ["seed_opinion"]

POSITIVE = ("智慧银行的客服态度很好，问题很快解决了", "智慧银行手机银行转账很方便，点赞",
            "在智慧银行买的理财收益不错，满意", "智慧银行柜员很耐心，服务周到", "智慧银行的新版手机银行好用多了")
NEUTRAL = ("智慧银行今天发布了新的存款利率", "请问智慧银行周末营业吗", "智慧银行的信用卡怎么申请",
           "路过智慧银行门口排队的人挺多")
NEGATIVE = ("智慧银行的手续费太高了，乱收费，很不满", "智慧银行客服态度太差，爱答不理", "智慧银行理财亏了不少，很失望",
            "接到冒充智慧银行的诈骗电话，大家小心", "智慧银行排队一个小时，效率太低，太差了")
OUTAGE = ("智慧银行手机银行崩了，登不上，太差了！", "智慧银行系统故障，转不了账，急死了",
          "智慧银行又宕机了？工资取不出来，太坑了", "听说智慧银行系统出大问题了，钱还安全吗？很担心",
          "智慧银行打不开，转账失败，什么破银行")
OTHER = ("今天天气不错", "周末去哪里玩", "这家餐厅的菜很好吃")


def _rate(hour_local: int, weekday: int) -> float:
    base = 2.5 if 9 <= hour_local < 22 else 0.4
    return base * (0.6 if weekday >= 5 else 1.0)


def seed_opinion(engine: Engine | None = None, *, weeks: int = 5, seed: int = 7, spike_hours_ago: int = 3,
                 spike: int = 30, source: str = "demo_feed") -> dict[str, Any]:
    """Write the demo feed and detect spikes over the last week; returns what was written and raised."""
    rng = np.random.default_rng(seed)
    end = opinion.hour_floor(clock.now())
    spike_at = end - timedelta(hours=spike_hours_ago)
    hour = end - timedelta(weeks=weeks)
    rows: list[tuple[int, dict[str, Any]]] = []
    while hour < end:
        local = hour.astimezone(clock.BANK_TZ)
        k = int(rng.poisson(_rate(local.hour, local.weekday())))
        texts = []
        for _ in range(k):
            u = rng.random()
            pool = POSITIVE if u < 0.35 else NEUTRAL if u < 0.75 else NEGATIVE if u < 0.92 else OTHER
            texts.append(pool[int(rng.integers(len(pool)))])
        if hour == spike_at:
            texts += [OUTAGE[int(rng.integers(len(OUTAGE)))] for _ in range(spike)]
        for j, text in enumerate(texts):
            at = hour + timedelta(minutes=int(rng.integers(60)), seconds=int(rng.integers(60)))
            rows.append((len(rows) + 1, {"external_id": f"{seed}-{hour:%Y%m%d%H}-{j}", "text": text, "posted_at": at,
                                         "author": None, "url": None}))
        hour += timedelta(hours=1)
    engine = engine or db.get_engine()

    def work(s: Any) -> dict[str, Any]:
        opinion.seed_understanding(s)
        res = opinion.ingest_rows(s, SYSTEM, source, rows)
        raised = opinion.detect(s, end - timedelta(days=7), end)
        return {"mentions": res["inserted"], "duplicates": res["duplicates"], "negative": res["negative"],
                "alerts": [{"id": a.id, "kind": a.kind, "hour": a.bucket_start.isoformat(), "severity": a.severity,
                            "count": a.count, "baseline": a.baseline} for a in raised]}

    return db.run_in_transaction(work, engine=engine)
