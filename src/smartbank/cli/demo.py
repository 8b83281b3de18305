"""``smartbank demo``: migrate, seed a synthetic bank with demo sign-ins (first run only), print them and serve, with
the background worker in a thread of the same process."""

from __future__ import annotations

from typing import Annotated

import typer

from smartbank import clock
from smartbank.cli.common import DbUrl, console, use_database
from smartbank.cli.serve import serve
from smartbank.cli.worker import worker_in_thread

app = typer.Typer()

DEMO_STAFF = [("teller", "teller"), ("loan", "loan_officer"), ("risk", "risk_officer"), ("marketer", "marketer"),
              ("agent", "service_agent"), ("admin", "admin")]
DEMO_PASSWORD = "demo1234"


@app.command("demo")
def demo(
    customers: int = 300,
    months: int = 6,
    seed: int = 42,
    serve_too: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    database_url: DbUrl = None,
) -> None:
    """Migrate, seed a synthetic bank with demo sign-ins (first run only), print them and serve."""
    from sqlalchemy import select

    from smartbank import db
    from smartbank.config import get_settings
    from smartbank.customers.service import Customer
    from smartbank.ledger.service import Account
    from smartbank.ops.service import upgrade
    from smartbank.security import service as security
    from smartbank.synth import service as synth_mod

    url = use_database(database_url)
    _demo_dev_mode()
    console.print("[bold]smartbank demo[/]: migrating the database ...")
    upgrade(url)
    has_users = db.run_in_transaction(security.count_users)
    if not has_users:
        console.print(f"seeding a synthetic bank: {customers} customers, {months} months (seed {seed}) ...")
        synth_mod.run(url, customers=customers, months=months, seed=seed, progress=True)

        def users(s):
            cust = s.scalars(select(Customer).join(Account, Account.customer_id == Customer.id)
                             .where(Customer.kind == "individual", Account.kind == "demand")
                             .order_by(Customer.id).limit(2)).all()
            for i, c in enumerate(cust):
                security.create_user(s, username="demo" if i == 0 else "demo2", password=DEMO_PASSWORD,
                                     role="customer", customer_id=c.id, display_name=c.name)
            for name, role in DEMO_STAFF:
                u = security.create_user(s, username=name, password=DEMO_PASSWORD, role=role, display_name=name)
                # FOR THE DEMO ONLY: staff must have a second factor; here it is enrolled for them, and
                # `smartbank user totp NAME` prints its current code (a real one lives on the person's phone)
                security.enrol_demo_mfa(s, u)

        db.run_in_transaction(users)
        from smartbank.risk import service as risk

        db.run_in_transaction(risk.seed_defaults)
        _demo_insight(seed)
        _demo_lending(seed)
        _demo_wealth(seed)
        from smartbank.assistant import service as assistant
        from smartbank.security.service import SYSTEM

        faq = db.run_in_transaction(lambda s: assistant.seed_faq(s, SYSTEM))
        console.print(f"assistant: knowledge base {faq}")
        _demo_marketing(seed)
    s = get_settings()
    base = f"http://{s.host}:{s.port}"
    console.print(f"\n[bold green]smartbank is ready[/] at {base}  (API docs: {base}/docs)\n")
    console.print(f"  customer portal  {base}/login          demo / {DEMO_PASSWORD}   (second customer: demo2)")
    for name, role in DEMO_STAFF:
        console.print(f"  console {role:<14} {base}/console/login  {name} / {DEMO_PASSWORD}")
    console.print(f"  one-time codes (text messages) are written to {s.sms_outbox or s.var_dir / 'sms-outbox.jsonl'}")
    console.print("  [yellow]staff sign in with a second factor[/] (TOTP). For this demo only it is enrolled already;"
                  " the current code of, e.g., the teller: [bold]smartbank user totp teller[/]"
                  " (a real bank never prints one: it is on the person's authenticator app)")
    console.print("")
    if serve_too:
        # the bank's background work (sealing, insight, close of day) beside the server, stopped with it
        console.print("background jobs: the journal sealer, the insight refresh and close of day run in this "
                      "process (`smartbank worker` in production)")
        with worker_in_thread():
            serve(host=None, port=None, workers=1, database_url=None)


