"""The marketing domain's uplift part: who a campaign's contact changes, not who would convert anyway.

A campaign's assignments are a randomised experiment (``assignment.assign_arm``: the contacted arms vs the
holdout). :func:`train_campaign_uplift` fits the uplift model (:class:`uplift_learners.SLearner`) on them:
treatment = a contacted arm, outcome = a conversion of the campaign's goal (``mkt_conversions``), features = the
customer's insight profile (``insight.load_profiles``: its numeric features, text ones one-hot with the training
levels). A random 30% of the customers (stratified on arm and outcome) is kept aside to measure the model (Qini,
AUUC and the Qini curve, scikit-uplift), then it is refitted on everyone and saved in the model registry as
``uplift_<code>`` (versioned; ``meta.json`` holds the figures and the curve).

Audience scorers (``marketing.scores``): ``uplift:<campaign code>`` (the campaign's latest model) and
``uplift:goal:<goal>`` (the latest model trained for any campaign with that goal) answer the predicted uplift in
conversion probability for each customer with a profile, with the model version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import NotFound, ValidationFailed
from smartbank.marketing.models import GOALS, Campaign, CampaignArm, CampaignAssignment, Conversion
from smartbank.marketing.scores import AudienceScores, register_scorer
from smartbank.marketing.uplift_learners import S_LEARNER_PARAMS, SLearner, evaluate_uplift, qini_curve, uplift_metrics
from smartbank.security.service import Principal

__all__ = [
    "MIN_TRAINING_CUSTOMERS", "evaluate_uplift", "list_uplift_models", "qini_curve", "train_campaign_uplift",
    "uplift_metrics", "uplift_model_name", "uplift_report", "uplift_scores",
]

MIN_TRAINING_CUSTOMERS = 200  # fewer assignments (or no holdout / no conversions) cannot support a model
MIN_PER_ARM = 20
MIN_GROUP_CONVERSIONS = 3  # conversions among the contacted and among the holdout, each
VALIDATION_SHARE = 0.3
MAX_LEVELS = 20
PREFIX = "uplift_"


def uplift_model_name(code: str) -> str:
    return PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", code)


def _campaign(session: Session, code: str) -> Campaign:
    c = session.scalar(select(Campaign).where(Campaign.code == code))
    if c is None:
        raise NotFound("no such campaign", reason="marketing.uplift_campaign_not_found", details={"code": code})
    return c


# --- features -------------------------------------------------------------------------------------------------

def _profiles(session: Session) -> Any:
    from smartbank.insight import service as insight

    return insight.load_profiles(session).to_pandas()


def _encoding(frame: Any) -> dict[str, Any]:
    """Which columns the model uses: numeric ones as they are, text ones as one-hot of their training levels."""
    import pandas as pd

    numeric, text = [], {}
    for c in frame.columns:
        if c == "customer_id":
            continue
        if pd.api.types.is_numeric_dtype(frame[c]):
            if frame[c].notna().any():
                numeric.append(c)
        else:
            levels = frame[c].dropna().astype(str).value_counts().index.tolist()[:MAX_LEVELS]
            if levels:
                text[c] = sorted(levels)
    return {"numeric": numeric, "text": text}


def _feature_names(enc: dict[str, Any]) -> list[str]:
    return list(enc["numeric"]) + [f"{c}={v}" for c, lv in enc["text"].items() for v in lv]


def _matrix(frame: Any, enc: dict[str, Any]) -> np.ndarray:
    cols = [frame[c].astype(float).to_numpy() if c in frame.columns else np.full(len(frame), np.nan)
            for c in enc["numeric"]]
    for c, lv in enc["text"].items():
        s = frame[c].astype(str) if c in frame.columns else None
        for v in lv:
            cols.append((s == v).astype(float).to_numpy() if s is not None else np.zeros(len(frame)))
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def _training_rows(session: Session, campaign: Campaign) -> tuple[Any, np.ndarray, np.ndarray]:
    import pandas as pd

    holdout = {a for (a,) in session.execute(select(CampaignArm.code).where(
        CampaignArm.campaign_id == campaign.id, CampaignArm.is_holdout.is_(True)))}
    rows = session.execute(select(CampaignAssignment.customer_id, CampaignAssignment.arm).where(
        CampaignAssignment.campaign_id == campaign.id)).all()
    converted = set(session.scalars(select(Conversion.customer_id).where(
        Conversion.campaign_id == campaign.id, Conversion.goal == campaign.goal)).all())
    a = pd.DataFrame(rows, columns=["customer_id", "arm"])
    if a.empty:
        return a, np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    profiles = _profiles(session)
    df = a.merge(profiles, on="customer_id", how="inner").sort_values("customer_id").reset_index(drop=True)
    t = (~df["arm"].isin(holdout)).astype(int).to_numpy()
    y = df["customer_id"].isin(converted).astype(int).to_numpy()
    return df.drop(columns=["arm"]), t, y


# --- training -------------------------------------------------------------------------------------------------

def _params(n: int) -> dict[str, Any]:
    """The Hillstrom-chosen parameters, with leaves no larger than the data allows."""
    p = dict(S_LEARNER_PARAMS)
    p["min_child_samples"] = int(min(S_LEARNER_PARAMS["min_child_samples"], max(10, n // 25)))
    return p


def train_campaign_uplift(session: Session, actor: Principal, code: str, *, seed: int = 0,
                          model_dir: Path | None = None) -> dict[str, Any]:
    """Fit and save ``uplift_<code>`` from the campaign's assignments and conversions; returns its figures."""
    from sklearn.model_selection import train_test_split

    from smartbank.ml import service as ml
    from smartbank.security import service as security

    actor.require("marketing.campaigns.manage")
    campaign = _campaign(session, code)
    frame, t, y = _training_rows(session, campaign)
    n = len(t)
    counts = {"customers": n, "treated": int(t.sum()), "holdout": int(n - t.sum()), "conversions": int(y.sum()),
              "treated_conversions": int((t * y).sum()), "holdout_conversions": int(((1 - t) * y).sum())}
    # each group needs conversions of its own: the model's two sides and the stratified validation split
    if (n < MIN_TRAINING_CUSTOMERS or counts["treated"] < MIN_PER_ARM or counts["holdout"] < MIN_PER_ARM
            or counts["conversions"] < MIN_PER_ARM // 2 or counts["conversions"] == n
            or min(counts["treated_conversions"], counts["holdout_conversions"]) < MIN_GROUP_CONVERSIONS):
        raise ValidationFailed("not enough data to train an uplift model", reason="marketing.uplift_not_enough_data",
                               details={"code": code, **counts, "minimum": MIN_TRAINING_CUSTOMERS})
    enc = _encoding(frame)
    feats = _feature_names(enc)
    x = _matrix(frame, enc)
    params = _params(n)
    idx = np.arange(n)
    i_fit, i_val = train_test_split(idx, test_size=VALIDATION_SHARE, random_state=seed, stratify=t * 2 + y)
    m = SLearner(params=params, seed=seed).fit(x[i_fit], y[i_fit], t[i_fit], feats)
    u_val = m.predict_uplift(x[i_val])
    figures = uplift_metrics(y[i_val], u_val, t[i_val])
    curve = qini_curve(y[i_val], u_val, t[i_val])
    final = SLearner(params=params, seed=seed).fit(x, y, t, feats)
    u_all = final.predict_uplift(x)
    metrics = {
        **{k: (None if v != v else v) for k, v in figures.items()}, **counts,
        "validation_customers": int(len(i_val)), "validation_share": VALIDATION_SHARE,
        "rate_treated": float(y[t == 1].mean()), "rate_holdout": float(y[t == 0].mean()),
        "average_effect": float(y[t == 1].mean() - y[t == 0].mean()),
        "mean_predicted_uplift": float(u_all.mean()), "curve": curve,
        "metric_definition": "sklift qini_auc_score / uplift_auc_score on the validation part (normalised)",
    }
    digest = hashlib.sha256(json.dumps([frame["customer_id"].tolist(), t.tolist(), y.tolist()]).encode())
    name = uplift_model_name(code)
    version = clock.now().strftime("%Y%m%dT%H%M%S%fZ")
    # the audit record first: the artefact is written last, once nothing else can fail
    security.audit(session, actor, action="marketing.uplift.train", object_type="mkt_campaign", object_id=code,
                   after={"model": name, "version": version, "qini": metrics["qini"], "auuc": metrics["auuc"],
                          **counts})
    saved = ml.save_model(name, {"booster": final.booster_, "encoding": enc}, features=feats,
                          data_hash=digest.hexdigest(), metrics=metrics, seed=seed,
                          params={**params, "campaign": code, "goal": campaign.goal, "learner": "s_learner_lgbm"},
                          model_dir=model_dir, version=version)
    _register_campaign_scorer(code)
    return _summary(saved.name, saved.version, saved.meta)


