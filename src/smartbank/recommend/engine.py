"""The in-process recommender: items, customers' implicit feedback, the item-item model, popularity.

One engine per database per process (:func:`get`), like the risk engine. It holds

- the items of ``rec_items`` (all of them; the filters after ranking decide what may be shown) with a
  one-hot content matrix over kind, asset class, risk level, item type and tags;
- each customer's *row*: item -> strongest feedback weight (:data:`WEIGHTS`: purchase and hold 1.0,
  click 0.4, view 0.15; impressions are ignored, see docs/RECOMMEND.md) and the items they dismissed;
- the item-item matrix ``B`` of EASE (:class:`smartbank.recommend.algorithms.EASE`), fitted on the
  binarised matrix of clicks, purchases and holdings; the newest artefact saved by
  ``smartbank recommend train`` (model registry, ``rec_hybrid``) is loaded when there is one, otherwise
  the engine fits it itself at warm-up from the same data;
- popularity per customer segment (the insight profile's segment; customers without one count in
  ``"all"`` only): the sum of the customers' row weights per item.

A customer's scores are ``row x B`` (collaborative), the cosine between the item's content vector and
the customer's weighted content profile plus the closeness of the item's risk level to their grade
(content), and the item's popularity in their segment; the three are blended with :data:`BLEND`.

Fresh behaviour: events recorded in this process update the row at commit (so the next list already
reflects a click); every :data:`REFRESH_SECONDS` the engine reads the events other processes wrote since
its watermark (with an overlap; applying an event twice changes nothing because a row keeps the
maximum weight). Items are reloaded when their fingerprint changes, a newer trained artefact is loaded
when one appears, profiles (segments) are reloaded every :data:`PROFILE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.insight import service as insight
from smartbank.ml import service as ml
from smartbank.recommend.algorithms import EASE
from smartbank.recommend.models import RecEvent, RecItem
from smartbank.wealth import service as wealth

__all__ = ["BLEND", "EASE_L2", "MODEL_NAME", "WEIGHTS", "Ranked", "RecEngine", "fit_artefact", "get", "observe",
           "reset"]

log = logging.getLogger(__name__)

MODEL_NAME = "rec_hybrid"
MODEL_FAMILY = "hybrid1"
EASE_L2 = 50.0  # products are few and dense compared with films: a lighter ridge (see docs/RECOMMEND.md)
WEIGHTS: dict[str, float] = {"purchase": 1.0, "hold": 1.0, "click": 0.4, "view": 0.15}
FIT_MIN_WEIGHT = 0.4  # clicks and stronger go into the item-item fit; views only into the serving row
BLEND: dict[str, float] = {"cf": 0.55, "content": 0.25, "popularity": 0.20}
CONTENT_SIMILARITY, CONTENT_GRADE = 0.7, 0.3  # inside the content part
HISTORY_DAYS = 730  # feedback older than this is not loaded
REFRESH_SECONDS = 2.0
ITEMS_CHECK_SECONDS = 5.0
MODEL_CHECK_SECONDS = 10.0
PROFILE_SECONDS = 300.0
OVERLAP_EVENTS = 500  # re-read this many ids below the watermark (ids may commit out of order)
MIN_SEGMENT_WEIGHT = 5.0  # a segment with less feedback than this falls back to everyone's popularity
RISK_NUM = {"R1": 1, "R2": 2, "R3": 3, "R4": 4, "R5": 5}
GRADE_NUM = {"C1": 1, "C2": 2, "C3": 3, "C4": 4, "C5": 5}


@dataclass
class Items:
    ids: np.ndarray  # rec_items.id per index
    keys: list[str]
    types: list[str]
    ref_ids: list[int | None]
    names: list[tuple[str, str]]  # (en, zh)
    features: list[dict[str, Any]]
    status: list[str]
    risk: np.ndarray  # 1..5, 0 for items without a risk level
    content: np.ndarray  # (items, content features), rows L2-normalised
    content_names: list[str]
    index: dict[int, int] = field(default_factory=dict)  # item id -> index
    by_key: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class Ranked:
    """One item as the model ranked it, with the parts of its score (for the reason)."""

    index: int
    item_id: int
    score: float
    parts: dict[str, float]
    anchor: int | None  # the item of the customer's row that contributed most to the collaborative part
    top_interest: str | None  # the customer's strongest content interest (asset class or kind)


def _content_tokens(item_type: str, feats: dict[str, Any]) -> list[str]:
    toks = [f"type:{item_type}"]
    for k in ("kind", "asset_class", "risk_level", "loan_kind"):
        v = feats.get(k)
        if v:
            toks.append(f"{k}:{v}")
    toks += [f"tag:{t}" for t in feats.get("tags") or []]
    return toks


def load_items(session: Session) -> Items:
    rows = list(session.execute(select(RecItem.id, RecItem.item_key, RecItem.item_type, RecItem.ref_id,
                                       RecItem.name_en, RecItem.name_zh, RecItem.risk_level, RecItem.features,
                                       RecItem.status).order_by(RecItem.id)))
    vocab: dict[str, int] = {}
    tokens = []
    for r in rows:
        toks = _content_tokens(r[2], r[7] or {})
        for t in toks:
            vocab.setdefault(t, len(vocab))
        tokens.append(toks)
    content = np.zeros((len(rows), max(1, len(vocab))), dtype=np.float64)
    for i, toks in enumerate(tokens):
        for t in toks:
            content[i, vocab[t]] = 1.0
    norms = np.linalg.norm(content, axis=1, keepdims=True)
    content = np.divide(content, norms, out=np.zeros_like(content), where=norms > 0)
    items = Items(ids=np.array([r[0] for r in rows], dtype=np.int64), keys=[r[1] for r in rows],
                  types=[r[2] for r in rows], ref_ids=[r[3] for r in rows], names=[(r[4], r[5]) for r in rows],
                  features=[dict(r[7] or {}) for r in rows], status=[r[8] for r in rows],
                  risk=np.array([RISK_NUM.get(r[6] or "", 0) for r in rows], dtype=np.float64),
                  content=content, content_names=list(vocab))
    items.index = {int(i): n for n, i in enumerate(items.ids)}
    items.by_key = {k: n for n, k in enumerate(items.keys)}
    items.fingerprint = _items_fingerprint(session)
    return items


def _items_fingerprint(session: Session) -> str:
    n, mx = session.execute(select(func.count(RecItem.id), func.max(RecItem.id))).one()
    active = session.scalar(select(func.count(RecItem.id)).where(RecItem.status == "active"))
    return f"{n}:{mx}:{active}"


def _feedback_rows(session: Session, since: datetime, min_id: int = 0) -> list[tuple[int, int, int, str]]:
    """(event id, customer, item, event) of the feedback events (not impressions or conversions)."""
    q = (select(RecEvent.id, RecEvent.customer_id, RecEvent.item_id, RecEvent.event)
         .where(RecEvent.event.in_(("view", "click", "purchase", "hold", "dismiss")), RecEvent.at >= since)
         .order_by(RecEvent.id))
    if min_id:
        q = q.where(RecEvent.id > min_id)
    return [(int(a), int(b), int(c), str(d)) for a, b, c, d in session.execute(q)]


def _holdings(session: Session) -> list[tuple[int, int]]:
    """(customer, wealth product id) of every current holding (asked of the wealth service)."""
    return wealth.holders(session)


def _segments(session: Session) -> dict[int, str]:
    try:
        df = insight.load_profiles(session)
    except Exception:  # noqa: BLE001 - no profiles yet (or a partly migrated database): everyone in "all"
        log.exception("recommend engine: profiles not loaded")
        return {}
    if df.height == 0:
        return {}
    return {int(c): str(s) for c, s in zip(df["customer_id"].to_list(), df["segment"].to_list(), strict=True)
            if s is not None}


class RecEngine:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.items: Items | None = None
        self.rows: dict[int, dict[int, float]] = {}  # customer -> item index -> weight
        self.dismissed: dict[int, set[int]] = {}
        self.segment_of: dict[int, str] = {}
        self.pop: dict[str, np.ndarray] = {}  # segment (and "all") -> summed weights per item
        self.B: np.ndarray | None = None
        self.model_version = f"{MODEL_FAMILY}-popularity"
        self.artefact: str | None = None
        self.watermark = 0
        self.warmed = False
        self._checked = {"events": 0.0, "items": 0.0, "model": 0.0, "profiles": 0.0}

    # ------------------------------------------------------------------------------------------ set-up

    def warm(self, session: Session, *, fit: bool = True) -> None:
        """Load items, segments and the feedback of the last :data:`HISTORY_DAYS`, then load or fit ``B``."""
        items = load_items(session)
        segments = _segments(session)
        since = clock.now() - timedelta(days=HISTORY_DAYS)
        events = _feedback_rows(session, since)
        holds = _holdings(session)
        with self.lock:
            self.items = items
            self.segment_of = segments
            self.rows, self.dismissed = {}, {}
            self.pop = {"all": np.zeros(len(items))}
            self.watermark = events[-1][0] if events else 0
            for _, c, i, e in events:
                self._apply(c, i, e)
            wealth_idx = {(t, r): n for n, (t, r) in enumerate(zip(items.types, items.ref_ids, strict=True))}
            for c, p in holds:
                n = wealth_idx.get(("wealth", p))
                if n is not None:
                    self._apply_index(c, n, "hold")
            self.B = None
            self.model_version = f"{MODEL_FAMILY}-popularity"
            now = time.monotonic()
            self._checked = {"events": now, "items": now, "model": now, "profiles": now}
            self.warmed = True
        if fit and not self._load_artefact():
            self.fit_local()

    def ensure_warm(self, session: Session) -> None:
        if not self.warmed:
            try:
                self.warm(session)
            except Exception:  # an empty or partly migrated database: start cold, say so once
                log.exception("recommend engine: warm-up failed; starting empty")
                with self.lock:
                    self.warmed = True

    def fit_matrix(self) -> sp.csr_matrix:
        """The customers x items matrix of feedback at least :data:`FIT_MIN_WEIGHT` (binary)."""
        n_items = len(self.items) if self.items is not None else 0
        rows_, cols = [], []
        for u, (_, row) in enumerate(sorted(self.rows.items())):
            for i, w in row.items():
                if w >= FIT_MIN_WEIGHT:
                    rows_.append(u)
                    cols.append(i)
        return sp.csr_matrix((np.ones(len(rows_), dtype=np.float32), (rows_, cols)),
                             shape=(max(1, len(self.rows)), n_items))

    def fit_local(self) -> None:
        """Fit EASE on this process's feedback (no trained artefact, or it does not match the items)."""
        with self.lock:
            if self.items is None or len(self.items) == 0:
                return
            x = self.fit_matrix()
            if x.nnz == 0:
                self.B, self.model_version = None, f"{MODEL_FAMILY}-popularity"
                return
            model = EASE(EASE_L2).fit(x)
            self.B = model.B
            digest = hashlib.sha256(x.indices.tobytes() + x.indptr.tobytes()).hexdigest()[:8]
            self.model_version = f"{MODEL_FAMILY}-ease{EASE_L2:g}-local-{digest}"
            self.artefact = None

    def _load_artefact(self) -> bool:
        if self.items is None:
            return False
        version = ml.latest_version(MODEL_NAME, model_dir=get_settings().model_dir)
        if version is None:
            return False
        if version == self.artefact:
            return True
        try:
            m = ml.load_model(MODEL_NAME, version=version, model_dir=get_settings().model_dir)
        except ml.RegistryError as exc:
            log.warning("recommend engine: artefact %s not loaded (%s); fitting locally", version, exc.message)
            return False
        keys: list[str] = list(m.objects["item_keys"])
        b_saved = np.asarray(m.objects["B"], dtype=np.float64)
        n = len(self.items)
        b = np.zeros((n, n))
        pos = [self.items.by_key.get(k) for k in keys]
        src = [j for j, p in enumerate(pos) if p is not None]
        dst = [p for p in pos if p is not None]
        if src:
            b[np.ix_(dst, dst)] = b_saved[np.ix_(src, src)]
        with self.lock:
            self.B = b
            self.artefact = version
            self.model_version = f"{MODEL_FAMILY}-ease{m.meta.get('params', {}).get('l2', EASE_L2):g}-{version}"
        return True

    # ------------------------------------------------------------------------------------------ feedback

    def _apply_index(self, customer_id: int, idx: int, event: str) -> None:
        if event == "dismiss":
            self.dismissed.setdefault(customer_id, set()).add(idx)
            return
        w = WEIGHTS.get(event)
        if w is None or self.items is None:
            return
        row = self.rows.setdefault(customer_id, {})
        old = row.get(idx, 0.0)
        if w <= old:
            return
        row[idx] = w
        n = len(self.items)
        seg = self.segment_of.get(customer_id)
        for s in ("all", seg) if seg else ("all",):
            arr = self.pop.get(s)
            if arr is None or len(arr) != n:
                arr = self.pop[s] = np.zeros(n)
            arr[idx] += w - old

    def _apply(self, customer_id: int, item_id: int, event: str) -> None:
        if self.items is None:
            return
        idx = self.items.index.get(item_id)
        if idx is not None:
            self._apply_index(customer_id, idx, event)

    def observe(self, events: Iterable[tuple[int, int, str]]) -> None:
        """(customer, item id, event) recorded in this process and committed."""
        with self.lock:
            for c, i, e in events:
                self._apply(c, i, e)

    def refresh(self, session: Session) -> None:
        """Cheap checks on the way into a request: new events, changed items, a newer model, segments."""
        now = time.monotonic()
        if now - self._checked["items"] >= ITEMS_CHECK_SECONDS:
            self._checked["items"] = now
            if self.items is None or _items_fingerprint(session) != self.items.fingerprint:
                self.warm(session)
                return
        if now - self._checked["profiles"] >= PROFILE_SECONDS:
            self._checked["profiles"] = now
            segs = _segments(session)
            if segs != self.segment_of:
                self.warm(session, fit=False)
                if not self._load_artefact():
                    self.fit_local()
                return
        if now - self._checked["events"] >= REFRESH_SECONDS:
            self._checked["events"] = now
            since = clock.now() - timedelta(days=HISTORY_DAYS)
            rows = _feedback_rows(session, since, max(0, self.watermark - OVERLAP_EVENTS))
            with self.lock:
                for eid, c, i, e in rows:
                    self._apply(c, i, e)
                    self.watermark = max(self.watermark, eid)
        if now - self._checked["model"] >= MODEL_CHECK_SECONDS:
            self._checked["model"] = now
            self._load_artefact()

    # ------------------------------------------------------------------------------------------ scoring

    def rank(self, customer_id: int, grade: str | None, limit: int | None = None, offset: int = 0, *,
             personalised: bool = True) -> list[Ranked]:
        """The items, best first (``limit`` of them from rank ``offset``, or all), with the parts of each
        score. Nothing is filtered here: the service filters after ranking (and drops what the customer
        dismissed). Scoring every item is a few vector products; only the slice asked for is built.

        Not ``personalised`` (the customer switched personalised recommendation off, PIPL Art. 24): nothing of
        the customer is used - no feedback row, no grade, no segment - only everyone's popularity, so every
        customer without personalisation sees the same order."""
        with self.lock:
            items = self.items
            if items is None or len(items) == 0:
                return []
            n = len(items)
            row = self.rows.get(customer_id, {}) if personalised else {}
            if not personalised:
                grade = None
            r = np.zeros(n)
            for i, w in row.items():
                r[i] = w
            # collaborative: row x B, scaled to [0, 1] by the customer's best item
            cf = np.zeros(n)
            if self.B is not None and row:
                cf = r @ self.B
                top = cf.max()
                cf = np.clip(cf / top, 0.0, 1.0) if top > 0 else np.zeros(n)
            # content: cosine with the weighted content profile, and the closeness of risk level to grade
            sim = np.zeros(n)
            top_interest = None
            if row:
                prof = r @ items.content
                norm = np.linalg.norm(prof)
                if norm > 0:
                    sim = items.content @ (prof / norm)
                    top_interest = _top_interest(items, r)
            fit = np.zeros(n)
            g = GRADE_NUM.get(grade or "")
            if g:
                has_risk = items.risk > 0
                fit = np.where(has_risk & (items.risk <= g), 1.0 - (g - items.risk) / 5.0, 0.0)
            content = CONTENT_SIMILARITY * sim + CONTENT_GRADE * fit
            # popularity in the customer's segment (everyone's when the segment has too little feedback)
            seg = self.segment_of.get(customer_id) if personalised else None
            pop_arr = self.pop.get(seg) if seg else None
            if pop_arr is None or len(pop_arr) != n or pop_arr.sum() < MIN_SEGMENT_WEIGHT:
                pop_arr = self.pop.get("all")
                seg = None
            pop = np.zeros(n)
            if pop_arr is not None and len(pop_arr) == n and pop_arr.max() > 0:
                pop = pop_arr / pop_arr.max()
            parts = {"cf": BLEND["cf"] * cf, "content": BLEND["content"] * content,
                     "popularity": BLEND["popularity"] * pop}
            total = parts["cf"] + parts["content"] + parts["popularity"]
            order = np.lexsort((np.arange(n), -total))
            head = order[offset:] if limit is None else order[offset:offset + limit]
            anchors = self._anchors(row, head) if self.B is not None and row else {}
            out = []
            for i in head:
                ii = int(i)
                out.append(Ranked(index=ii, item_id=int(items.ids[ii]), score=float(total[ii]),
                                  parts={k: float(v[ii]) for k, v in parts.items()} | {"grade_fit": float(fit[ii]),
                                                                                        "segment": 1.0 if seg else 0.0},
                                  anchor=anchors.get(ii), top_interest=top_interest))
            return out

    def _anchors(self, row: dict[int, float], top: np.ndarray) -> dict[int, int]:
        assert self.B is not None
        held = np.array(list(row.keys()), dtype=np.int64)
        w = np.array([row[i] for i in held])
        contrib = w[:, None] * self.B[np.ix_(held, top)]
        best = contrib.argmax(axis=0)
        return {int(t): int(held[b]) for k, (t, b) in enumerate(zip(top, best, strict=True)) if contrib[b, k] > 0}


