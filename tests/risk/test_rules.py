"""Risk rules: the expression language (Python and Polars agree), rule sets, versions, modes, defaults,
the backtest over hand-made history with known answers, live statistics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update

from smartbank import clock, config, db
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.payments.models import Payee
from smartbank.risk import rules as R
from smartbank.risk.context import CONTEXT
from smartbank.risk.models import RiskDecision, RiskLabel, RiskRule
from smartbank.risk.rules.history import _finish
from smartbank.security.models import AuditLog
from smartbank.security.service import Principal

OFFICER = Principal(user_id=0, username="ro", role="risk_officer", customer_id=None)
ADMIN = Principal(user_id=0, username="adm", role="admin", customer_id=None)
TELLER = Principal(user_id=0, username="tel", role="teller", customer_id=None)
CUSTOMER = Principal(user_id=0, username="cu", role="customer", customer_id=1)


def rule_kw(**kw):
    base = {"code": "big_web", "name_en": "Big on web", "name_zh": "网页大额", "expression": "amount_minor >= 100",
            "action": "review", "reason_en": "A large payment.", "reason_zh": "大额付款。"}
    base.update(kw)
    return base


# ------------------------------------------------------------------------------------------------ the language


@pytest.mark.parametrize(("source", "says"), [
    ("", "required"),
    ("amount_minor >", "not well formed"),
    ("__import__('os').system('x')", "function calls"),
    ("amount_minor.real > 1", "attributes"),
    ("features['amount'] > 1", "subscripts"),
    ("amount_minor[0] > 1", "subscripts"),
    ("mystery > 1", "unknown name 'mystery'"),
    ("amount_minor % 2 == 0", "Mod is not allowed"),
    ("amount_minor ** 2 > 1", "Pow is not allowed"),
    ("channel > 'web'", "only be compared with == or !="),
    ("amount_minor", "must be a condition"),
    ("amount_minor + 1", "must be a condition"),
    ("amount_minor > 1 and 5", "need conditions"),
    ("channel in []", "at least one value"),
    ("amount_minor in ['a']", "text value but the left side is num"),
    ("channel == 1", "cannot compare text with num"),
    ("amount_minor < null", "null can only be compared"),
    ("[1, 2] == amount_minor", "a list may only follow"),
    ("channel in channel", "needs a list"),
    ("(lambda: 1)() > 0", "function calls"),
    ("amount_minor > 1 if true else false", "if-expressions"),
    ("x" * 1001, "at most 1000 characters"),
    (" or ".join(["hour>1"] * 60), "too long"),
    ("amount_minor > 1e999", "too large"),
])
def test_refusals_say_what_and_where(source, says):
    with pytest.raises(R.RuleExpressionError) as e:
        R.compile_expression(source)
    assert says in e.value.message
    assert e.value.status_code == 422


def test_error_names_the_column():
    with pytest.raises(R.RuleExpressionError) as e:
        R.compile_expression("amount_minor > 1 and bogus == 2")
    assert "(at column 22)" in e.value.message


def test_three_valued_logic_and_missing_values():
    def m(src, **ctx):
        return R.compile_expression(src).fn(ctx)

    assert m("amount_minor > 5", amount_minor=6) and not m("amount_minor > 5", amount_minor=5)
    assert not m("model_score > 0.5") and not m("model_score > 0.5", model_score=None)
    assert not m("model_score > 0.5", model_score=float("nan"))  # NaN counts as missing
    assert not m("not (model_score > 0.5)")  # not unknown is unknown: a missing value never matches
    assert m("model_score > 0.5 or amount_minor > 1", amount_minor=2)  # true or unknown
    assert not m("model_score < 0.5 and amount_minor > 1", amount_minor=2)  # unknown and true
    assert m("model_score == null", model_score=None) and not m("model_score != null")
    assert m("null == model_score") and m("model_score != null", model_score=0)
    assert not m("amount_minor / cust_n_1h > 1", amount_minor=5, cust_n_1h=0)  # division by zero is missing
    assert m("amount_minor / cust_n_1h > 1", amount_minor=5, cust_n_1h=2)
    assert m("channel in ['web', 'api']", channel="api") and not m("channel not in ['web']")
    assert m("channel not in ['web']", channel="assistant")
    assert m("hour in [-1, 23]", hour=23.0) and m("1 < hour <= 6", hour=6) and not m("1 < hour <= 6", hour=7)
    assert m("is_night == 1 and saved_payee == 0", is_night=True, saved_payee=False)  # bools count as 1 and 0
    assert m("true") and not m("false") and not m("null == 1")
    assert m("-amount_minor < -5 and +hour == 3", amount_minor=6, hour=3)


NUMS = ["amount_minor", "cust_n_1h", "model_score", "hour"]


def _num_expr() -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NUMS), st.integers(-3, 3).map(str),
                     st.sampled_from(["0.5", "2.5", "0", "1e6"]))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"(-{e})")), max_leaves=4)


def _cond() -> st.SearchStrategy[str]:
    cmp = st.tuples(_num_expr(), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), _num_expr()) \
        .map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    nul = st.tuples(st.sampled_from(NUMS + ["channel"]), st.sampled_from(["==", "!="])) \
        .map(lambda t: f"{t[0]} {t[1]} null")
    member = st.tuples(st.sampled_from(["in", "not in"]), st.lists(st.sampled_from(['"web"', '"api"', '"x"']),
                                                                   min_size=1, max_size=3)) \
        .map(lambda t: f"channel {t[0]} [{', '.join(t[1])}]")
    nmember = st.tuples(st.sampled_from(NUMS), st.lists(st.integers(-2, 3).map(str), min_size=1, max_size=3)) \
        .map(lambda t: f"{t[0]} in [{', '.join(t[1])}]")
    chain = st.tuples(_num_expr(), _num_expr(), _num_expr()).map(lambda t: f"{t[0]} < {t[1]} <= {t[2]}")
    base = st.one_of(cmp, nul, member, nmember, chain, st.sampled_from(["true", "false"]))
    return st.recursive(base, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"not ({e})")), max_leaves=6)


_value = st.one_of(st.none(), st.integers(-3, 3).map(float), st.sampled_from([0.5, 2.5, 1e6, -0.0]))
_ctx = st.fixed_dictionaries({"amount_minor": _value, "cust_n_1h": _value, "model_score": _value, "hour": _value,
                              "channel": st.sampled_from([None, "web", "api", "assistant"])})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=_cond(), contexts=st.lists(_ctx, min_size=1, max_size=12))
def test_python_and_polars_agree(source, contexts):
    c = R.compile_expression(source)
    frame = pl.DataFrame(contexts, schema={"amount_minor": pl.Float64, "cust_n_1h": pl.Float64,
                                           "model_score": pl.Float64, "hour": pl.Float64, "channel": pl.Utf8})
    batch = frame.with_columns(c.expr.alias("m"))["m"].to_list()
    assert batch == [c.fn(ctx) for ctx in contexts], source


def test_every_context_name_compiles():
    for name in CONTEXT:
        R.compile_expression(f"{name} == null")


# ------------------------------------------------------------------------------------------------ rule sets


def test_defaults_seed_once_and_compile(session):
    assert R.seed_defaults(session) == len(R.DEFAULT_RULES)
    assert R.seed_defaults(session) == 0
    rs = R.load_ruleset(session)
    assert len(rs) == len(R.DEFAULT_RULES) and not rs.broken
    assert 4 <= len(R.DEFAULT_RULES) <= 6
    for d in R.DEFAULT_RULES:
        assert d.name_zh and d.reason_zh and d.reason_en and d.action in ("flag", "challenge", "review", "block")
        assert "model_score" not in d.expression  # model bands are the engine's


def _ordinary(**kw) -> dict:
    """A busy but normal payment: a few thousand yuan to someone new, dozens of payments in the last hour."""
    ctx = {n: None for n in CONTEXT}
    ctx.update(amount_minor=3_000_00, channel="web", kind="transfer", product="demand", saved_payee=0,
               own_account=0, counterparty_age_days=0.001, model_score=None, is_night=1, hour=2,
               new_terminal=1, cust_n_1h=45, cust_n_1d=45, amount_ratio_max_30d=30.0, term_risk_30d=0.0,
               term_known_n_30d=0)
    ctx.update(kw)
    return ctx


def test_defaults_leave_ordinary_banking_alone_and_catch_their_cases(session):
    R.seed_defaults(session)
    rs = R.load_ruleset(session)
    assert rs.evaluate(_ordinary()) == []
    assert rs.evaluate(_ordinary(amount_minor=9_999_99, is_night=0)) == []  # 9,999.99 yuan by day
    assert rs.evaluate(_ordinary(amount_minor=10_000_000_00, own_account=1, new_terminal=0)) == []  # own move

    def codes(**kw):
        return [(h.code, h.action) for h in rs.evaluate(_ordinary(**kw))]

    assert codes(amount_minor=1_000_000_00, is_night=0, cust_n_1h=0)[0] == ("large_to_new_account", "block")
    assert ("new_payee_unusual_amount", "review") in codes(amount_minor=60_000_00, is_night=0, cust_n_1h=0)
    assert codes(amount_minor=20_000_00, cust_n_1h=0, amount_ratio_max_30d=1.0) == [("night_new_payee", "challenge")]
    assert codes(amount_minor=10_000_00, is_night=0, amount_ratio_max_30d=1.0) == [
        ("burst_then_new_payee", "challenge")]
    assert codes(term_risk_30d=0.5, term_known_n_30d=4) == [("known_fraud_counterparty", "review")]


@pytest.mark.parametrize("action", ["flag", "challenge", "review", "block"])
def test_each_action_is_reported_with_its_words(session, action):
    R.create(session, actor=OFFICER, mode="active", **rule_kw(action=action))
    [hit] = R.load_ruleset(session).evaluate({"amount_minor": 100})
    assert hit == R.RuleHit(code="big_web", version=1, action=action, shadow=False, name_en="Big on web",
                            name_zh="网页大额", reason_en="A large payment.", reason_zh="大额付款。")
    assert hit.as_json() == {"code": "big_web", "version": 1, "action": action, "shadow": False}
    assert R.load_ruleset(session).evaluate({"amount_minor": 99}) == []


def test_versions_modes_fingerprint_and_audit(session):
    f0 = R.fingerprint(session)
    assert f0 == "r0-0"
    r = R.create(session, actor=OFFICER, **rule_kw())
    assert (r["version"], r["mode"]) == (1, "shadow")  # a new rule starts in shadow
    f1 = R.fingerprint(session)
    assert f1 != f0 and R.load_ruleset(session).version == f1
    [hit] = R.load_ruleset(session).evaluate({"amount_minor": 500})
    assert hit.shadow
    r2 = R.edit(session, actor=OFFICER, code="big_web", expression="amount_minor >= 1000")
    assert (r2["version"], r2["mode"], r2["name_en"]) == (2, "shadow", "Big on web")
    assert R.load_ruleset(session).evaluate({"amount_minor": 500}) == []
    r3 = R.set_mode(session, actor=OFFICER, code="big_web", mode="active", reason="test")
    assert (r3["version"], r3["mode"], r3["expression"]) == (3, "active", "amount_minor >= 1000")
    [hit] = R.load_ruleset(session).evaluate({"amount_minor": 5000})
    assert (hit.version, hit.shadow) == (3, False)
    R.set_mode(session, actor=OFFICER, code="big_web", mode="retired", reason="test")
    assert len(R.load_ruleset(session)) == 0
    assert [v["version"] for v in R.versions(session, actor=OFFICER, code="big_web")] == [1, 2, 3, 4]
    assert R.get_rule(session, actor=OFFICER, code="big_web")["retired_at"] is not None
    with pytest.raises(Conflict):
        R.edit(session, actor=OFFICER, code="big_web", name_en="x")
    with pytest.raises(Conflict):
        R.set_mode(session, actor=OFFICER, code="big_web", mode="retired", reason="test")
    R.set_mode(session, actor=OFFICER, code="big_web", mode="shadow", reason="test")
    assert len(R.load_ruleset(session)) == 1
    actions = session.scalars(select(AuditLog.action).where(AuditLog.object_type == "risk_rule")
                              .order_by(AuditLog.id)).all()
    assert actions == ["risk.rule.create", "risk.rule.edit", "risk.rule.mode", "risk.rule.retire", "risk.rule.mode"]
    assert [r["code"] for r in R.list_rules(session, actor=OFFICER)][-1] != "nothing"
    assert "big_web" in {r["code"] for r in R.list_rules(session, actor=ADMIN)}


def test_refusals_write_nothing(session):
    R.create(session, actor=OFFICER, **rule_kw())
    before = (session.scalar(select(func.count()).select_from(RiskRule)),
              session.scalar(select(func.count()).select_from(AuditLog)))
    bad = [
        lambda: R.create(session, actor=OFFICER, **rule_kw()),  # the code exists
        lambda: R.create(session, actor=OFFICER, **rule_kw(code="Bad Code")),
        lambda: R.create(session, actor=OFFICER, **rule_kw(code="x2", action="freeze")),
        lambda: R.create(session, actor=OFFICER, **rule_kw(code="x2", expression="open('x')")),
        lambda: R.create(session, actor=OFFICER, **rule_kw(code="x2", reason_en=" ")),
        lambda: R.create(session, actor=OFFICER, **rule_kw(code="x2", mode="retired")),
        lambda: R.edit(session, actor=OFFICER, code="big_web", expression="amount_minor >"),
        lambda: R.edit(session, actor=OFFICER, code="big_web"),  # nothing changes
        lambda: R.edit(session, actor=OFFICER, code="nope", name_en="x"),
        lambda: R.set_mode(session, actor=OFFICER, code="big_web", mode="paused", reason="test"),
        lambda: R.set_mode(session, actor=OFFICER, code="big_web", mode="shadow", reason="test"),  # already
    ]
    for call in bad:
        with pytest.raises((ValidationFailed, Conflict, NotFound)):
            call()
    for who in (TELLER, CUSTOMER):
        for call in (lambda w=who: R.create(session, actor=w, **rule_kw(code="x3")),
                     lambda w=who: R.edit(session, actor=w, code="big_web", name_en="x"),
                     lambda w=who: R.set_mode(session, actor=w, code="big_web", mode="active", reason="test"),
                     lambda w=who: R.list_rules(session, actor=w),
                     lambda w=who: R.versions(session, actor=w, code="big_web"),
                     lambda w=who: R.rule_stats(session, actor=w),
                     lambda w=who: R.test_rule(session, actor=w, expression="amount_minor > 1", action="flag",
                                               start=date(2024, 1, 1), end=date(2024, 1, 2))):
            with pytest.raises(Forbidden):
                call()
    after = (session.scalar(select(func.count()).select_from(RiskRule)),
             session.scalar(select(func.count()).select_from(AuditLog)))
    assert after == before


def test_a_rule_that_no_longer_compiles_is_left_out(session):
    R.create(session, actor=OFFICER, mode="active", **rule_kw())
    session.execute(update(RiskRule).values(expression="renamed_feature > 1"))
    rs = R.load_ruleset(session)
    assert len(rs) == 0 and rs.broken[0][0] == "big_web"


# ------------------------------------------------------------------------------------------------ backtest


def hand_frame() -> pl.DataFrame:
    """Six payments with known answers: amounts 1..6 yuan, frauds at 5 and 6, genuine 1..3, 4 unknown."""
    t0 = datetime(2024, 5, 1, 10)
    rows = [{"tx_id": i, "ts": t0 + timedelta(minutes=i), "customer_id": 1, "terminal_id": 10 + i,
             "amount_minor": 100 * i, "fraud": f, "channel": ch}
            for i, f, ch in [(1, 0, "web"), (2, 0, "api"), (3, 0, "web"), (4, None, "web"), (5, 1, "api"),
                             (6, 1, "web")]]
    return _finish(pl.DataFrame(rows, schema_overrides={"fraud": pl.Int8}))


@pytest.mark.parametrize(("action", "saved", "challenged"), [("block", 1100, 0), ("review", 1100, 0),
                                                              ("challenge", 0, 1100), ("flag", 0, 0)])
def test_backtest_figures_on_known_history(action, saved, challenged):
    out = R.backtest(hand_frame(), "amount_minor >= 300", action, sample=2)
    assert (out["scanned"], out["hits"], out["hit_rate"]) == (6, 4, round(4 / 6, 6))
    assert (out["frauds"], out["frauds_hit"], out["recall"]) == (2, 2, 1.0)
    assert (out["labelled_hits"], out["false_positives"], out["unlabelled_hits"]) == (3, 1, 1)
    assert out["precision"] == round(2 / 3, 6)
    assert (out["money_saved_minor"], out["challenged_fraud_minor"]) == (saved, challenged)
    assert (out["genuine_hit_minor"], out["fraud_minor"]) == (300, 1100)
    assert [s["tx_id"] for s in out["sample"]] == [3, 4]
    part = R.backtest(hand_frame(), 'channel == "api"', "block")
    assert (part["hits"], part["frauds_hit"], part["recall"], part["precision"]) == (2, 1, 0.5, 0.5)
    none = R.backtest(hand_frame(), "model_score > 0.1", "block")
    assert (none["hits"], none["precision"], none["recall"]) == (0, None, 0.0)


def _at_local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=R.LOCAL_TZ).astimezone(UTC)


def test_history_frame_and_backtest_on_the_bank(bank, engine):
    a = bank.customer("王芳")
    b = bank.customer("李雷")
    a1 = bank.account(a, balance=1_000_000_00)
    a2 = bank.account(a, kind="savings")
    b1 = bank.account(b)
    day = date(2024, 5, 10)
    moves = [(a1, b1, 500_00, _at_local(day - timedelta(days=20), 12)),  # before the period: b1 is known
             (a1, b1, 800_00, _at_local(day, 2, 30)),  # night, known payee
             (a1, a2, 50_000_00, _at_local(day, 9)),  # own account
             (a1, b1, 60_000_00, _at_local(day, 23, 59))]  # big, to b1 - a fraud, reported
    ids = []
    with db.session_scope(engine) as s:
        for i, (d, c, amt, when) in enumerate(moves):
            r = ledger.transfer(s, ledger.TransferCommand(key=f"h{i}", debit_account_id=d, credit_account_id=c,
                                                          amount_minor=amt, currency="CNY", kind="transfer"))
            ids.append(int(r.transfer["id"]))
            s.execute(text("UPDATE transfers SET created_at = :w WHERE id = :i"), {"w": when, "i": ids[-1]})
        s.execute(text("UPDATE accounts SET created_at = :w WHERE id IN (:a, :b)"),
                  {"w": _at_local(day - timedelta(days=30), 8), "a": a1, "b": b1})
        s.execute(text("UPDATE accounts SET created_at = :w WHERE id = :a"), {"w": _at_local(day, 8, 30), "a": a2})
        number = s.scalar(text("SELECT number FROM accounts WHERE id = :i"), {"i": b1})
        s.add(Payee(customer_id=a, name="李雷", account_number=number, created_at=_at_local(day, 12)))
        s.add(RiskLabel(transfer_id=ids[3], label=1, source="case", created_at=clock.now()))
        s.add(RiskLabel(transfer_id=ids[1], label=0, source="case", created_at=clock.now()))
        s.add(RiskDecision(transfer_id=ids[3], customer_id=a, account_id=a1, counterparty_account_id=b1,
                           channel="api", kind="transfer", product="demand", amount_minor=60_000_00, currency="CNY",
                           decision="allow", score=0.42, model_version="m1", rule_hits=[]))
    with db.session_scope(engine) as s:
        f = R.history_frame(s, day, day)
    assert f["tx_id"].to_list() == ids[1:]
    assert f.schema["ts"] == pl.Datetime("us") and f["ts"][0] == datetime(2024, 5, 10, 2, 30)
    r = {row["tx_id"]: row for row in f.iter_rows(named=True)}
    night, own, big = r[ids[1]], r[ids[2]], r[ids[3]]
    assert (night["customer_id"], night["terminal_id"], night["fraud"]) == (a, b1, 0)
    assert night["is_night"] == 1 and night["new_terminal"] == 0 and night["cust_term_n_prev"] == 1  # earlier pay
    assert night["saved_payee"] == 0 and night["own_account"] == 0 and night["product"] == "demand"
    assert night["counterparty_age_days"] == pytest.approx(30 - 5.5 / 24, abs=1e-6)
    assert night["channel"] is None and night["kind"] == "transfer"
    assert own["own_account"] == 1 and own["new_terminal"] == 1 and own["counterparty_age_days"] == pytest.approx(
        0.5 / 24)
    assert big["saved_payee"] == 1 and big["fraud"] == 1 and big["channel"] == "api" and big["model_score"] == 0.42
    assert big["cust_n_1d"] == 2 and big["amount_ratio_max_30d"] == pytest.approx(60_000 / 50_000)
    with db.session_scope(engine) as s:
        out = R.test_rule(s, actor=OFFICER, expression="amount_minor >= 1000000 and own_account == 0",
                          action="review", start=day, end=day)
    assert (out["scanned"], out["hits"], out["frauds"], out["frauds_hit"], out["precision"]) == (3, 1, 1, 1, 1.0)
    assert out["money_saved_minor"] == 60_000_00 and out["source"] == "bank"
    with db.session_scope(engine) as s:
        assert R.history_frame(s, day + timedelta(days=1), day + timedelta(days=2)).height == 0


@pytest.mark.any_backend
def test_file_source(gz_file: Path, tx, monkeypatch, session):
    start, end = date(2018, 5, 10), date(2018, 5, 16)
    f = R.file_frame(gz_file, start, end)
    inside = tx.filter(pl.col("ts") >= datetime(2018, 5, 10), pl.col("ts") < datetime(2018, 5, 17))
    assert f.height == inside.height and f["fraud"].sum() == inside["fraud"].sum()
    assert set(f["kind"].unique()) == {"card_payment"} and f["saved_payee"].max() == 0
    # features match a full recompute over the whole file (the warm-up window is long enough)
    from smartbank.risk.features import build_features
    full = build_features(tx, delay_days=R.DELAY_DAYS).filter(pl.col("tx_id").is_in(f["tx_id"].implode())) \
        .sort("ts", "tx_id")
    for name in ("cust_n_30d", "amount_ratio_max_30d", "term_risk_30d", "new_terminal", "cust_term_n_prev"):
        assert f[name].to_list() == full[name].cast(pl.Float64).fill_nan(None).to_list(), name
    out = R.backtest(f, "amount_minor > 22000", "block")
    assert out["hits"] == out["frauds_hit"] and out["precision"] == 1.0  # the generator's rule: > 220 is fraud
    # through the service: only files under the datasets directory
    monkeypatch.setenv("SMARTBANK_DATASETS_DIR", str(gz_file.parent.parent))
    config.reset_settings()
    try:
        got = R.test_rule(session, actor=OFFICER, expression="amount_minor > 22000", action="block", start=start,
                          end=end, source=f"{gz_file.parent.name}/{gz_file.name}")
        assert got["hits"] == out["hits"]
        for bad in ("../etc/passwd", "/etc/passwd", "nope.csv"):
            with pytest.raises(ValidationFailed):
                R.test_rule(session, actor=OFFICER, expression="amount_minor > 1", action="block", start=start,
                            end=end, source=bad)
    finally:
        config.reset_settings()
    with pytest.raises(ValidationFailed):
        R.file_frame(gz_file, end, start)


# ------------------------------------------------------------------------------------------------ live figures


def test_rule_stats_from_decisions_and_labels(session):
    R.create(session, actor=OFFICER, mode="active", **rule_kw(code="stopper", action="block"))
    R.create(session, actor=OFFICER, mode="active", **rule_kw(code="asker", action="challenge"))
    R.create(session, actor=OFFICER, mode="shadow", **rule_kw(code="trial", action="review"))
    hit = {"stopper": {"code": "stopper", "version": 1, "action": "block", "shadow": False},
           "asker": {"code": "asker", "version": 1, "action": "challenge", "shadow": False},
           "trial": {"code": "trial", "version": 1, "action": "review", "shadow": True}}
    old = datetime(2024, 1, 1, tzinfo=UTC)
    # (transfer id, amount, hits, label, when)
    rows = [(1, 1000, ["stopper", "trial"], 1, None), (2, 2000, ["stopper"], 0, None), (3, 4000, ["asker"], 1, None),
            (4, 8000, ["trial"], 1, None), (5, 16000, ["asker", "trial"], None, None), (6, 99, ["stopper"], 1, old),
            (7, 5, [], 1, None)]
    for tid, amt, codes, label, when in rows:
        d = RiskDecision(transfer_id=tid, customer_id=1, account_id=1, channel="web", kind="transfer",
                         amount_minor=amt, currency="CNY", decision="allow", model_version="rules-only",
                         rule_hits=[hit[c] for c in codes])
        if when is not None:
            d.created_at = when
        session.add(d)
        if label is not None:
            session.add(RiskLabel(transfer_id=tid, label=label, source="case"))
    session.flush()
    s = {r["code"]: r for r in R.rule_stats(session, since=datetime(2024, 6, 1, tzinfo=UTC))}
    assert (s["stopper"]["hits"], s["stopper"]["labelled"], s["stopper"]["frauds"]) == (2, 2, 1)
    assert s["stopper"]["precision"] == 0.5 and s["stopper"]["saved_minor"] == 1000
    assert (s["asker"]["hits"], s["asker"]["challenged_fraud_minor"], s["asker"]["saved_minor"]) == (2, 4000, 0)
    assert (s["trial"]["hits"], s["trial"]["shadow_hits"], s["trial"]["shadow_frauds"]) == (0, 3, 2)
    assert s["trial"]["shadow_would_save_minor"] == 9000 and s["trial"]["shadow_precision"] == 1.0
    everything = {r["code"]: r for r in R.rule_stats(session, actor=OFFICER)}
    assert everything["stopper"]["hits"] == 3 and everything["stopper"]["saved_minor"] == 1099


def test_test_period_is_checked(session):
    for start, end in ((date(2024, 5, 2), date(2024, 5, 1)), (date(2022, 1, 1), date(2024, 1, 1))):
        with pytest.raises(ValidationFailed):
            R.test_rule(session, actor=OFFICER, expression="amount_minor > 1", action="flag", start=start, end=end)
    assert R.history_frame(session, date(2022, 1, 1), date(2024, 1, 1)).height == 0  # long reads are allowed
