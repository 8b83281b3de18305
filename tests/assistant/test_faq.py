"""The knowledge base: matching paraphrases in Chinese and English, the threshold, staff-only editing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smartbank import db
from smartbank.assistant import faq, faq_seed
from smartbank.assistant.models import FaqEntry
from smartbank.errors import Forbidden, ValidationFailed
from smartbank.security.models import AuditLog
from smartbank.security.service import SYSTEM, Principal

AGENT = Principal(user_id=0, username="agent", role="service_agent", customer_id=None, display_name="agent")
CUSTOMER = Principal(user_id=0, username="c", role="customer", customer_id=1, display_name="c")

# Held out: none of these is a question or variant of the seed. (text, English question of the right entry)
HELD_OUT: list[tuple[str, str]] = [
    ("客服热线几点到几点有人接", "What are the customer service hotline hours?"),
    ("what time does your call centre open", "What are the customer service hotline hours?"),
    ("我每天转账最多转多少", "What is the daily transfer limit?"),
    ("is there a limit on how much I can send each day", "What is the daily transfer limit?"),
    ("转账到其他银行多长时间能到账", "How long does a transfer to another bank take?"),
    ("how long until money sent to another bank arrives", "How long does a transfer to another bank take?"),
    ("我的密码忘记了怎么办", "I forgot my password. How do I reset it?"),
    ("how can I reset my password", "I forgot my password. How do I reset it?"),
    ("我的银行卡丢失了", "I lost my bank card. What should I do?"),
    ("someone stole my card what do I do", "I lost my bank card. What should I do?"),
    ("一年定期存款利率多少", "What are your time deposit rates?"),
    ("what interest do you pay on fixed deposits", "What are your time deposit rates?"),
    ("等额本金和等额本息哪个好", "What is the difference between equal instalments and equal principal?"),
    ("我想提前还清贷款", "Can I repay my loan early?"),
    ("can I pay back my loan before the end of the term", "Can I repay my loan early?"),
    ("贷款逾期了罚息怎么计算", "What happens if a loan payment is overdue? How is penalty interest charged?"),
    ("风险测评过期了还能买理财吗", "How long is my risk assessment valid?"),
    ("how long does my risk assessment last", "How long is my risk assessment valid?"),
    ("买了理财多久确认份额", "When are wealth product purchases confirmed?"),
    ("我要换绑定的手机号", "How do I change my registered phone number?"),
    ("how do I change the phone number on my account", "How do I change my registered phone number?"),
    ("现在的LPR是多少", "How are loan rates set? What is the LPR?"),
    ("跨行转账要手续费吗", "Are there fees for transfers?"),
    ("账户被冻结了怎么解冻", "My account is frozen. Why and what can I do?"),
]
UNRELATED = ["今天天气怎么样", "帮我订一张去上海的机票", "what is the capital of France", "tell me a joke",
             "推荐一部好看的电影", "how do I cook rice"]


@pytest.fixture
def seeded(engine):
    db.run_in_transaction(lambda s: faq_seed.seed(s, SYSTEM), engine=engine)
    faq.clear_cache()
    return db.run_in_transaction(lambda s: {e.question_en: e.id for e in s.scalars(select(FaqEntry))}, engine=engine)


def _match(engine, text, language="zh"):
    return db.run_in_transaction(lambda s: faq.match(s, text, language=language), engine=engine)


def test_seed_is_rerunnable(engine, seeded):
    assert len(seeded) == len(faq_seed.ENTRIES) >= 30
    again = db.run_in_transaction(lambda s: faq_seed.seed(s, SYSTEM), engine=engine)
    assert again == {"created": 0, "existing": len(faq_seed.ENTRIES), "updated": 0}


def test_paraphrases_hit_the_right_entry(engine, seeded):
    hits = 0
    for text, question in HELD_OUT:
        m = _match(engine, text, "en")
        if m is not None and m.entry_id == seeded[question]:
            hits += 1
    false = sum(1 for text, question in HELD_OUT
                if (m := _match(engine, text, "zh")) is not None and m.entry_id != seeded[question])
    assert hits / len(HELD_OUT) >= 0.8, hits
    assert false <= 1
    m = _match(engine, "我的银行卡丢了怎么办", "zh")
    assert m is not None and m.entry_id == seeded["I lost my bank card. What should I do?"]
    assert "挂失" in m.answer and m.question.startswith("银行卡") and faq.THRESHOLD <= m.confidence <= 1
    m = _match(engine, "I lost my card", "en")
    assert m is not None and "Report it" in m.answer


def test_unrelated_questions_return_none(engine, seeded):
    for text in UNRELATED:
        assert _match(engine, text, "zh") is None, text
    assert _match(engine, "", "zh") is None
    assert _match(engine, "！？。", "en") is None


def test_no_entries_no_match(engine):
    faq.clear_cache()
    assert _match(engine, "银行卡丢了", "zh") is None


def test_edit_rebuilds_the_index_and_deactivated_entries_are_not_matched(engine, seeded):
    eid = seeded["I lost my bank card. What should I do?"]
    assert _match(engine, "我的银行卡丢失了", "zh").entry_id == eid
    out = db.run_in_transaction(lambda s: faq.set_active(s, AGENT, eid, False), engine=engine)
    assert out["active"] is False and out["version"] == 2
    m = _match(engine, "我的银行卡丢失了", "zh")
    assert m is None or m.entry_id != eid
    out = db.run_in_transaction(lambda s: faq.update_entry(s, AGENT, eid, variants=["卡片不见了"], version=2),
                                engine=engine)
    db.run_in_transaction(lambda s: faq.set_active(s, AGENT, eid, True), engine=engine)
    assert _match(engine, "卡片不见了", "zh").entry_id == eid
    assert db.run_in_transaction(lambda s: s.get(FaqEntry, eid).version, engine=engine) == 4
    actions = db.run_in_transaction(lambda s: [a.action for a in s.scalars(select(AuditLog).where(
        AuditLog.object_type == "faq_entry", AuditLog.object_id == str(eid)))], engine=engine)
    assert actions.count("faq.update") == 1 and "faq.deactivate" in actions and "faq.activate" in actions


def test_staff_only_editing_and_validation(engine):
    fields = {"question_zh": "问", "question_en": "Q", "answer_zh": "答", "answer_en": "A"}
    with pytest.raises(Forbidden):
        db.run_in_transaction(lambda s: faq.create_entry(s, CUSTOMER, **fields), engine=engine)
    with pytest.raises(ValidationFailed):
        db.run_in_transaction(lambda s: faq.create_entry(s, AGENT, **{**fields, "answer_en": " "}), engine=engine)
    with pytest.raises(ValidationFailed):
        db.run_in_transaction(lambda s: faq.create_entry(s, AGENT, **fields, category="nope"), engine=engine)
    assert db.run_in_transaction(lambda s: s.scalar(select(FaqEntry.id)), engine=engine) is None
    out = db.run_in_transaction(lambda s: faq.create_entry(s, AGENT, **fields, variants=["x", "x", ""]),
                                engine=engine)
    assert out["variants"] == ["x"] and out["version"] == 1
    from smartbank.errors import Conflict

    with pytest.raises(Conflict):
        db.run_in_transaction(lambda s: faq.update_entry(s, AGENT, out["id"], answer_en="B", version=7),
                              engine=engine)
    with pytest.raises(Forbidden):
        db.run_in_transaction(lambda s: faq.update_entry(s, CUSTOMER, out["id"], answer_en="B"), engine=engine)
    assert db.run_in_transaction(lambda s: s.scalar(select(AuditLog.action).where(
        AuditLog.object_type == "faq_entry")), engine=engine) == "faq.create"


# ------------------------------------------------------------------------------------------------ catalogue figures


@pytest.fixture
def catalogue(engine):
    from smartbank import clock
    from smartbank.lending import seed as lending_seed
    from smartbank.wealth import seed as wealth_seed

    def work(s):
        wealth_seed.seed(s, until=clock.today(), codes=["TD3M", "TD6M", "TD1Y", "TD2Y", "TD3Y", "WMP-CASH", "WMP-FI"])
        lending_seed.seed(s)

    db.run_in_transaction(work, engine=engine)


def _catalogue_rates(engine) -> set[float]:
    """Every percentage the catalogue stands behind today: deposit rates, loan rate bounds, the LPRs and the
    penalty markup."""
    from smartbank import clock
    from smartbank.lending import products as loan_products
    from smartbank.wealth import products as wealth_products

    def work(s):
        out = {p["rate_bps"] / 100 for p in wealth_products.list_products(s) if p.get("rate_bps") is not None}
        for p in loan_products.list_products(s):
            out |= {b / 100 for b in loan_products.rate_bounds(s, p, clock.today())}
            out.add(loan_products.rate_on(s, p.reference_rate, clock.today()) / 100)
            out.add(float(p.penalty_markup) * 100)
        return out

    return db.run_in_transaction(work, engine=engine)


def test_every_rate_quoted_in_an_answer_is_the_catalogues(engine, catalogue, seeded):
    from smartbank.assistant import faq_facts

    allowed = _catalogue_rates(engine)
    assert 0.95 in allowed and 1.25 in allowed  # TD1Y and TD3Y
    quoted = 0
    for entry in faq_seed.ENTRIES:
        for lang in ("zh", "en"):
            text = db.run_in_transaction(
                lambda s, e=entry, lg=lang: faq_facts.render(s, e[f"answer_{lg}"], language=lg), engine=engine)
            assert "{{" not in text, text
            for rate in faq_facts.quoted_rates(text):
                quoted += 1
                assert rate in allowed, (entry["question_en"], lang, rate, text)
    assert quoted >= 20
    zh = _match(engine, "一年定期存款利率多少", "zh").answer
    en = _match(engine, "what interest do you pay on fixed deposits", "en").answer
    assert "1年 0.95%" in zh and "1 year 0.95%" in en
    assert "1.25%" not in zh.split("1年")[1].split("，")[0]  # the old 1-year figure is gone


def test_an_answer_follows_a_rate_change_in_the_catalogue(engine, catalogue, seeded):
    from sqlalchemy import update

    from smartbank.wealth.models import WealthProduct

    db.run_in_transaction(lambda s: s.execute(update(WealthProduct).where(WealthProduct.code == "TD1Y")
                                              .values(rate_bps=110)), engine=engine)
    assert "1年 1.10%" in _match(engine, "定期存款利率是多少", "zh").answer


def test_no_catalogue_no_invented_figure(engine, seeded):
    text = _match(engine, "定期存款利率是多少", "zh").answer
    assert "%" not in text and "产品页面" in text


def test_password_answer_is_how_the_bank_really_works(engine, seeded, client):
    login_page = client.get("/login").text
    client.cookies.set("sb_lang", "en")
    login_page_en = client.get("/login").text
    # the answers name the link the sign-in page really shows, and the channel the reset really uses
    assert "忘记密码？" in login_page and "Forgot your password?" in login_page_en
    for text, lang in (("我的密码忘记了怎么办", "zh"), ("how can I reset my password", "en")):
        answer = _match(engine, text, lang).answer
        assert ("“忘记密码？”" in answer and "短信验证码" in answer and "网点" in answer) if lang == "zh" else \
            ("'Forgot your password?'" in answer and "text-message code" in answer and "branch" in answer)
        assert "不能自助找回" not in answer and "cannot recover" not in answer
    locked = _match(engine, "account locked", "en").answer
    assert "5 wrong passwords" in locked and "15 minutes" in locked and "reset the password;" not in locked


def test_seed_brings_unedited_old_answers_up_to_date(engine):
    q = "What are your time deposit rates?"
    old_zh, old_en = faq_seed._SUPERSEDED[q]
    entry = next(e for e in faq_seed.ENTRIES if e["question_en"] == q)
    edited = next(e for e in faq_seed.ENTRIES if e["question_en"] == "I forgot my password. How do I reset it?")
    db.run_in_transaction(lambda s: (faq.create_entry(s, SYSTEM, **{**entry, "answer_zh": old_zh,
                                                                     "answer_en": old_en}),
                                     faq.create_entry(s, SYSTEM, **{**edited, "answer_zh": "请到网点办理。",
                                                                    "answer_en": "Visit a branch."})),
                          engine=engine)
    out = db.run_in_transaction(lambda s: faq_seed.seed(s, SYSTEM), engine=engine)
    assert out["updated"] == 1 and out["created"] == len(faq_seed.ENTRIES) - 2
    rows = db.run_in_transaction(lambda s: {e.question_en: (e.answer_zh, e.version) for e in s.scalars(
        select(FaqEntry))}, engine=engine)
    assert rows[q] == (entry["answer_zh"], 2)
    assert rows[edited["question_en"]] == ("请到网点办理。", 1)
