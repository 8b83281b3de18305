"""The ``smartbank`` command line. Every command calls the same services as the API and web UI."""

from __future__ import annotations

import json
import sys
from datetime import date
from functools import partial
from typing import Annotated

import typer
from rich.console import Console

from smartbank import clock

app = typer.Typer(help="smartbank: an open-source intelligent digital-banking platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger: verify and seal the tamper-evident journal.", no_args_is_help=True)
user_app = typer.Typer(help="Users: staff and customer sign-ins.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: each prints figures, the last line is one JSON object.",
                        no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(user_app, name="user")
insight_app = typer.Typer(help="Customer insight: profiles, tags, segments, value, churn.", no_args_is_help=True)
eval_app = typer.Typer(help="Model evaluations on real data: each prints figures, the last line is one JSON object.",
                       no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(insight_app, name="insight")
app.add_typer(eval_app, name="eval")
risk_app = typer.Typer(help="Risk control: the fraud model, rules, alerts, limits, monitoring.", no_args_is_help=True)
app.add_typer(risk_app, name="risk")
lending_app = typer.Typer(help="Lending: products, applications, credit models, loans.", no_args_is_help=True)
app.add_typer(lending_app, name="lending")
wealth_app = typer.Typer(help="Wealth: risk assessment, products and NAV, orders, holdings, robo-advice.",
                         no_args_is_help=True)
app.add_typer(wealth_app, name="wealth")
recommend_app = typer.Typer(help="Recommendation: items, events, training, serving.", no_args_is_help=True)
app.add_typer(recommend_app, name="recommend")
assistant_app = typer.Typer(help="The assistant: language models, FAQ knowledge base, conversations.",
                            no_args_is_help=True)
app.add_typer(assistant_app, name="assistant")

console = Console(stderr=True, soft_wrap=True)

DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                             help="defaults to SMARTBANK_DATABASE_URL")]


def _use(url: str | None) -> str:
    import os

    from smartbank.config import get_settings, reset_settings

    if url:
        os.environ["SMARTBANK_DATABASE_URL"] = url
        reset_settings()
    return get_settings().database_url


