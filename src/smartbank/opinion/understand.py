"""Understanding a mention: the bank's names and products it names, its sentiment, topics and language.

- **Watch list** (``opinion_watch_terms``): the bank's names and aliases (:data:`BANK_NAMES`, more can be added)
  and the product names of the wealth and lending catalogues, read through their front doors
  (:func:`sync_products`). A term is found by a case-insensitive substring match; a mention is *relevant* when it
  names the bank or one of its products, and only relevant mentions count towards spikes.
- **Sentiment**: the assistant's Chinese sentiment model (``assistant.score_sentiment``: the trained character
  n-gram model blended with the lexicon, or the lexicon alone before a model is trained); the score (-1 .. 1),
  its label (:data:`NEGATIVE_AT` / :data:`POSITIVE_AT`) and the model version are stored with the mention.
- **Topics** (``opinion_topics``): keyword rules in zh and en, editable (:func:`save_topic`); a mention has every
  active topic one of whose keywords it contains (substring, case-insensitive for English).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.assistant import service as assistant
from smartbank.errors import ValidationFailed
from smartbank.lending import service as lending
from smartbank.opinion.models import Topic, WatchTerm
from smartbank.security.service import Principal, audit
from smartbank.wealth import service as wealth

__all__ = ["BANK_NAMES", "DEFAULT_TOPICS", "NEGATIVE_AT", "POSITIVE_AT", "add_watch_term", "analyse", "list_topics",
           "list_watch_terms", "save_topic", "seed_understanding", "sentiment_label", "sync_products"]

BANK_NAMES = ("智慧银行", "智行银行", "SmartBank", "Smart Bank")
NEGATIVE_AT = -0.2  # score <= this: negative
POSITIVE_AT = 0.2  # score >= this: positive

DEFAULT_TOPICS: tuple[dict[str, Any], ...] = (
    {"code": "service_attitude", "name_zh": "服务态度", "name_en": "Service attitude",
     "keywords_zh": ["态度", "服务差", "不耐烦", "客服", "柜员", "爱答不理"],
     "keywords_en": ["attitude", "rude", "customer service", "unhelpful"]},
    {"code": "fees", "name_zh": "收费", "name_en": "Fees",
     "keywords_zh": ["收费", "手续费", "年费", "乱收费", "扣费", "管理费"],
     "keywords_en": ["fee", "fees", "charge", "charged", "overcharge"]},
    {"code": "outage", "name_zh": "系统故障", "name_en": "System outage",
     "keywords_zh": ["故障", "崩了", "宕机", "登不上", "打不开", "闪退", "无法转账", "转不了", "系统维护"],
     "keywords_en": ["outage", "down", "crash", "cannot log in", "can't log in", "not working"]},
    {"code": "fraud", "name_zh": "诈骗", "name_en": "Fraud",
     "keywords_zh": ["诈骗", "骗子", "被骗", "盗刷", "冒充", "钓鱼"],
     "keywords_en": ["scam", "fraud", "phishing", "stolen"]},
    {"code": "wealth_loss", "name_zh": "理财亏损", "name_en": "Wealth product losses",
     "keywords_zh": ["亏损", "亏了", "爆雷", "赔钱", "净值下跌", "跌破"],
     "keywords_en": ["loss", "lost money", "losing money"]},
)


def sentiment_label(score: float) -> str:
    return "negative" if score <= NEGATIVE_AT else "positive" if score >= POSITIVE_AT else "neutral"


def seed_understanding(session: Session) -> dict[str, int]:
    """The bank's names and the default topics (if missing), and the catalogues' product names."""
    have = {(k, t) for k, t in session.execute(select(WatchTerm.kind, WatchTerm.term))}
    names = 0
    for n in BANK_NAMES:
        if ("bank", n) not in have:
            session.add(WatchTerm(kind="bank", term=n, active=True))
            names += 1
    codes = set(session.scalars(select(Topic.code)))
    topics = 0
    for t in DEFAULT_TOPICS:
        if t["code"] not in codes:
            session.add(Topic(active=True, updated_by="system", updated_at=clock.now(), **t))
            topics += 1
    session.flush()
    return {"bank_names": names, "topics": topics, "products": sync_products(session)}


def sync_products(session: Session) -> int:
    """Add the wealth and lending catalogues' product names (zh and en) to the watch list; returns terms added."""
    have = {t for (t,) in session.execute(select(WatchTerm.term).where(WatchTerm.kind == "product"))}
    found: list[tuple[str, str]] = []
    for p in wealth.list_products(session, status=None):
        found += [(p["name_zh"], f"wealth:{p['code']}"), (p["name_en"], f"wealth:{p['code']}")]
    for lp in lending.list_products(session):
        found += [(lp.name_zh, f"lending:{lp.code}"), (lp.name_en, f"lending:{lp.code}")]
    added = 0
    for term, ref in found:
        term = (term or "").strip()
        if len(term) >= 2 and term not in have:
            session.add(WatchTerm(kind="product", term=term[:160], ref=ref, active=True))
            have.add(term)
            added += 1
    session.flush()
    return added


def list_watch_terms(session: Session, actor: Principal) -> list[dict[str, Any]]:
    actor.require("opinion.read")
    rows = session.scalars(select(WatchTerm).order_by(WatchTerm.kind, WatchTerm.term))
    return [{"id": w.id, "kind": w.kind, "term": w.term, "ref": w.ref, "active": w.active} for w in rows]


