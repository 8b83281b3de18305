"""Integration point for customer profiles: ``enrich`` (score) and ``train_all`` (fit and save).

``enrich`` works on any subset of customers: every figure is computed from that customer's own rows and
the saved models (RFM quintile edges, segment centroids, CLV parameters, churn / propensity / forecast
models), so a subset gets exactly the rows it would get inside the whole population. Without a trained
model each part falls back to its transparent rule and ``model_versions`` says so. The balance forecast
needs ``holdings`` (``extract.load_holdings``: the current balances it is anchored at); without them or
without a trained model ``balance_next_month_minor`` is null.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from smartbank.insight import churn as churn_mod
from smartbank.insight import forecast as forecast_mod
from smartbank.insight import propensity as prop_mod
from smartbank.insight.churn import ChurnModel, rule_scores
from smartbank.insight.forecast import BalanceForecaster, SpendForecaster
from smartbank.insight.lifecycle import lifecycle_from_features
from smartbank.insight.propensity import PropensityModel
from smartbank.insight.rfm import RFMScorer, rfm_rule_segment
from smartbank.insight.segments import SegmentModel
from smartbank.insight.value import CLVModel, yearly_value
from smartbank.ml import service as ml
from smartbank.ml.service import before, behaviour, customer_ids, data_hash, normalise

__all__ = ["MODEL_NAMES", "enrich", "load_models", "train_all"]

MODEL_NAMES = ("rfm", "segments", "clv", "churn", "propensity", "forecast", "balance_forecast")
RFM_FEATURES = ["recency_days", "frequency", "monetary_minor"]
CLV_FEATURES = ["frequency", "recency", "T", "monetary"]
log = logging.getLogger(__name__)


def _load(name: str, model_dir: Path | None, features: list[str] | None) -> tuple[Any, str]:
    """(loaded model or None, version or the reason it is not used)."""
    try:
        lm = ml.load_model(name, model_dir=model_dir, features=features)
    except ml.ArtefactNotFound:
        return None, "rules (no trained model)"
    except ml.ArtefactMismatch as exc:
        return None, f"rules (saved model refused: {exc.message})"
    return lm, lm.version


def load_models(model_dir: Path | None = None) -> dict[str, tuple[Any, str]]:
    out: dict[str, tuple[Any, str]] = {}
    lm, v = _load("rfm", model_dir, RFM_FEATURES)
    out["rfm"] = (RFMScorer.from_dict(lm.objects["rfm"]) if lm else None, v)
    lm, v = _load("segments", model_dir, None)
    out["segments"] = (SegmentModel.from_dict(lm.objects["segments"]) if lm else None, v)
    lm, v = _load("clv", model_dir, CLV_FEATURES)
    out["clv"] = (CLVModel.from_dict(lm.objects["clv"]) if lm else None, v)
    lm, v = _load("churn", model_dir, churn_mod.FEATURES)
    out["churn"] = (ChurnModel.from_saved(lm.objects["booster"], lm.objects["params"], lm.features,
                                          lm.objects.get("evaluation")) if lm else None, v)
    lm, v = _load("propensity", model_dir, prop_mod.FEATURES)
    if lm:
        pm = PropensityModel(**lm.objects["params"])
        pm.models_ = {k[len("model_"):]: o for k, o in lm.objects.items() if k.startswith("model_")}
        pm.report_ = lm.objects.get("report", {})
        out["propensity"] = (pm, v)
    else:
        out["propensity"] = (None, v)
    lm, v = _load("forecast", model_dir, forecast_mod.FEATURES)
    out["forecast"] = (SpendForecaster.from_saved(lm.objects["booster"], lm.objects["params"], lm.features,
                                                  lm.objects.get("evaluation")) if lm else None, v)
    lm, v = _load("balance_forecast", model_dir, forecast_mod.BALANCE_FEATURES)
    if lm is None:
        v = v.replace("rules", "none", 1) + ": balance forecast left null"
    out["balance_forecast"] = (BalanceForecaster.from_saved(lm.objects["booster"], lm.objects["params"],
                                                            lm.features, lm.objects.get("evaluation"))
                               if lm else None, v)
    return out


def enrich(activity: pl.DataFrame, customers: pl.DataFrame, as_of: date | datetime, *,
           model_dir: Path | None = None, holdings: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per customer (of ``customers`` and ``activity``) with segment, rfm, lifecycle, value_minor,
    clv_minor, churn_score, churn_reasons (en; ``churn_reasons_zh`` beside), propensity, model_versions,
    ``spend_next_month_minor`` (null without a trained forecaster) and ``balance_next_month_minor`` (the
    balance at the end of the month of ``as_of``; null without a trained model or without ``holdings``)."""
    activity = normalise(activity)
    ids = customer_ids(before(activity, as_of), customers)
    models = load_models(model_dir)
    versions = {name: models[name][1] for name in MODEL_NAMES}
    feats = behaviour(activity, as_of, customers=customers, ids=ids)

    rfm_model = models["rfm"][0]
    if rfm_model is None:
        rfm_model = RFMScorer.rules()
        versions["rfm"] = "rules (fixed score edges; no trained model)"
    rfm = rfm_model.transform(activity, as_of, ids=ids)

    seg_model = models["segments"][0]
    if seg_model is not None:
        seg = seg_model.predict(activity, as_of, ids=ids)
    else:
        seg = rfm.select("customer_id", pl.struct("r_score", "f_score", "m_score").map_elements(
            lambda s: rfm_rule_segment(s["r_score"], s["f_score"], s["m_score"]), return_dtype=pl.Utf8
        ).alias("segment"))
        versions["segments"] = "rules (RFM segment names; no trained segmentation)"

    clv_model = models["clv"][0] or CLVModel(min_repeat_customers=10**12).fit(activity.clear(), as_of)
    if models["clv"][0] is None:
        versions["clv"] = "fallback (no trained CLV model: yearly value x discounted horizon x survival)"
    clv = clv_model.predict(activity, as_of, ids=ids)
    if clv_model.method_ != "bgnbd_gammagamma" and models["clv"][0] is not None:
        versions["clv"] = f"{models['clv'][1]} fallback ({clv_model.reason_})"

    churn_model = models["churn"][0]
    churn = churn_model.score_features(feats) if churn_model is not None else rule_scores(feats)
    if churn_model is not None:  # say which scorer the saved churn model serves, and why
        versions["churn_served"] = churn_model.served_
        if churn_model.served_ == "recency_baseline":
            versions["churn"] = f"{versions['churn']} (recency baseline served: " \
                                f"{churn_model.evaluation_.get('served_reason', 'the model lost to it')})"

    prop_model = models["propensity"][0] or PropensityModel()
    prop = prop_model.score_features(feats, customers)

    fc_model = models["forecast"][0]
    if fc_model is not None:
        fc = fc_model.predict(activity, as_of, ids=ids).select("customer_id", "spend_next_month_minor")
    else:
        fc = ids.with_columns(pl.lit(None, dtype=pl.Int64).alias("spend_next_month_minor"))

    bal_model = models["balance_forecast"][0]
    if bal_model is not None and holdings is not None:
        bal = bal_model.predict(activity, as_of, holdings=holdings, ids=ids).select("customer_id",
                                                                                    "balance_next_month_minor")
    else:
        bal = ids.with_columns(pl.lit(None, dtype=pl.Int64).alias("balance_next_month_minor"))
        if bal_model is not None:
            versions["balance_forecast"] = f"{versions['balance_forecast']} not used (no holdings given)"

    out = (
        ids.join(seg, on="customer_id", how="left")
        .join(rfm.select("customer_id", "rfm"), on="customer_id", how="left")
        .join(lifecycle_from_features(feats, customers), on="customer_id", how="left")
        .join(yearly_value(activity, as_of, ids=ids), on="customer_id", how="left")
        .join(clv.select("customer_id", "clv_minor"), on="customer_id", how="left")
        .join(churn, on="customer_id", how="left")
        .join(fc, on="customer_id", how="left")
        .join(bal, on="customer_id", how="left")
    )
    reasons = out["churn_reasons"].to_list()
    out = out.with_columns(
        pl.Series("churn_reasons", [[r["en"] for r in rs or []] for rs in reasons], dtype=pl.List(pl.Utf8)),
        pl.Series("churn_reasons_zh", [[r["zh"] for r in rs or []] for rs in reasons], dtype=pl.List(pl.Utf8)),
        pl.Series("propensity", prop),
        pl.Series("model_versions", [versions] * out.height),
        pl.col("value_minor").cast(pl.Int64), pl.col("clv_minor").cast(pl.Int64),
        pl.col("churn_score").cast(pl.Float64),
    )
    return out.select("customer_id", "segment", "rfm", "lifecycle", "value_minor", "clv_minor", "churn_score",
                      "churn_reasons", "propensity", "model_versions", "churn_reasons_zh", "spend_next_month_minor",
                      "balance_next_month_minor")


