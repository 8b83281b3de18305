"""Campaigns for the demo bank: a share of the customers opted in to in-app marketing (the way a customer does,
in the app), and two campaigns - one approved by a second person and run (a weekly wealth offer, arms A/B and a
10% holdout, chosen by the wealth propensity), one submitted and waiting for approval - made through the same
services as the console, so the console, the API and the command line show real figures.

``seed_campaigns(engine, maker="marketer", approver="admin")`` after the bank, its sign-ins and its profiles.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from smartbank import clock, db
from smartbank.customers import service as customers
from smartbank.marketing import service as marketing
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["seed_campaigns"]


def _content(zh_title: str, zh_body: str, en_title: str, en_body: str) -> dict[str, Any]:
    return {"zh": {"title": zh_title, "body": zh_body}, "en": {"title": en_title, "body": en_body}}


def _specs() -> list[dict[str, Any]]:
    start = clock.now().astimezone(clock.BANK_TZ).replace(hour=9, minute=0, second=0, microsecond=0)
    return [
        {"code": "WEALTH-STEADY", "name_zh": "稳健理财周推荐", "name_en": "Weekly steady wealth offer",
         "audience": {"model": {"name": "propensity_wealth", "min_score": 0.3}}, "channels": ["inapp", "sms"],
         "arms": [{"code": "A", "weight": 1, "content": _content(
                      "稳健理财", "{first_name}您好，稳健理财新品上线，低波动、按日计息。",
                      "Steady returns", "Hello {name}, a new low-volatility fund is out.")},
                  {"code": "B", "weight": 1, "content": _content(
                      "为您推荐", "{name}，这款理财适合{segment}客户，点此了解。",
                      "For you", "{name}, a fund for {segment} customers: tap to see it.")}],
         "holdout_bp": 1000, "goal": "wealth_purchase", "goal_window_days": 14,
         "schedule": {"kind": "recurring", "start_at": (start - timedelta(days=1)).isoformat(), "every_days": 7}},
        {"code": "LOAN-SPRING", "name_zh": "春季消费贷", "name_en": "Spring personal loan",
         "audience": {"expression": "age >= 25", "model": {"name": "propensity_loan", "min_score": 0.4}},
         "channels": ["inapp"],
         "arms": [{"code": "A", "weight": 1, "content": _content(
             "春季消费贷", "{first_name}您好，春季消费贷利率优惠中。", "Spring loan",
             "Hello {name}, our spring personal loan has a lower rate.")}],
         "holdout_bp": 2000, "goal": "loan_application", "goal_window_days": 30,
         "schedule": {"kind": "once", "start_at": (start + timedelta(days=3)).isoformat()}},
    ]


def _staff(session: Any, username: str) -> Principal:
    user = security.find_user_by_name(session, username)
    if user is None:
        raise LookupError(f"no user {username!r}")
    return security.principal_of(user)


def seed_campaigns(engine: Engine, *, maker: str = "marketer", approver: str = "admin",
                   opt_in_share: float = 0.4, seed: int = 42) -> dict[str, Any]:
    """Opt ``opt_in_share`` of the individual customers in to in-app marketing, then make, approve and run
    the weekly wealth campaign and submit the loan campaign. Returns what it did. Run once (a campaign
    code exists: nothing is made again)."""
    rng = random.Random(seed)
    with db.session_scope(engine) as s:
        ids = [int(i) for i in s.scalars(select(customers.Customer.id).where(
            customers.Customer.kind == "individual", customers.Customer.status == "active")
            .order_by(customers.Customer.id))]
        opted = 0
        for cid in ids:
            if rng.random() < opt_in_share:
                who = Principal(user_id=0, username=f"customer-{cid}", role="customer", customer_id=cid)
                customers.set_consent(s, who, cid, purpose="marketing_push", granted=True, given_via="app")
                opted += 1
    out: dict[str, Any] = {"opted_in": opted, "campaigns": []}
    for spec in _specs():
        with db.session_scope(engine) as s:
            if s.scalar(select(marketing.Campaign.id).where(marketing.Campaign.code == spec["code"])):
                continue
            m, a = _staff(s, maker), _staff(s, approver)
            c = marketing.create_campaign(s, m, spec)
            marketing.submit_campaign(s, m, c["id"])
            if spec["code"] == "WEALTH-STEADY":
                marketing.approve_campaign(s, a, c["id"], note="demo")
                run = marketing.run_campaign(s, c["id"])
                out["campaigns"].append({"code": c["code"], **{k: run.get(k, 0) for k in
                                                                ("in_audience", "assigned", "sent", "holdout")}})
            else:
                out["campaigns"].append({"code": c["code"], "status": "submitted"})
    return out
