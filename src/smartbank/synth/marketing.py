"""The demo bank's campaigns with a known effect: approved campaigns with arms and a holdout, sent through
``marketing.contact.send`` on days in the past (the clock injected), whose outcomes happen as real records
through the services (wealth purchases, mobile top-ups) drawn from known probabilities. Attribution,
experiments, uplift and ROI then have real figures to show, and a test can check that attribution finds the
planted effect.

The effects are larger than a real campaign's (a few points) so that a demo bank of a few hundred customers
shows them above the sampling noise. True effects (what the simulation draws from; "contacted" = at least one
message of the campaign was sent to the customer, which needs the customer's marketing consent on the channel -
about 90 % of the audience give it):

``DEMO-WEALTH`` (goal ``wealth_purchase``, in-app on day 0 and an SMS reminder on day 2, window 14 days, holdout
20 %, arms A and B of equal weight; the product: the money-market fund ``F-MMF``)
    base probability of a purchase within the window: :data:`WEALTH_BASE` = 3 % for everyone (the holdout too);
    added when contacted, by the balance at assignment ("high" = at least :data:`HIGH_BALANCE_MINOR`,
    20 000 yuan, about a third of the demo's customers) and arm (B's message is better: seven and four more points):

    ======= ====== ======
    arm     high   other
    ======= ====== ======
    A       +15pts +4 pts
    B       +22    +8
    ======= ====== ======

    So the effect is heterogeneous (what uplift targeting should find), and B beats A (what the experiment
    should find). A purchase is 1 000 - 50 000 yuan (more for higher balances, at most 40 % of what the account
    held), the day after the last message or up to 12 days after the first.

``DEMO-TOPUP`` (goal ``top_up``, SMS on day 0, window 7 days, holdout 15 %, one arm; only when the bank has the
mobile carriers' billers): +10 points of a top-up within the window when contacted, over the customers' own
top-up habits in the synthetic history (the baseline the holdout measures).

The simulation's own tally of the planted effect (:func:`seed_marketing`'s ``planted``) is the exact expected
number of extra conversions given who was contacted: the sum of each contacted customer's added probability.
Attribution's incremental conversions estimate it; they differ by sampling error (binomial draws, a holdout of
a few dozen customers) and by the baseline's own noise.

Call after the synthetic bank, the wealth catalogue and the insight profiles exist::

    from smartbank.synth.marketing import seed_marketing
    seed_marketing(database_url_or_engine_or_session, seed=42)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from smartbank import clock, db
from smartbank.customers import service as customers
from smartbank.customers.service import Customer
from smartbank.errors import SmartbankError
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account
from smartbank.marketing import service as marketing
from smartbank.payments import service as payments
from smartbank.security.service import Principal
from smartbank.synth.catalog import CARRIERS
from smartbank.synth.wealth import _answers, _assess
from smartbank.wealth import service as wealth

T = TypeVar("T")

WEALTH_CODE = "DEMO-WEALTH"
TOPUP_CODE = "DEMO-TOPUP"
WEALTH_PRODUCT = "F-MMF"
WEALTH_BASE = 0.03
HIGH_BALANCE_MINOR = 2_000_000
# added probability when contacted: arm -> (high balance, other)
WEALTH_EFFECT = {"A": (0.15, 0.04), "B": (0.22, 0.08)}
TOPUP_EFFECT = 0.10
MIN_PURCHASE_MINOR = 10_000  # a purchase smaller than 100 yuan is not made (the account held too little)
CONSENT_SHARE = 0.9
# what a message costs in the demo when the channel left it at zero (1e-6 yuan): 5 fen an SMS, 0.2 fen in-app
DEMO_COST_MICRO = {"sms": 50_000, "inapp": 2_000, "banner": 1_000, "email": 3_000}
DAYS_AGO = 40  # the campaigns ran this many days before today

CONTENT = {
    "A": {"zh": {"title": "闲钱理财，随存随取", "body": "{name}，汇通货币A，一元起购。"},
          "en": {"title": "Make idle cash work", "body": "{name}, Huitong Money Market A from one yuan."}},
    "B": {"zh": {"title": "您的余额可以多赚一点", "body": "{name}，把闲钱放进汇通货币A，随时可取。"},
          "en": {"title": "Your balance could earn more", "body": "{name}, put idle cash in Money Market A."}},
    "T": {"zh": {"title": "话费充值", "body": "{name}，手机银行充话费，快速到账。"},
          "en": {"title": "Mobile top-up", "body": "{name}, top up your phone in the app in seconds."}},
}


def _runner(target: str | Engine | Session) -> Callable[[Callable[[Session], T]], T]:
    """Each step in its own unit of work (a URL or an engine), or in a savepoint of the caller's session."""
    if isinstance(target, Session):
        def in_session(fn: Callable[[Session], T]) -> T:
            with target.begin_nested():
                return fn(target)
        return in_session
    engine = db.get_engine(target) if isinstance(target, str) else target
    return lambda fn: db.run_in_transaction(fn, engine=engine)