def _emit(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


@db_app.command("upgrade")
def db_upgrade(database_url: DbUrl = None, revision: str = "head") -> None:
    """Create or migrate the schema to the latest revision."""
    from smartbank.ops.migrate import upgrade

    url = _use(database_url)
    upgrade(url, revision)
    console.print(f"[green]schema at {revision}[/] ({url.split('@')[-1]})")


@ledger_app.command("verify")
def ledger_verify(database_url: DbUrl = None) -> None:
    """Recompute the hash chain and every balance; exit 1 naming the first broken entry."""
    from smartbank import db
    from smartbank.ledger.journal import verify

    _use(database_url)
    rep = db.run_in_transaction(lambda s: verify(s))
    d = rep.as_dict()
    if rep.ok:
        console.print(f"[green]ledger OK[/]: {rep.sealed} sealed transfers, {rep.unsealed} awaiting seal, "
                      f"{rep.accounts} accounts, totals {rep.totals_by_currency}, anchored by checkpoint "
                      f"{(rep.checkpoint or {}).get('seq', '-')} ({rep.checkpoint_file})")
    else:
        fb = rep.first_broken or {}
        console.print(f"[red]LEDGER BROKEN[/]: first broken: {fb.get('problem') or rep.problems[0]}")
        for p in rep.problems[:10]:
            console.print(f"  - {p}")
    _emit(d)
    raise typer.Exit(0 if rep.ok else 1)


@ledger_app.command("rekey")
def ledger_rekey(database_url: DbUrl = None) -> None:
    """Key a journal sealed before its chain was keyed (checks every plain SHA-256 link first), once."""
    from smartbank import db
    from smartbank.ledger.journal import rekey

    _use(database_url)
    try:
        n = db.run_in_transaction(lambda s: rekey(s))
    except RuntimeError as exc:
        console.print(f"[red]not rekeyed[/]: {exc}")
        raise typer.Exit(1) from exc
    _emit({"rekeyed": n})


@ledger_app.command("seal")
def ledger_seal(database_url: DbUrl = None) -> None:
    """Chain every committed transfer into the journal now (the server does this every second)."""
    from smartbank import db
    from smartbank.ledger.journal import seal

    _use(database_url)
    n = db.run_in_transaction(lambda s: seal(s))
    _emit({"sealed": n})


@app.command("close-of-day")
def close_of_day(
    database_url: DbUrl = None,
    day: Annotated[str | None, typer.Option("--date", help="business date YYYY-MM-DD (default today)")] = None,  # noqa: UP007
) -> None:
    """Accrue interest, capitalise at month end, run scheduled transfers; every missed day in order.
    Rerunnable: a closed day is never posted twice."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.ledger.journal import seal
    from smartbank.ops.close_of_day import close_day, days_to_close

    _use(database_url)
    try:
        until = date.fromisoformat(day) if day else clock.today()
    except ValueError:
        console.print(f"[red]not a date: {day!r} (use YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None
    try:
        days = db.run_in_transaction(lambda s: days_to_close(s, until))
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    if days:
        console.print(f"closing {len(days)} business day(s): {days[0]} to {days[-1]}")
    results = []
    for d in days:
        r = db.run_in_transaction(partial(close_day, day=d))
        results.append(r.as_dict())
        console.print(f"{d}: {'already closed' if r.skipped else 'closed'}"
                      f" accrued={r.accrued_accounts} capitalised={r.capitalised_accounts}"
                      f" interest={r.interest_posted_minor} scheduled={r.scheduled}")
    db.run_in_transaction(lambda s: seal(s))
    _emit({"days": len(results), "results": results[-5:]})


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="customer, teller, loan_officer, risk_officer, marketer, "
                                           "service_agent or admin")] = "teller",
    password: Annotated[str | None, typer.Option(help="prompted when omitted")] = None,  # noqa: UP007
    customer_id: Annotated[int | None, typer.Option(help="for role=customer")] = None,  # noqa: UP007
    database_url: DbUrl = None,
) -> None:
    """Create a sign-in (the audit log records it as done by the command line)."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.security import service as security

    _use(database_url)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    def work(s):
        u = security.create_user(s, username=username, password=password, role=role, customer_id=customer_id)
        security.audit(s, security.SYSTEM, action="user.create", object_type="user", object_id=u.id,
                       after={"username": username, "role": role}, note="smartbank user create")
        return u.id

    try:
        uid = db.run_in_transaction(work)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/] {exc.details or ''}")
        raise typer.Exit(2) from None
    _emit({"user_id": uid, "username": username, "role": role})