def _summary(name: str, version: str, meta: dict[str, Any], *, curve: bool = False) -> dict[str, Any]:
    m = dict(meta.get("metrics") or {})
    c = m.pop("curve", None)
    out = {"model": name, "version": version, "campaign": (meta.get("params") or {}).get("campaign"),
           "goal": (meta.get("params") or {}).get("goal"), "created_at": meta.get("created_at"),
           "n_features": len(meta.get("features") or []), **m}
    if curve:
        out["curve"] = c
    return out


# --- reports --------------------------------------------------------------------------------------------------

def _root(model_dir: Path | None) -> Path:
    from smartbank.ml import service as ml

    return Path(model_dir) if model_dir is not None else ml.default_model_dir()


def _read_meta(name: str, version: str, model_dir: Path | None) -> dict[str, Any] | None:
    p = _root(model_dir) / name / version / "meta.json"
    if not p.is_file():
        return None
    meta: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return meta


def _model_names(model_dir: Path | None) -> list[str]:
    root = _root(model_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def list_uplift_models(session: Session, actor: Principal, *, model_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every campaign's latest uplift model with its figures (newest first)."""
    from smartbank.ml import service as ml

    actor.require("marketing.reports.read")
    out = []
    for name in _model_names(model_dir):
        v = ml.latest_version(name, model_dir=_root(model_dir))
        meta = _read_meta(name, v, model_dir) if v else None
        if v and meta:
            out.append(_summary(name, v, meta))
    return sorted(out, key=lambda r: str(r.get("created_at")), reverse=True)


def uplift_report(session: Session, actor: Principal, code: str, *, version: str | None = None,
                  model_dir: Path | None = None) -> dict[str, Any]:
    """A campaign's uplift model: Qini, AUUC, the Qini curve with the random line, and its versions."""
    from smartbank.ml import service as ml

    actor.require("marketing.reports.read")
    name = uplift_model_name(code)
    root = _root(model_dir)
    versions = sorted((p.name for p in (root / name).iterdir() if (p / "meta.json").is_file()), reverse=True) \
        if (root / name).is_dir() else []
    v = version or ml.latest_version(name, model_dir=root)
    meta = _read_meta(name, v, model_dir) if v and v in versions else None
    if meta is None:
        raise NotFound("no uplift model for this campaign", reason="marketing.uplift_model_not_found",
                       details={"code": code, "version": version or ""})
    return {**_summary(name, v or "", meta, curve=True), "versions": versions, "features": meta.get("features")}


# --- scoring --------------------------------------------------------------------------------------------------

_cache: dict[tuple[str, str], Any] = {}


def _load(name: str, model_dir: Path | None = None) -> Any:
    from smartbank.ml import service as ml

    v = ml.latest_version(name, model_dir=_root(model_dir))
    if v is None:
        raise ValidationFailed("no uplift model trained yet", reason="marketing.uplift_model_missing",
                               details={"model": name})
    key = (str(_root(model_dir)), f"{name}/{v}")
    if key not in _cache:
        _cache[key] = ml.load_model(name, version=v, model_dir=_root(model_dir))
    return _cache[key]


def uplift_scores(session: Session, name: str, customer_ids: Sequence[int], *,
                  model_dir: Path | None = None) -> AudienceScores:
    """The saved model ``name``'s predicted uplift for each customer with a profile."""
    loaded = _load(name, model_dir)
    enc = loaded.objects["encoding"]
    model = SLearner()
    model.booster_ = loaded.objects["booster"]
    prof = _profiles(session)
    wanted = {int(c) for c in customer_ids}
    prof = prof[prof["customer_id"].isin(wanted)]
    if prof.empty:
        return AudienceScores(model=name, model_version=loaded.version, scores={})
    u = model.predict_uplift(_matrix(prof, enc))
    return AudienceScores(model=name, model_version=loaded.version,
                          scores={int(c): float(s) for c, s in zip(prof["customer_id"], u, strict=True)})


def _register_campaign_scorer(code: str) -> None:
    name = uplift_model_name(code)
    register_scorer(f"uplift:{code}", lambda s, ids: uplift_scores(s, name, ids))


def _goal_scorer(goal: str) -> Any:
    def score(session: Session, ids: Sequence[int]) -> AudienceScores:
        best: tuple[str, str] | None = None
        for name in _model_names(None):
            from smartbank.ml import service as ml

            v = ml.latest_version(name, model_dir=_root(None))
            meta = _read_meta(name, v, None) if v else None
            if v and meta and (meta.get("params") or {}).get("goal") == goal and (best is None or v > best[1]):
                best = (name, v)
        if best is None:
            raise ValidationFailed("no uplift model trained yet", reason="marketing.uplift_model_missing",
                                   details={"model": f"uplift:goal:{goal}"})
        return uplift_scores(session, best[0], ids)
    return score


def register_scorers() -> None:
    """``uplift:goal:<goal>`` for every goal, and ``uplift:<code>`` for every campaign with a saved model."""
    for g in GOALS:
        register_scorer(f"uplift:goal:{g}", _goal_scorer(g))
    try:
        names = _model_names(None)
    except Exception:  # noqa: BLE001 - no settings or no model folder yet: the goal scorers are enough
        names = []
    for name in names:
        meta_params: dict[str, Any] = {}
        from smartbank.ml import service as ml

        v = ml.latest_version(name, model_dir=_root(None))
        meta = _read_meta(name, v, None) if v else None
        meta_params = (meta or {}).get("params") or {}
        if meta_params.get("campaign"):
            _register_campaign_scorer(str(meta_params["campaign"]))


register_scorers()
