"""Arranging campaigns for the tests: customers with profiles (segment, age, propensity) and consents."""

from __future__ import annotations

from typing import Any

from smartbank import clock, db
from smartbank.customers.models import ConsentRecord
from smartbank.insight.models import CustomerProfile
from smartbank.security import service as security
from smartbank.security.service import Principal

_D = "一二三四五六七八九十"
_G = "甲乙丙丁戊己庚辛壬癸"


def principal(session, username: str, role: str = "marketer") -> Principal:
    u = security.create_user(session, username=username, password="passw0rd!x", role=role)
    session.flush()
    return Principal(user_id=u.id, username=u.username, role=u.role, customer_id=None)


def arrange(bank, n: int = 12, *, consent_every: int = 1, channel: str = "push") -> list[int]:
    """``n`` customers with profiles: ages 20.., segment S1 for even, S2 for odd, propensity wealth i/n; every
    ``consent_every``-th consents to marketing on ``channel`` (0: none does)."""
    ids = [bank.customer(f"张{_D[i % 10]}{_G[i // 10 % 10]}") for i in range(n)]
    with db.session_scope(bank.engine) as s:
        for i, cid in enumerate(ids):
            s.add(CustomerProfile(customer_id=cid, as_of=clock.today(), computed_at=clock.now(),
                                  features={"age": 20 + i, "txn_count_90d": i},
                                  segment="S1" if i % 2 == 0 else "S2",
                                  propensity={"wealth": {"score": round(i / n, 4), "method": "rules"},
                                              "loan": {"score": 0.5, "method": "rules"},
                                              "savings": {"score": 0.1, "method": "rules"}},
                                  model_versions={"propensity": "rules-1"}))
            if consent_every and i % consent_every == 0:
                s.add(ConsentRecord(customer_id=cid, purpose=f"marketing_{channel}", granted=True,
                                    notice_version="2026-12", given_via="app", recorded_role="customer",
                                    at=clock.now()))
    return ids


def spec(code: str = "WEALTH1", **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": code, "name_zh": "理财推荐", "name_en": "Wealth offer",
        "audience": {"expression": "age >= 20"}, "channels": ["inapp", "sms"],
        "arms": [{"code": "A", "weight": 1, "content": {"zh": {"title": "新品", "body": "{first_name}您好，新理财上线"},
                                                        "en": {"title": "New", "body": "Hello {name}, a new fund"}}},
                 {"code": "B", "weight": 1, "content": {"zh": {"title": "推荐", "body": "{name}，为您推荐"},
                                                        "en": {"title": "For you", "body": "{name}, for you"}}}],
        "holdout_bp": 1000,
        "schedule": {"kind": "once", "start_at": clock.now().isoformat()},
        "goal": "wealth_purchase", "goal_window_days": 14,
    }
    out.update(over)
    return out