def _demo_dev_mode() -> None:
    """The demo is a development server: without a secret key of its own it turns development mode on
    (``SMARTBANK_DEV_MODE=1``, inherited by the server's workers) and says so."""
    import os

    from smartbank.config import get_settings, reset_settings, secret_key_problem

    s = get_settings()
    problem = secret_key_problem(s)
    if problem and not s.dev_mode:
        os.environ["SMARTBANK_DEV_MODE"] = "1"
        reset_settings()
    if problem:
        console.print(f"[yellow]development mode[/]: {problem}; this demo is for this machine only. "
                      "Set SMARTBANK_SECRET_KEY to a random value before serving anyone else.")


def _demo_lending(seed: int) -> None:
    """Loan products and the LPR history, a credit model (the fast settings: seconds, on the shared Give Me
    Some Credit file or, without it, on generated rows of the same shape), two applications - the first
    demo customer's small consumer loan, decided automatically (and paid out when approved), and the
    second's large one, which waits in the loan officers' queue - and a loan book of other customers'
    loans taken over the last months and serviced day by day (:mod:`smartbank.synth.loans`)."""
    import tempfile
    from pathlib import Path

    from smartbank import db
    from smartbank.config import get_settings
    from smartbank.lending import service as lending
    from smartbank.security import service as security

    db.run_in_transaction(lending.seed_products)
    if lending.load_credit_scorer() is None:
        data = Path(get_settings().datasets_dir) / "give_me_some_credit" / "train.csv"
        with tempfile.TemporaryDirectory() as tmp:
            if not data.exists():
                data = Path(tmp) / "credit.csv"
                lending.synthetic_credit(20_000, seed=seed).to_csv(data, index=False)
            console.print(f"training the credit model (fast settings) on {data.name} ...")
            m = lending.train_credit_model(data, fast=True, seed=seed)
            console.print(f"credit model {m.get('version', '')}: AUC {m.get('auc', float('nan')):.3f} on held-out rows")

    def apply(s, username: str, product: str, amount_minor: int, income_minor: int) -> None:
        u = security.find_user_by_name(s, username)
        if u is None or u.customer_id is None:
            return
        me = security.Principal(user_id=u.id, username=u.username, role=u.role, customer_id=u.customer_id,
                                display_name=u.display_name)
        account_id = lending.prefill(s, me, product)["values"]["account_id"]
        if account_id is None:
            return
        app, _ = lending.submit(s, me, lending.ApplicationIn(
            product=product, account_id=account_id, amount_minor=amount_minor, term_months=12,
            method="equal_installment", purpose="home renovation 装修", monthly_income_minor=income_minor,
            employment="employed", years_employed=6, dependents=1, open_credit_lines=3, real_estate_loans=1,
            revolving_balance_minor=800_000, revolving_limit_minor=5_000_000,
        ), idempotency_key=f"demo:{username}:{product}", channel="web")
        if app.status == "approved":
            lending.accept(s, me, app.id)

    db.run_in_transaction(lambda s: apply(s, "demo", "PERSONAL", 5_000_000, 2_500_000))
    db.run_in_transaction(lambda s: apply(s, "demo2", "PERSONAL", 28_000_000, 6_000_000))
    from smartbank.synth.service import seed_loan_book

    book = seed_loan_book(db.get_engine(), seed=seed)
    console.print(f"loan book: {book['loans']} loans serviced day by day, applications {book['applications']}")