def _audience(s: Session, skip_first: int) -> list[tuple[int, int, int]]:
    """(customer, demand account, balance) of every individual customer with an open CNY demand account."""
    rows = s.execute(select(Customer.id, Account.id, Account.credits_posted - Account.debits_posted)
                     .join(Account, Account.customer_id == Customer.id)
                     .where(Customer.kind == "individual", Customer.status != "closed", Account.kind == "demand",
                            Account.status == "open", Account.currency == "CNY")
                     .order_by(Customer.id, Account.id)).all()
    seen: dict[int, tuple[int, int, int]] = {}
    for cid, aid, bal in rows:
        seen.setdefault(int(cid), (int(cid), int(aid), int(bal)))
    return list(seen.values())[skip_first:]


def _campaign(s: Session, code: str, name_zh: str, name_en: str, *, goal: str, channels: list[str], window: int,
              holdout_bp: int, arms: dict[str, int], content: dict[str, Any], start: datetime) -> int:
    c = marketing.Campaign(code=code, name_zh=name_zh, name_en=name_en, status="completed", goal=goal,
                           channels=channels, goal_window_days=window, holdout_bp=holdout_bp,
                           audience={"expression": None, "segments": [], "tags": [], "model": None},
                           schedule={"kind": "once", "start_at": start.isoformat()}, created_by="marketer",
                           created_at=start - timedelta(days=3), submitted_by="marketer",
                           submitted_at=start - timedelta(days=2), decided_by="admin",
                           decided_at=start - timedelta(days=1), decision_note="demo campaign",
                           last_run_at=start)
    s.add(c)
    s.flush()
    for arm, weight in arms.items():
        s.add(marketing.CampaignArm(campaign_id=c.id, code=arm, weight=weight, is_holdout=False,
                                    content=content[arm]))
    s.add(marketing.CampaignArm(campaign_id=c.id, code=marketing.HOLDOUT, weight=0, is_holdout=True, content={}))
    s.flush()
    return int(c.id)


def _send(s: Session, cid: int, campaign_id: int, arm: str, channel: str, content: dict[str, Any], at: datetime,
          *, clicked: datetime | None, opened: bool) -> bool:
    """One message through the contact policy at ``at``; the demo's engagement stamped on it."""
    name = s.get(Customer, cid)
    first = (name.name if name is not None else "")[:1]
    text = {lang: {k: v.replace("{name}", first) for k, v in body.items()} for lang, body in content.items()}
    with clock.use(clock.FixedClock(at)):
        m = marketing.send(s, marketing.Outgoing(customer_id=cid, channel=channel, content=text,
                                                 campaign_id=campaign_id, arm=arm))
    if m.status not in ("sent", "delivered"):
        return False
    if not m.cost_micro:
        m.cost_micro = DEMO_COST_MICRO.get(channel, 0)
    m.delivered_at = m.delivered_at or at + timedelta(seconds=5)
    if opened or clicked is not None:
        m.opened_at = at + timedelta(minutes=30)
    if clicked is not None:
        m.clicked_at = clicked
    s.flush()
    return True


def _assign(s: Session, *, campaign_id: int, customer_id: int, arm: str, at: datetime) -> None:
    s.add(marketing.CampaignAssignment(campaign_id=campaign_id, customer_id=customer_id, arm=arm, assigned_at=at))
    s.flush()


def _consent(s: Session, cid: int, at: datetime) -> None:
    me = Principal(user_id=0, username=f"customer{cid}", role="customer", customer_id=cid)
    with clock.use(clock.FixedClock(at)):
        for purpose in ("marketing_push", "marketing_sms"):
            customers.set_consent(s, me, cid, purpose=purpose, granted=True, given_via="app")