@app.command("synth")
def synth(
    customers: Annotated[int, typer.Option(min=1)] = 1000,
    months: Annotated[int, typer.Option(min=1, max=120)] = 12,
    seed: int = 42,
    bulk: Annotated[bool | None, typer.Option("--bulk/--no-bulk", help="default: bulk for large runs")] = None,
    end_date: Annotated[str | None, typer.Option("--end-date", help="last day, YYYY-MM-DD")] = None,
    database_url: DbUrl = None,
) -> None:
    """Generate a deterministic synthetic bank (customers, accounts, a history of transactions)."""
    from smartbank import synth as synth_mod
    from smartbank.ops.migrate import upgrade

    url = _use(database_url)
    upgrade(url)
    try:
        end = date.fromisoformat(end_date) if end_date else None
    except ValueError:
        console.print(f"[red]not a date: {end_date!r} (use YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None
    summary = synth_mod.run(url, customers=customers, months=months, seed=seed, bulk=bulk, end_date=end,
                            progress=True)
    _emit(summary)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,  # noqa: UP007
    port: Annotated[int | None, typer.Option()] = None,  # noqa: UP007
    workers: int = 1,
    database_url: DbUrl = None,
) -> None:
    """Serve the web UI and the API (the journal sealer runs in the background)."""
    import uvicorn

    from smartbank.config import InsecureSecretKey, get_settings, require_serving_secret

    _use(database_url)
    s = get_settings()
    try:
        require_serving_secret(s)
    except InsecureSecretKey as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    uvicorn.run("smartbank.api.app:serving_app", factory=True, host=host or s.host, port=port or s.port,
                workers=workers, log_level="warning", access_log=False)


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
    from sqlalchemy import func, select

    from smartbank import db
    from smartbank import synth as synth_mod
    from smartbank.config import get_settings
    from smartbank.customers.models import Customer
    from smartbank.ledger.models import Account
    from smartbank.ops.migrate import upgrade
    from smartbank.security import service as security
    from smartbank.security.models import User

    url = _use(database_url)
    _demo_dev_mode()
    console.print("[bold]smartbank demo[/]: migrating the database ...")
    upgrade(url)
    has_users = db.run_in_transaction(lambda s: s.scalar(select(func.count()).select_from(User)))
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
                security.create_user(s, username=name, password=DEMO_PASSWORD, role=role, display_name=name)

        db.run_in_transaction(users)
        from smartbank.risk import service as risk

        db.run_in_transaction(risk.seed_defaults)
        _demo_insight(seed)
        _demo_lending(seed)
        _demo_wealth(seed)
        from smartbank.assistant import faq_seed
        from smartbank.security.service import SYSTEM

        faq = db.run_in_transaction(lambda s: faq_seed.seed(s, SYSTEM))
        console.print(f"assistant: knowledge base {faq}")
    s = get_settings()
    base = f"http://{s.host}:{s.port}"
    console.print(f"\n[bold green]smartbank is ready[/] at {base}  (API docs: {base}/docs)\n")
    console.print(f"  customer portal  {base}/login          demo / {DEMO_PASSWORD}   (second customer: demo2)")
    for name, role in DEMO_STAFF:
        console.print(f"  console {role:<14} {base}/console/login  {name} / {DEMO_PASSWORD}")
    console.print(f"  one-time codes (text messages) are written to {s.sms_outbox or s.var_dir / 'sms-outbox.jsonl'}")
    console.print("")
    if serve_too:
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

    from sqlalchemy import select

    from smartbank import db
    from smartbank.config import get_settings
    from smartbank.lending import applications
    from smartbank.lending import seed as lending_seed
    from smartbank.lending.credit import scorer
    from smartbank.security import service as security
    from smartbank.security.models import User

    db.run_in_transaction(lending_seed.seed)
    if scorer.load_scorer() is None:
        data = Path(get_settings().datasets_dir) / "give_me_some_credit" / "train.csv"
        with tempfile.TemporaryDirectory() as tmp:
            if not data.exists():
                data = Path(tmp) / "credit.csv"
                scorer.synthetic_credit(20_000, seed=seed).to_csv(data, index=False)
            console.print(f"training the credit model (fast settings) on {data.name} ...")
            m = scorer.train_production(data, fast=True, seed=seed)
            console.print(f"credit model {m.get('version', '')}: AUC {m.get('auc', float('nan')):.3f} on held-out rows")

    def apply(s, username: str, product: str, amount_minor: int, income_minor: int) -> None:
        u = s.scalars(select(User).where(User.username == username)).first()
        if u is None or u.customer_id is None:
            return
        me = security.Principal(user_id=u.id, username=u.username, role=u.role, customer_id=u.customer_id,
                                display_name=u.display_name)
        account_id = applications.prefill(s, me, product)["values"]["account_id"]
        if account_id is None:
            return
        app, _ = applications.submit(s, me, applications.ApplicationIn(
            product=product, account_id=account_id, amount_minor=amount_minor, term_months=12,
            method="equal_installment", purpose="home renovation 装修", monthly_income_minor=income_minor,
            employment="employed", years_employed=6, dependents=1, open_credit_lines=3, real_estate_loans=1,
            revolving_balance_minor=800_000, revolving_limit_minor=5_000_000,
        ), idempotency_key=f"demo:{username}:{product}", channel="web")
        if app.status == "approved":
            applications.accept(s, me, app.id)

    db.run_in_transaction(lambda s: apply(s, "demo", "PERSONAL", 5_000_000, 2_500_000))
    db.run_in_transaction(lambda s: apply(s, "demo2", "PERSONAL", 28_000_000, 6_000_000))
    from smartbank.synth.loans import seed_loan_book

    book = seed_loan_book(db.get_engine(), seed=seed)
    console.print(f"loan book: {book['loans']} loans serviced day by day, applications {book['applications']}")