def _top_interest(items: Items, r: np.ndarray) -> str | None:
    """The asset class (or, without one, the kind) with the most feedback weight in the customer's row."""
    acc: dict[str, float] = {}
    for i in np.flatnonzero(r):
        f = items.features[int(i)]
        key = f.get("asset_class") or f.get("kind")
        if key:
            acc[str(key)] = acc.get(str(key), 0.0) + float(r[i])
    return max(sorted(acc), key=lambda k: acc[k]) if acc else None


def fit_artefact(engine_: RecEngine) -> dict[str, Any]:
    """Fit EASE on the engine's current feedback and save it to the model registry (``rec_hybrid``)."""
    t0 = time.perf_counter()
    with engine_.lock:
        assert engine_.items is not None
        x = engine_.fit_matrix()
        keys = list(engine_.items.keys)
    if x.nnz == 0:
        return {"saved": False, "reason": "no feedback yet", "items": len(keys)}
    model = EASE(EASE_L2).fit(x)
    digest = hashlib.sha256(x.indices.tobytes() + x.indptr.tobytes()).hexdigest()[:16]
    m = ml.save_model(MODEL_NAME, {"B": model.B, "item_keys": keys}, features=keys, data_hash=digest,
                   params={"l2": EASE_L2, "fit_min_weight": FIT_MIN_WEIGHT, "blend": BLEND, "weights": WEIGHTS},
                   metrics={"customers": int(x.shape[0]), "items": int(x.shape[1]), "interactions": int(x.nnz)},
                   model_dir=get_settings().model_dir)
    engine_._load_artefact()
    return {"saved": True, "version": m.version, "model_version": engine_.model_version,
            "customers": int(x.shape[0]), "items": int(x.shape[1]), "interactions": int(x.nnz),
            "seconds": round(time.perf_counter() - t0, 3)}


_engines: dict[str, RecEngine] = {}
_lock = threading.Lock()


def _key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def get(session: Session) -> RecEngine:
    """The engine of the session's database in this process (warmed on first use, refreshed cheaply)."""
    key = _key(session)
    eng = _engines.get(key)
    if eng is None:
        with _lock:
            eng = _engines.get(key)
            if eng is None:
                eng = _engines[key] = RecEngine()
    if not eng.warmed:
        eng.ensure_warm(session)
    else:
        eng.refresh(session)
    return eng


def observe(session: Session, events: Iterable[tuple[int, int, str]]) -> None:
    """Apply committed events to this process's engine of the session's database (if it exists yet)."""
    eng = _engines.get(_key(session))
    if eng is not None:
        eng.observe(events)


def reset() -> None:
    """Forget every engine (tests; after a demo bank is rebuilt)."""
    with _lock:
        _engines.clear()