def _buy(s: Session, cid: int, aid: int, amount: int, at: datetime, key: str, rng: random.Random,
         questions: list[dict[str, Any]]) -> int:
    """A purchase of the fund at ``at`` (the questionnaire taken the hour before when the customer has no grade),
    paid from what the account held on that day; 0 when there was too little."""
    me = Principal(user_id=0, username=f"customer{cid}", role="customer", customer_id=cid)
    if wealth.current_grade(s, cid, at) is None:
        _assess(s, actor=me, answers=_answers(rng, questions, "balanced"), at=at - timedelta(hours=1))
    room = ledger.spendable(s, ledger.get_account(s, aid), wealth.trade_date(at))
    if room is not None:
        amount = min(amount, room * 4 // 10 // 100 * 100)
    if amount < MIN_PURCHASE_MINOR:
        return 0
    with clock.use(clock.FixedClock(at)):  # the order and its transfer dated then
        wealth.purchase(s, me, product_code=WEALTH_PRODUCT, account_id=aid, amount_minor=amount,
                        idempotency_key=key, channel="app", now=at)
    return amount


def _biller_for(phone: str) -> str | None:
    digits = phone.replace("+86", "")[-11:]
    return next((f"MOB-{c.key}" for c in CARRIERS if digits[:3] in c.prefixes), None)


def seed_marketing(target: str | Engine | Session, seed: int = 42, *, customers_max: int = 400,
                   skip_first: int = 2, today: datetime | None = None) -> dict[str, Any]:
    """Create and run the demo campaigns (see the module's docstring) and find their conversions; returns what
    was planted and what attribution measured. Runs once: a bank that has the campaigns is left as it is."""
    run = _runner(target)
    if run(lambda s: s.scalars(select(marketing.Campaign.id).where(marketing.Campaign.code == WEALTH_CODE)).first()):
        return {"skipped": "the demo campaigns exist already"}
    rng = random.Random(seed)
    now = today or clock.now()
    start = datetime.combine(clock.local_date(now) - timedelta(days=DAYS_AGO), time(2), tzinfo=now.tzinfo)
    people = run(lambda s: _audience(s, skip_first))
    people = sorted(rng.sample(people, min(customers_max, len(people))))
    out: dict[str, Any] = {}

    # consent: most customers said yes in the app the week before
    for cid, _aid, _bal in people:
        if rng.random() < CONSENT_SHARE:
            run(partial(_consent, cid=cid, at=start - timedelta(days=7)))

    # ---- DEMO-WEALTH
    has_fund = run(lambda s: any(p["code"] == WEALTH_PRODUCT for p in wealth.list_products(s)))
    if has_fund:
        out["wealth"] = _run_wealth(run, people, start, rng, seed)

    # ---- DEMO-TOPUP
    has_billers = run(lambda s: payments.list_billers(s, "mobile"))
    if has_billers:
        out["topup"] = _run_topup(run, people, start + timedelta(days=1), rng, seed)
    for key in ("wealth", "topup"):
        if key in out:
            out[key]["found"] = run(partial(marketing.find_conversions, campaign_id=out[key]["campaign_id"]))
    return out


def _run_wealth(run: Callable[..., Any], people: list[tuple[int, int, int]], start: datetime, rng: random.Random,
                seed: int) -> dict[str, Any]:
    cid_ = run(lambda s: _campaign(s, WEALTH_CODE, "汇通货币A推介", "Money market fund promotion",
                                   goal="wealth_purchase", channels=["inapp", "sms"], window=14, holdout_bp=2000,
                                   arms={"A": 1, "B": 1}, content=CONTENT, start=start))
    questions = run(lambda s: wealth.questionnaire_view(wealth.ensure_questionnaire(s)))["questions"]
    arms = [("A", 1), ("B", 1)]
    planted = 0.0
    tally: dict[str, dict[str, int]] = {}
    reminder = start + timedelta(days=2)
    for cid, aid, balance in people:
        arm = marketing.assign_arm(WEALTH_CODE, cid, arms, 2000)
        high = balance >= HIGH_BALANCE_MINOR
        run(partial(_assign, campaign_id=cid_, customer_id=cid, arm=arm, at=start - timedelta(hours=1)))
        lift = WEALTH_EFFECT[arm][0 if high else 1] if arm != marketing.HOLDOUT else 0.0
        u = rng.random()  # the customer's draw: buys when u < base + (lift if contacted)
        buy_at = start + timedelta(days=1 + rng.randrange(12), hours=rng.randrange(1, 10))
        would = u < WEALTH_BASE + lift
        click = buy_at - timedelta(minutes=20) if would and rng.random() < 0.6 else None
        opened = rng.random() < 0.5
        contacted = False
        if arm != marketing.HOLDOUT:
            in_app = run(lambda s, cid=cid, arm=arm, click=click, opened=opened: _send(
                s, cid, cid_, arm, "inapp", CONTENT[arm], start,
                clicked=click if click is not None and click < reminder else None, opened=opened))
            sms = run(lambda s, cid=cid, arm=arm, click=click: _send(
                s, cid, cid_, arm, "sms", CONTENT[arm], reminder,
                clicked=click if click is not None and click >= reminder else None, opened=False))
            contacted = in_app or sms
        if contacted:
            planted += lift
        converts = u < WEALTH_BASE + (lift if contacted else 0.0)
        t = tally.setdefault(arm if arm == marketing.HOLDOUT else f"{arm}-{'high' if high else 'other'}",
                             {"customers": 0, "contacted": 0, "purchases": 0})
        t["customers"] += 1
        t["contacted"] += int(contacted)
        if converts:
            amount = rng.choice((1, 2, 5, 10, 20, 50)) * 100_000 * (2 if high else 1)  # yuan 1 000 - 100 000
            try:
                spent = run(lambda s, cid=cid, aid=aid, amount=amount, at=buy_at: _buy(
                    s, cid, aid, amount, at, f"synth-mkt:{seed}:{cid}", rng, questions))
            except SmartbankError:
                spent = 0
            t["purchases"] += int(spent > 0)
            t["too_little"] = t.get("too_little", 0) + int(spent == 0)
    # settle what was bought (the purchases are back-dated)
    d = start.date()
    while d < clock.today():
        run(lambda s, d=d: wealth.settle_day(s, day=d))
        d += timedelta(days=1)
    return {"campaign_id": cid_, "planted_incremental": round(planted, 2), "tally": tally}


def _run_topup(run: Callable[..., Any], people: list[tuple[int, int, int]], start: datetime, rng: random.Random,
               seed: int) -> dict[str, Any]:
    cid_ = run(lambda s: _campaign(s, TOPUP_CODE, "手机充值提醒", "Mobile top-up reminder", goal="top_up",
                                   channels=["sms"], window=7, holdout_bp=1500, arms={"A": 1},
                                   content={"A": CONTENT["T"]}, start=start))
    planted = 0.0
    made = refused = 0
    for cid, aid, _balance in people:
        arm = marketing.assign_arm(TOPUP_CODE, cid, [("A", 1)], 1500)
        run(partial(_assign, campaign_id=cid_, customer_id=cid, arm=arm, at=start - timedelta(hours=1)))
        if arm == marketing.HOLDOUT:
            continue
        converts = rng.random() < TOPUP_EFFECT
        at = start + timedelta(days=rng.randrange(0, 6), hours=rng.randrange(2, 12))
        sent = run(lambda s, cid=cid, at=at, converts=converts: _send(
            s, cid, cid_, "A", "sms", CONTENT["T"], start, clicked=at - timedelta(minutes=5) if converts else None,
            opened=False))
        if not sent:
            continue
        planted += TOPUP_EFFECT
        if not converts:
            continue

        def top_up(s: Session, cid: int = cid, aid: int = aid, at: datetime = at) -> bool:
            c = s.get(Customer, cid)
            phone = (c.phone if c is not None else None) or ""
            biller = _biller_for(phone)
            if biller is None:
                return False
            me = Principal(user_id=0, username=f"customer{cid}", role="customer", customer_id=cid)
            with clock.use(clock.FixedClock(at)):
                payments.top_up(s, me, from_account_id=aid, biller_code=biller, phone=phone,
                                amount_minor=rng.choice((30_00, 50_00, 100_00)),
                                idempotency_key=f"synth-mkt-topup:{seed}:{cid}", channel="web")
            return True

        try:
            made += int(run(top_up))
        except SmartbankError:
            refused += 1
    return {"campaign_id": cid_, "planted_incremental": round(planted, 2), "top_ups": made, "refused": refused}