def add_watch_term(session: Session, actor: Principal, term: str, *, kind: str = "bank") -> dict[str, Any]:
    """Add one of the bank's names or aliases (or a product name) to the watch list."""
    actor.require("opinion.ingest")
    term = (term or "").strip()
    if kind not in ("bank", "product"):
        raise ValidationFailed("unknown watch-list kind", reason="opinion.bad_watch_kind", details={"kind": kind})
    if not 2 <= len(term) <= 160:
        raise ValidationFailed("a watch-list term has 2-160 characters", reason="opinion.bad_term",
                               details={"max_length": 160})
    w = session.scalars(select(WatchTerm).where(WatchTerm.kind == kind, WatchTerm.term == term)).first()
    if w is None:
        w = WatchTerm(kind=kind, term=term, active=True)
        session.add(w)
        session.flush()
        audit(session, actor, action="opinion.watch_term.add", object_type="opinion_watch_term", object_id=w.id,
              after={"kind": kind, "term": term})
    return {"id": w.id, "kind": w.kind, "term": w.term, "ref": w.ref, "active": w.active}


def _topic_dict(t: Topic) -> dict[str, Any]:
    return {"id": t.id, "code": t.code, "name_zh": t.name_zh, "name_en": t.name_en, "keywords_zh": list(t.keywords_zh),
            "keywords_en": list(t.keywords_en), "active": t.active, "updated_by": t.updated_by}


def list_topics(session: Session, actor: Principal) -> list[dict[str, Any]]:
    actor.require("opinion.read")
    return [_topic_dict(t) for t in session.scalars(select(Topic).order_by(Topic.code))]


def _keywords(words: list[str] | None) -> list[str]:
    out = list(dict.fromkeys(w.strip() for w in (words or []) if w and w.strip()))
    if len(out) > 100 or any(len(w) > 40 for w in out):
        raise ValidationFailed("at most 100 keywords of up to 40 characters", reason="opinion.bad_keywords",
                               details={"max_keywords": 100, "max_length": 40})
    return out


def save_topic(session: Session, actor: Principal, code: str, *, name_zh: str | None = None,
               name_en: str | None = None, keywords_zh: list[str] | None = None,
               keywords_en: list[str] | None = None, active: bool | None = None) -> dict[str, Any]:
    """Create a topic or change its names, keywords or ``active`` (audited)."""
    actor.require("opinion.respond")
    code = (code or "").strip().lower()
    if not code or len(code) > 40 or not all(c.isalnum() or c == "_" for c in code) or not code.isascii():
        raise ValidationFailed("a topic code is 1-40 letters, digits or _", reason="opinion.bad_topic_code",
                               details={"max_length": 40})
    t = session.scalars(select(Topic).where(Topic.code == code)).first()
    before = _topic_dict(t) if t is not None else None
    if t is None:
        if not (name_zh and name_en):
            raise ValidationFailed("a new topic needs names in zh and en", reason="opinion.topic_names_required")
        t = Topic(code=code, name_zh=name_zh, name_en=name_en, keywords_zh=[], keywords_en=[], active=True)
        session.add(t)
    for field, value in (("name_zh", name_zh), ("name_en", name_en)):
        if value is not None:
            if not 1 <= len(value.strip()) <= 80:
                raise ValidationFailed("a topic name has 1-80 characters", reason="opinion.bad_topic_name",
                                       details={"max_length": 80})
            setattr(t, field, value.strip())
    if keywords_zh is not None:
        t.keywords_zh = _keywords(keywords_zh)
    if keywords_en is not None:
        t.keywords_en = [w.lower() for w in _keywords(keywords_en)]
    if active is not None:
        t.active = active
    t.updated_by, t.updated_at = actor.username, clock.now()
    session.flush()
    audit(session, actor, action="opinion.topic.save", object_type="opinion_topic", object_id=t.id, before=before,
          after=_topic_dict(t))
    return _topic_dict(t)


class Vocabulary:
    """The active watch list and topics, read once per batch."""

    def __init__(self, session: Session):
        if session.scalars(select(WatchTerm.id).limit(1)).first() is None:  # a new bank: the defaults first
            seed_understanding(session)
        self.terms = [(w.kind, w.term, w.term.lower(), w.ref) for w in session.scalars(
            select(WatchTerm).where(WatchTerm.active.is_(True)))]
        self.topics = [(t.code, list(t.keywords_zh), [k.lower() for k in t.keywords_en]) for t in session.scalars(
            select(Topic).where(Topic.active.is_(True)).order_by(Topic.code))]


def analyse(text: str, vocab: Vocabulary) -> dict[str, Any]:
    """What a mention says: terms and products named, relevance, sentiment, topics and language."""
    low = text.lower()
    terms = [term for _, term, lt, _ in vocab.terms if lt in low]
    products = sorted({ref for kind, _, lt, ref in vocab.terms if kind == "product" and ref and lt in low})
    topics = [code for code, zh, en in vocab.topics if any(k in text for k in zh) or any(k in low for k in en)]
    s = assistant.score_sentiment(text)
    value = round(float(s.value), 4)
    return {"terms": sorted(set(terms)), "products": products, "relevant": bool(terms), "sentiment": value,
            "sentiment_label": sentiment_label(value), "model_version": s.model_version, "topics": topics,
            "language": s.language}