def train_all(activity: pl.DataFrame, customers: pl.DataFrame, as_of: date | datetime, *,
              model_dir: Path | None = None, seed: int = 0, holdings: pl.DataFrame | None = None
              ) -> dict[str, Any]:
    """Fit RFM edges, segments, CLV, churn, propensity and the spend forecaster, and the balance forecaster
    when ``holdings`` (current balances) are given and the activity has ledger rows; save each; return
    metrics (a model's figures are None when it was not trained). Churn, propensity and the forecasters
    learn from time splits: with too little history they are not trained (``skipped``: name -> reason)
    and the previously saved version, if any, stays in use."""
    t0 = time.perf_counter()
    activity = normalise(activity)
    dh = data_hash(before(activity, as_of))
    metrics: dict[str, Any] = {"as_of": str(as_of), "seed": seed, "customers": int(customers.height),
                               "activity_rows": int(activity.height)}
    versions: dict[str, str] = {}
    timings: dict[str, float] = {}

    def save(name: str, objects: dict[str, Any], features: list[str], m: dict[str, Any],
             params: dict[str, Any] | None = None) -> None:
        lm = ml.save_model(name, objects, features=features, data_hash=dh, metrics=m, seed=seed,
                                 params={"as_of": str(as_of), **(params or {})}, model_dir=model_dir)
        versions[name] = lm.version

    t = time.perf_counter()
    rfm = RFMScorer().fit(activity, as_of, customers=customers)
    save("rfm", {"rfm": rfm.to_dict()}, RFM_FEATURES, {"n_customers": rfm.n_customers_})
    timings["rfm"] = time.perf_counter() - t

    t = time.perf_counter()
    previous, _ = _load("segments", model_dir, None)
    prev_model = SegmentModel.from_dict(previous.objects["segments"]) if previous else None
    seg = SegmentModel(random_state=seed).fit(activity, as_of, previous=prev_model, customers=customers)
    seg_metrics = {"k": seg.k_, "silhouette": {str(k): v for k, v in seg.silhouette_.items()},
                   "sizes": dict(zip(seg.labels_, seg.sizes_, strict=True)), "dormant": seg.n_dormant_,
                   "previous_version": previous.version if previous else None}
    save("segments", {"segments": seg.to_dict()}, seg.features_, seg_metrics)
    metrics["segments"] = seg.k_
    metrics["segment_detail"] = seg_metrics
    timings["segments"] = time.perf_counter() - t

    t = time.perf_counter()
    clv = CLVModel().fit(activity, as_of)
    clv_pred = clv.predict(activity, as_of, customers=customers)
    clv_metrics = {"method": clv.method_, "reason": clv.reason_, "n_customers": clv.n_customers_,
                   "n_repeat": clv.n_repeat_, "bgf": clv.bgf_params_, "ggf": clv.ggf_params_,
                   "fallback_rows": getattr(clv, "last_fallback_rows_", None),
                   "clv_total_minor": int(clv_pred["clv_minor"].sum()),
                   "clv_median_minor": float(clv_pred["clv_minor"].median() or 0)}  # type: ignore[arg-type]
    save("clv", {"clv": clv.to_dict()}, CLV_FEATURES, clv_metrics)
    metrics["clv_customers"] = int((clv_pred["clv_minor"] > 0).sum())
    metrics["clv_method"] = clv.method_
    metrics["clv_detail"] = clv_metrics
    timings["clv"] = time.perf_counter() - t

    skipped: dict[str, str] = {}

    def attempt(name: str, fit: Any) -> None:
        """Fit one of the models learned from time splits; with too little history (or a single class) it
        cannot be learned: the previous saved version stays in use and the reason is reported."""
        t = time.perf_counter()
        try:
            fit()
        except ValueError as e:
            skipped[name] = str(e)
            log.warning("insight: %s not trained: %s", name, e)
        timings[name] = time.perf_counter() - t

    def churn() -> None:
        ch = ChurnModel(random_state=seed).fit(activity, as_of, customers=customers)
        ev = ch.evaluation_
        save("churn", {"booster": ch.booster_, "params": ch.params(), "evaluation": ev}, ch.features_,
             {k: v for k, v in ev.items() if k not in ("roc", "calibration", "lift_table")}, ch.params())
        metrics.update({"churn_auc": ev.get("auc"), "churn_lift_top_decile": ev.get("lift_top_decile"),
                        "churn_capture_top_decile": ev.get("capture_top_decile"),
                        "churn_eval_positive_rate": ev.get("eval_positive_rate"),
                        "churn_baseline_auc_recency": ev.get("baseline_auc_recency"),
                        "churn_served": ev.get("served"), "churn_served_reason": ev.get("served_reason")})

    def propensity() -> None:
        pm = PropensityModel(random_state=seed).fit(activity, as_of, customers=customers)
        objs: dict[str, Any] = {"params": {"horizon_days": pm.horizon_days, "min_positives": pm.min_positives,
                                           "random_state": pm.random_state}, "report": pm.report_}
        objs.update({f"model_{k}": m for k, m in pm.models_.items()})
        save("propensity", objs, prop_mod.FEATURES, {"products": pm.report_})
        metrics["propensity"] = {k: v["method"] for k, v in pm.report_.items()}

    def forecast() -> None:
        fc = SpendForecaster(random_state=seed).fit(activity, as_of)
        fev = fc.evaluation_
        save("forecast", {"booster": fc.booster_, "params": fc.params(), "evaluation": fev}, fc.features_,
             {k: v for k, v in fev.items() if k != "errors_sample"}, fc.params())
        metrics.update({"forecast_mae_minor": fev["model"]["mae_minor"], "forecast_wape": fev["model"]["wape"],
                        "baseline_wape": fev["last_value"]["wape"],
                        "baseline_mae_minor": fev["last_value"]["mae_minor"], "mean3_wape": fev["mean3"]["wape"]})

    def balance_forecast() -> None:
        assert holdings is not None
        bf = BalanceForecaster(random_state=seed).fit(activity, as_of, holdings=holdings)
        bev = bf.evaluation_
        save("balance_forecast", {"booster": bf.booster_, "params": bf.params(), "evaluation": bev}, bf.features_,
             {k: v for k, v in bev.items() if k != "errors_sample"}, bf.params())
        metrics.update({"balance_forecast_mae_minor": bev["model"]["mae_minor"],
                        "balance_forecast_wape": bev["model"]["wape"],
                        "balance_baseline_wape": bev["last_value"]["wape"],
                        "balance_baseline_mae_minor": bev["last_value"]["mae_minor"],
                        "balance_drift_wape": bev["last_value_plus_mean_net3"]["wape"],
                        "balance_holdout_month": bev["holdout_month"], "balance_n_holdout": bev["n_holdout"]})

    metrics.update({"churn_auc": None, "churn_lift_top_decile": None, "churn_capture_top_decile": None,
                    "churn_eval_positive_rate": None, "churn_baseline_auc_recency": None, "churn_served": None,
                    "churn_served_reason": None, "propensity": {},
                    "forecast_mae_minor": None, "forecast_wape": None, "baseline_wape": None,
                    "baseline_mae_minor": None, "mean3_wape": None,
                    "balance_forecast_mae_minor": None, "balance_forecast_wape": None,
                    "balance_baseline_wape": None, "balance_baseline_mae_minor": None})
    attempt("churn", churn)
    attempt("propensity", propensity)
    attempt("forecast", forecast)
    if holdings is not None and activity.filter(pl.col("source") == "ledger").height:
        attempt("balance_forecast", balance_forecast)

    metrics["skipped"] = skipped
    metrics["versions"] = versions
    metrics["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    metrics["train_seconds"] = round(time.perf_counter() - t0, 2)
    return metrics
