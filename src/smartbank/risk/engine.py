"""The in-process risk engine: online feature state, the loaded fraud model and the cached rules.

One engine per database per process (:func:`get`). It holds

- an :class:`~smartbank.risk.online.OnlineState` warmed from the ledger's recent customer payments (the
  last ``delay + 30`` days) and fed with every payment this process posts; a payment's "customer" is the
  owner of the paying account, its "terminal" the receiving account (see :mod:`smartbank.risk.context`);
- the newest trained fraud model (``fraud_lgbm`` in the model registry), if there is one. Without one the
  decision is made by rules and limits alone and says so (``model_version = "rules-only"``);
- the rules in force, reloaded when their fingerprint changes (checked at most every
  ``RULES_CHECK_SECONDS``).

Each process keeps its own state. With several server processes each also reads, before scoring, the
customer payments that the others committed (:meth:`RiskEngine.catch_up`: ledger ids above the highest it
has read, at most every ``CATCH_UP_SECONDS``, re-reading the last ``CATCH_UP_OVERLAP`` ids for transactions
that committed out of id order), so velocity features count every process's payments, a payment read late
counting at the time of the last one this process saw. Confirmed labels reach the state through
:func:`on_label` (in the process that confirmed them; the others learn them at their next warm-up).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.ledger import service as ledger
from smartbank.ml.service import RegistryError, latest_version
from smartbank.risk import rules
from smartbank.risk.features import HISTORY_DAYS, TX_SCHEMA
from smartbank.risk.fraud_model import MODEL_NAME, FraudModel, load_fraud_model
from smartbank.risk.models import RiskLabel
from smartbank.risk.online import OnlineScorer, OnlineState
from smartbank.risk.rules import RuleSet

__all__ = ["RULES_ONLY", "RiskEngine", "get", "install", "local_naive", "on_label", "reset"]

log = logging.getLogger(__name__)
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
RULES_ONLY = "rules-only"
RULES_CHECK_SECONDS = 2.0
CATCH_UP_SECONDS = 0.2
CATCH_UP_OVERLAP = 500


def local_naive(ts: datetime) -> datetime:
    """The bank's local wall-clock time (Asia/Shanghai) without a zone, as the feature state expects."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(LOCAL_TZ).replace(tzinfo=None)