def _demo_wealth(seed: int) -> None:
    """The risk questionnaire and the product catalogue with three years of NAVs (real index and stock prices
    where the shared data has them), the first demo customer assessed (middle answers) with two holdings and the
    second left unassessed, other customers' assessments and purchases settled day by day, and the
    recommender trained on those holdings (:mod:`smartbank.synth.wealth`)."""
    from datetime import timedelta

    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.ledger import service as ledger
    from smartbank.recommend import service as recommend
    from smartbank.security import service as security
    from smartbank.synth.service import seed_wealth_book
    from smartbank.wealth import service as wealth

    console.print("wealth: products and NAV history ...")
    db.run_in_transaction(wealth.seed_products)

    def demo_investor(s) -> None:
        u = security.find_user_by_name(s, "demo")
        if u is None or u.customer_id is None:
            return
        me = security.Principal(user_id=u.id, username=u.username, role=u.role, customer_id=u.customer_id,
                                display_name=u.display_name)
        q = wealth.active_questionnaire(s)
        assert q is not None
        at = clock.now() - timedelta(days=40)
        answers = wealth.with_age_from_id(s, u.customer_id, q.questions,
                                                 {qq["id"]: len(qq["options"]) // 2 for qq in q.questions},
                                                 clock.local_date(at))
        wealth.take_assessment(s, me, answers, now=at)
        acct = demand_account(s, u.customer_id)
        for code, amount in (("WMP-FI", 2_000_000), ("F-BOND", 1_000_000)):
            # back-dated: only what the account held on that day by value date (not a loan paid out later)
            room = ledger.spendable(s, ledger.get_account(s, acct), wealth.trade_date(at + timedelta(days=1)))
            if room is not None and room < amount:  # a smaller purchase, up to 40% of what was there that day
                amount = room * 4 // 10 // 100 * 100
            if amount < 100_000:
                console.print(f"wealth: the demo customer's {code} purchase was skipped (not enough on that day)")
                continue
            wealth.purchase(s, me, product_code=code, account_id=acct, amount_minor=amount,
                            idempotency_key=f"demo-wealth:{code}", now=at + timedelta(days=1))

    def demand_account(s, customer_id: int) -> int:
        return next(a.id for a in ledger.customer_accounts(s, customer_id) if a.kind == "demand")

    try:
        db.run_in_transaction(demo_investor)
    except SmartbankError as exc:  # e.g. the demo customer's balance is too small: the portal still works
        console.print(f"wealth: the demo customer's purchases were skipped ({exc})")
    book = seed_wealth_book(db.get_engine(), seed=seed)
    console.print(f"wealth: {book['assessed']} customers assessed {book['grades']}, {book['orders']} orders")
    recommend.reset_engines()
    rec = recommend.train(db.get_engine())
    console.print(f"recommendation: model {rec.get('model_version', '-')} on {rec.get('interactions', 0)} "
                  "interactions")


def _demo_insight(seed: int) -> None:
    """Train the insight models on the demo bank and build every profile, so the 360 pages, segments and
    churn scores have content from the start (the server then keeps them fresh incrementally)."""
    import time
    from datetime import timedelta

    from smartbank import db
    from smartbank.insight import service as insight

    t0 = time.perf_counter()
    engine = db.get_engine()
    with console.status("training the insight models on the demo bank ..."):
        activity = insight.load_activity(engine)
        last = activity["ts"].max() if activity.height else None
        as_of = last.date() + timedelta(days=1) if last is not None else clock.today()  # type: ignore[union-attr]
        trained = insight.train_models(activity, insight.load_customers(engine), as_of, seed=seed)
    for name, why in trained["skipped"].items():
        console.print(f"insight: [yellow]{name} not trained[/] ({why})")
    with console.status("building customer profiles and tags ..."):
        res = insight.refresh_all(engine)
    console.print(f"insight: models trained, {res.get('customers', 0)} profiles built "
                  f"({time.perf_counter() - t0:.1f} s)")


def _demo_marketing(seed: int) -> None:
    """Campaigns with a known effect run in the past (real purchases and top-ups follow them), their experiments
    read over their life and their uplift models trained; the default journeys switched on; loyalty points
    earned from the whole history; a public-opinion feed with a spike. Each step says what it did."""
    import time

    from smartbank import db
    from smartbank.synth.service import (
        seed_campaigns,
        seed_experiments,
        seed_journeys,
        seed_loyalty,
        seed_marketing,
        seed_opinion,
        seed_uplift,
    )

    engine = db.get_engine()
    t0 = time.perf_counter()
    with console.status("running the demo campaigns ..."):
        planted = seed_marketing(engine, seed)
        weekly = seed_campaigns(engine, seed=seed)
        reads = db.run_in_transaction(seed_experiments)
        models = seed_uplift(engine, seed=seed)
    found = ", ".join(f"{v['found'].get('campaign')} {v['found'].get('found')} conversions"
                      for v in planted.values() if isinstance(v, dict) and isinstance(v.get("found"), dict))
    console.print(f"marketing: {found or 'demo campaigns exist already'}, "
                  f"{len(weekly.get('campaigns', []))} more campaigns, experiments read {reads}, "
                  f"{len(models.get('trained', []))} uplift models ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    with console.status("journeys, loyalty points and the opinion feed ..."):
        journeys = seed_journeys(engine)
        points = seed_loyalty(engine, seed=seed)
        feed = seed_opinion(engine)
    console.print(f"journeys: {journeys.get('task')}; loyalty: reconciled {points.get('reconciled')}; "
                  f"opinion: {feed.get('mentions')} mentions, {len(feed.get('alerts', []))} alerts "
                  f"({time.perf_counter() - t0:.1f} s)")
