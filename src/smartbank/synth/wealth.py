"""Wealth customers for the synthetic bank: some customers take the risk-tolerance questionnaire (answers
drawn around a temperament per customer, so grades spread over C1-C5), then buy one to three products
their grade allows, through the same suitability check and order code as the portal, on days in the last
months, each paid from what the account held on that day by value date (never from money that arrived
later); the orders settle day by day at those days' NAVs. The holdings and purchases are the implicit
feedback the recommender learns from."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from smartbank import clock, db
from smartbank.customers.service import Customer
from smartbank.errors import SmartbankError
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth

# what a temperament likes to buy, by asset class (the remaining weight is spread evenly)
TASTES = {
    "cautious": {"cash": 5.0, "bond": 3.0},
    "balanced": {"bond": 3.0, "mixed": 3.0, "cash": 1.5},
    "growth": {"equity": 4.0, "mixed": 2.0, "alternative": 1.0},
}


def _answers(rng: random.Random, questions: list[dict[str, Any]], temperament: str) -> dict[str, int]:
    centre = {"cautious": 0.15, "balanced": 0.5, "growth": 0.85}[temperament]
    out = {}
    for q in questions:
        n = len(q["options"])
        pos = min(0.999, max(0.0, rng.gauss(centre, 0.2)))
        out[q["id"]] = int(pos * n)
    return out


def _assess(session: Any, *, actor: Principal, answers: dict[str, int], at: datetime) -> str:
    """The assessment taken at the branch; the age answer is the one the customer's ID gives (the
    questionnaire refuses any other)."""
    q = wealth.questionnaire_view(wealth.ensure_questionnaire(session))
    answers = wealth.with_age_from_id(session, int(actor.customer_id or 0), q["questions"], answers,
                                             clock.local_date(at))
    return wealth.take_assessment(session, actor, answers, channel="branch", now=at).grade


def seed_wealth_book(engine: Engine, *, customers: int = 60, months: int = 4, seed: int = 42,
                     today: date | None = None, skip_first: int = 2) -> dict[str, Any]:
    """Assess ``customers`` individual customers (after the first ``skip_first``) and place their purchases;
    returns counts by grade, orders placed and refused."""
    rng = random.Random(seed)
    today = today or clock.today()
    first_day = today - timedelta(days=30 * months)

    def candidates(s) -> list[tuple[int, int, int]]:
        rows = s.execute(select(Customer.id, Account.id, Account.credits_posted - Account.debits_posted)
                         .join(Account, Account.customer_id == Customer.id)
                         .where(Customer.kind == "individual", Account.kind == "demand", Account.status == "open",
                                Account.currency == "CNY")
                         .order_by(Customer.id, Account.id)).all()
        seen: dict[int, tuple[int, int, int]] = {}
        for cid, aid, bal in rows:
            seen.setdefault(cid, (cid, aid, int(bal)))
        return list(seen.values())[skip_first:]

    pool = [c for c in db.run_in_transaction(candidates, engine=engine) if c[2] >= 200_000]
    chosen = rng.sample(pool, min(customers, len(pool)))
    catalogue = db.run_in_transaction(lambda s: wealth.list_products(s), engine=engine)
    questions = db.run_in_transaction(lambda s: wealth.questionnaire_view(wealth.ensure_questionnaire(s)),
                                      engine=engine)["questions"]
    grades: dict[str, int] = {}
    placed = refused = 0
    for i, (cid, aid, balance) in enumerate(chosen):
        temperament = rng.choice(tuple(TASTES))
        taken = datetime.combine(first_day + timedelta(days=rng.randrange(10)), time(2), tzinfo=UTC)
        actor = Principal(user_id=0, username=f"customer{cid}", role="customer", customer_id=cid)
        answers = _answers(rng, questions, temperament)
        try:
            grade: str = db.run_in_transaction(partial(_assess, actor=actor, answers=answers, at=taken),
                                               engine=engine)
        except SmartbankError:  # refused (kept on record): this customer does not invest
            continue
        grades[grade] = grades.get(grade, 0) + 1
        allowed = [p for p in catalogue
                   if wealth.check_suitability(grade, p["kind"], p["risk_level"]).outcome == "pass"]
        taste = TASTES[temperament]
        weights = [taste.get(p["asset_class"], 0.5) for p in allowed]
        budget = balance // 2
        for k in range(rng.randint(1, 3)):
            if not allowed or budget < 100_000:
                break
            p = rng.choices(allowed, weights=weights)[0]
            step = max(1, int(p["step_minor"] or 1))
            amount = max(int(p["min_amount_minor"]), min(budget, rng.choice((1, 2, 5, 10, 20)) * 100_000))
            amount = amount // step * step
            if amount > budget or amount <= 0:
                continue
            day = taken.date() + timedelta(days=1 + rng.randrange(max(1, (today - taken.date()).days - 10)))
            at = datetime.combine(day, time(2 + k), tzinfo=UTC)

            def buy(s, p=p, amount=amount, step=step, who=actor, at=at, aid=aid,
                    key=f"synth-wealth:{seed}:{i}:{k}") -> int:
                # paid from what the account held on that day by value date (the history is already written:
                # today's balance may hold money that arrived later), so no statement shows a spent-ahead
                # balance
                room = ledger.spendable(s, ledger.get_account(s, aid), wealth.trade_date(at))
                if room is not None and room < amount:
                    amount = room // step * step
                    if amount < int(p["min_amount_minor"]) or amount <= 0:
                        return 0
                wealth.purchase(s, who, product_code=p["code"], account_id=aid, amount_minor=amount,
                                idempotency_key=key, channel="branch", now=at)
                return amount

            try:
                spent = db.run_in_transaction(buy, engine=engine)
                if spent:
                    placed += 1
                    budget -= spent
                else:
                    refused += 1
            except SmartbankError:  # a refusal (funds, minimums, suitability) is part of the simulation
                refused += 1
    d = first_day
    while d < today:
        db.run_in_transaction(partial(wealth.accrue_income, day=d), engine=engine)
        db.run_in_transaction(partial(wealth.settle_day, day=d), engine=engine)
        d += timedelta(days=1)
    return {"assessed": sum(grades.values()), "grades": grades, "orders": placed, "refused": refused}