class RiskEngine:
    def __init__(self, *, delay_days: int, model: FraudModel | None = None, model_version: str = RULES_ONLY) -> None:
        self.delay_days = delay_days
        self.lock = threading.Lock()
        self.state = OnlineState(delay_days=delay_days)
        self.model = model
        self.model_version = model_version if model is not None else RULES_ONLY
        self.scorer: OnlineScorer | None = OnlineScorer(self.state, model) if model is not None else None
        self.warmed = False
        self._rules: RuleSet | None = None
        self._rules_fp: str | None = None
        self._rules_checked = 0.0
        self.watermark = 0  # the highest ledger id of a customer payment read from the database
        self._caught_up = 0.0

    # ------------------------------------------------------------------------------------------ set-up

    def warm(self, session: Session, now: datetime | None = None) -> int:
        """Fill the state with the ledger's customer payments of the last ``delay + 30`` days and their labels."""
        now = now or clock.now()
        since = now - timedelta(days=HISTORY_DAYS + self.delay_days + 1)
        rows = ledger.customer_payments_since(session, since)
        labels = dict(session.execute(select(RiskLabel.transfer_id, RiskLabel.label)
                                      .where(RiskLabel.transfer_id.is_not(None))).all())
        frame = pl.DataFrame({
            "tx_id": [r[0] for r in rows],
            "ts": [local_naive(r[1]) for r in rows],
            "customer_id": [r[2] for r in rows],
            "terminal_id": [r[3] for r in rows],
            "amount_minor": [r[4] for r in rows],
            "fraud": [labels.get(r[0]) for r in rows],
        }, schema=TX_SCHEMA).sort("ts")
        state = OnlineState.from_history(frame, delay_days=self.delay_days)
        with self.lock:
            self.state = state
            self.watermark = max((r[0] for r in rows), default=0)
            self._caught_up = time.monotonic()
            if self.model is not None:
                self.scorer = OnlineScorer(state, self.model)
            self.warmed = True
        return frame.height

    def ensure_warm(self, session: Session) -> None:
        if not self.warmed:
            try:
                self.warm(session)
            except Exception:  # an empty or partly migrated database: start cold, say so once
                log.exception("risk engine: warm-up failed; starting with an empty feature state")
                self.warmed = True

    def catch_up(self, session: Session, *, force: bool = False) -> int:
        """Observe the customer payments other processes committed since the last look (see the module's
        docstring); returns how many were new to this process."""
        now = time.monotonic()
        if not force and now - self._caught_up < CATCH_UP_SECONDS:
            return 0
        self._caught_up = now
        rows = ledger.customer_payments_after(session, max(0, self.watermark - CATCH_UP_OVERLAP))
        new = 0
        with self.lock:
            for tx_id, created, cust, term, amount in rows:
                self.watermark = max(self.watermark, tx_id)
                if self.state.seen(tx_id):
                    continue
                self.state.observe({"ts": local_naive(created), "customer_id": cust, "terminal_id": term,
                                    "amount_minor": amount, "tx_id": tx_id}, clamp=True)
                new += 1
        return new

    def ruleset(self, session: Session) -> RuleSet:
        now = time.monotonic()
        if self._rules is None or now - self._rules_checked >= RULES_CHECK_SECONDS:
            fp = rules.fingerprint(session)
            if self._rules is None or fp != self._rules_fp:
                self._rules = rules.load_ruleset(session)
                self._rules_fp = fp
            self._rules_checked = now
        assert self._rules is not None
        return self._rules

    # ------------------------------------------------------------------------------------------ per payment

    def features(self, payment: Mapping[str, Any]) -> tuple[dict[str, float], float | None]:
        """The payment's point-in-time features and the model's fraud probability (None without a model)."""
        with self.lock:
            feats = self.state.features(payment)
            score = self.scorer.predict(feats) if self.scorer is not None else None
        return feats, score

    def observe(self, payment: Mapping[str, Any], feats: Mapping[str, float] | None = None) -> None:
        """A payment this process posted, once its transaction has committed. Another request may have
        committed a later one in between (it counts at that one's time, as :meth:`catch_up` does), or
        :meth:`catch_up` may have read this one from the database already (then it is not counted twice)."""
        with self.lock:
            tx_id = payment.get("tx_id")
            if tx_id is not None and self.state.seen(int(tx_id)):
                return
            self.state.observe(payment, feats, clamp=True)

    def label(self, transfer_id: int, fraud: bool) -> None:
        # a payment not in this process's state (older, or posted elsewhere) is simply not there to label
        with self.lock, contextlib.suppress(KeyError, ValueError):
            self.state.label(transfer_id, fraud)

    def reasons_from_model(self, feats: Mapping[str, float], top: int = 3) -> list[str]:
        """The features that pushed this payment's score up most (TreeSHAP contributions), largest first."""
        if self.model is None:
            return []
        order = list(self.model.features)
        row = np.array([[feats[n] for n in order]], dtype=np.float64)
        contrib = self.model.booster_.predict(row, num_iteration=self.model.best_iteration_, pred_contrib=True,
                                              num_threads=1)[0][:-1]
        idx = [i for i in np.argsort(-contrib) if contrib[i] > 0][:top]
        return [order[i] for i in idx]


_engines: dict[str, RiskEngine] = {}
_lock = threading.Lock()


def _load_model() -> tuple[FraudModel | None, str]:
    version = latest_version(MODEL_NAME, model_dir=get_settings().model_dir)
    if version is None:
        return None, RULES_ONLY
    try:
        return load_fraud_model(model_dir=get_settings().model_dir, version=version), f"{MODEL_NAME}/{version}"
    except RegistryError as exc:
        log.warning("risk engine: fraud model not loaded (%s); deciding by rules only", exc.message)
        return None, RULES_ONLY


def get(session: Session) -> RiskEngine:
    """The engine of the session's database in this process (created, with the model loaded, on first use)."""
    key = str(session.get_bind().engine.url)
    eng = _engines.get(key)
    if eng is None:
        with _lock:
            eng = _engines.get(key)
            if eng is None:
                model, version = _load_model()
                eng = _engines[key] = RiskEngine(delay_days=get_settings().risk_label_delay_days, model=model,
                                                 model_version=version)
    eng.ensure_warm(session)
    return eng


def install(database_url: str, *, state: OnlineState, model: FraudModel | None, model_version: str,
            delay_days: int) -> RiskEngine:
    """Make this process decide the payments of ``database_url`` with a ready engine (benchmarks: a state
    warmed from a file instead of the ledger); returns it (its ``observe`` feeds the state)."""
    eng = RiskEngine(delay_days=delay_days, model=model, model_version=model_version)
    eng.state = state
    eng.scorer = OnlineScorer(state, model) if model is not None else None
    eng.warmed = True
    with _lock:
        _engines[str(database_url)] = eng
    return eng


def reset() -> None:
    """Forget every engine (tests; after training a new model, to load it)."""
    with _lock:
        _engines.clear()


def on_label(transfer_id: int, fraud: bool) -> None:
    """A confirmed outcome of a payment (from a case): counts in the online features from now on."""
    for eng in list(_engines.values()):
        eng.label(transfer_id, fraud)