def _demo_wealth(seed: int) -> None:
    """The risk questionnaire and the product catalogue with three years of NAVs (real index and stock prices
    where the shared data has them), the first demo customer assessed (middle answers) with two holdings and the
    second left unassessed, other customers' assessments and purchases settled day by day, and the
    recommender trained on those holdings (:mod:`smartbank.synth.wealth`)."""
    from datetime import timedelta

    from sqlalchemy import select

    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.ledger import service as ledger
    from smartbank.recommend import engine as rec_engine
    from smartbank.security import service as security
    from smartbank.security.models import User
    from smartbank.synth.wealth import seed_wealth_book
    from smartbank.wealth import orders, questionnaire
    from smartbank.wealth import seed as wealth_seed

    console.print("wealth: products and NAV history ...")
    db.run_in_transaction(wealth_seed.seed)

    def demo_investor(s) -> None:
        u = s.scalars(select(User).where(User.username == "demo")).first()
        if u is None or u.customer_id is None:
            return
        me = security.Principal(user_id=u.id, username=u.username, role=u.role, customer_id=u.customer_id,
                                display_name=u.display_name)
        q = questionnaire.active(s)
        assert q is not None
        at = clock.now() - timedelta(days=40)
        answers = questionnaire.with_age_from_id(s, u.customer_id, q.questions,
                                                 {qq["id"]: len(qq["options"]) // 2 for qq in q.questions},
                                                 clock.local_date(at))
        questionnaire.take(s, me, answers, now=at)
        acct = demand_account(s, u.customer_id)
        for code, amount in (("WMP-FI", 2_000_000), ("F-BOND", 1_000_000)):
            # back-dated: only what the account held on that day by value date (not a loan paid out later)
            room = ledger.spendable(s, ledger.get_account(s, acct), orders.today(at + timedelta(days=1)))
            if room is not None and room < amount:  # a smaller purchase, up to 40% of what was there that day
                amount = room * 4 // 10 // 100 * 100
            if amount < 100_000:
                console.print(f"wealth: the demo customer's {code} purchase was skipped (not enough on that day)")
                continue
            orders.purchase(s, me, product_code=code, account_id=acct, amount_minor=amount,
                            idempotency_key=f"demo-wealth:{code}", now=at + timedelta(days=1))

    def demand_account(s, customer_id: int) -> int:
        return next(a.id for a in ledger.customer_accounts(s, customer_id) if a.kind == "demand")

    try:
        db.run_in_transaction(demo_investor)
    except SmartbankError as exc:  # e.g. the demo customer's balance is too small: the portal still works
        console.print(f"wealth: the demo customer's purchases were skipped ({exc})")
    book = seed_wealth_book(db.get_engine(), seed=seed)
    console.print(f"wealth: {book['assessed']} customers assessed {book['grades']}, {book['orders']} orders")
    rec_engine.reset()
    rec = rec_engine.train(db.get_engine())
    console.print(f"recommendation: model {rec.get('model_version', '-')} on {rec.get('interactions', 0)} "
                  "interactions")


def _demo_insight(seed: int) -> None:
    """Train the insight models on the demo bank and build every profile, so the 360 pages, segments and
    churn scores have content from the start (the server then keeps them fresh incrementally)."""
    import time
    from datetime import timedelta

    from smartbank import db
    from smartbank.insight import analytics, extract
    from smartbank.insight import service as insight

    t0 = time.perf_counter()
    engine = db.get_engine()
    with console.status("training the insight models on the demo bank ..."):
        activity = extract.load_activity(engine)
        last = activity["ts"].max() if activity.height else None
        as_of = last.date() + timedelta(days=1) if last is not None else clock.today()  # type: ignore[union-attr]
        trained = analytics.train_all(activity, extract.load_customers(engine), as_of, seed=seed)
    for name, why in trained["skipped"].items():
        console.print(f"insight: [yellow]{name} not trained[/] ({why})")
    with console.status("building customer profiles and tags ..."):
        res = insight.refresh_all(engine)
    console.print(f"insight: models trained, {res.get('customers', 0)} profiles built "
                  f"({time.perf_counter() - t0:.1f} s)")


@bench_app.command("ledger")
def bench_ledger(
    database_url: DbUrl = None,
    clients: int = 8,
    seconds: float = 10.0,
    accounts: int = 1000,
    compare_pgbench: Annotated[bool, typer.Option(
        help="alternate with pgbench tpcb-like on the same server, in rounds")] = False,
    rounds: Annotated[int, typer.Option(min=1, help="rounds of the side-by-side comparison")] = 4,
) -> None:
    """Concurrent transfers through the ledger service; last line: JSON with tps, p50_ms, p99_ms, conserved."""
    from smartbank.bench import ledger as bl

    url = _use(database_url)
    if compare_pgbench:
        res = bl.compare(url, clients=clients, seconds=seconds, accounts=accounts, rounds=rounds)
        console.print(f"pgbench tpcb-like -c {clients}: {res['pgbench_tps']:.0f} tps"
                      f" (rounds {res['pgbench_round_tps']})")
    else:
        res = bl.run(url, clients=clients, seconds=seconds, accounts=accounts)
    console.print(f"ledger: {res['tps']:.0f} transfers/s, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
                  f"conserved={res['conserved']}")
    _emit(res)
    if not res["conserved"]:
        raise typer.Exit(1)


@bench_app.command("http")
def bench_http(
    database_url: DbUrl = None,
    clients: int = 16,
    seconds: float = 10.0,
    workers: int = 2,
) -> None:
    """POST /api/v1/transfers from concurrent clients against a real server; last line is JSON."""
    from smartbank.bench import http as bh

    url = _use(database_url)
    res = bh.run(url, clients=clients, seconds=seconds, workers=workers)
    console.print(f"http: {res['tps']:.0f} transfers/s, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms")
    _emit(res)


# commands of later modules: each module defines register(app, bench_app, insight_app); one line each
__import__("smartbank.cli_insight").cli_insight.register(app, bench_app, insight_app)
__import__("smartbank.cli_insight_models").cli_insight_models.register(app, bench_app, insight_app)
__import__("smartbank.cli_import").cli_import.register(app, bench_app, insight_app)
__import__("smartbank.cli_risk").cli_risk.register(app, bench_app, eval_app)
__import__("smartbank.cli_risk").cli_risk.register_risk(risk_app)
__import__("smartbank.cli_risk_rules").cli_risk_rules.register(risk_app)
__import__("smartbank.cli_risk_monitor").cli_risk_monitor.register(risk_app)
__import__("smartbank.cli_lending").cli_lending.register(app, lending_app, eval_app)
__import__("smartbank.cli_lending_loans").cli_lending_loans.register(app, lending_app, eval_app)
__import__("smartbank.cli_lending_models").cli_lending_models.register(app, lending_app, eval_app)
__import__("smartbank.cli_wealth_eval").cli_wealth_eval.register(app, bench_app, eval_app)
__import__("smartbank.cli_wealth").cli_wealth.register(app, wealth_app, bench_app)
__import__("smartbank.cli_wealth_robo").cli_wealth_robo.register(app, wealth_app, bench_app)
__import__("smartbank.cli_recommend").cli_recommend.register(app, recommend_app, bench_app)
__import__("smartbank.cli_assistant").cli_assistant.register(app, assistant_app, eval_app)
__import__("smartbank.cli_nlp_eval").cli_nlp_eval.register(app, assistant_app, eval_app)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
