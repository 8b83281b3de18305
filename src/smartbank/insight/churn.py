"""Churn risk: a LightGBM classifier on behaviour features, evaluated on a proper time split.

Label (documented in docs/INSIGHT_MODELS.md): among customers *active before* a cutoff (at least
``MIN_PRE_ACTIVITY`` customer-initiated transactions in the ``horizon_days`` before it), a customer
churns when their customer-initiated transactions in the ``horizon_days`` after the cutoff fall below
``drop_ratio`` x the count in the ``horizon_days`` before. A full lapse (no activity at all) is the
extreme case of this "activity drop" definition; on card data where nobody leaves, a pure lapse label
would have almost no positives.

Time split: the evaluation cutoff is ``as_of - horizon_days`` (its label window ends at ``as_of``);
training cutoffs step back from ``eval_cutoff - horizon_days`` so every training label window ends on or
before the evaluation cutoff. Features only ever see activity strictly before their cutoff. After the
evaluation, the reported model is refitted on all cutoffs (training + evaluation) with the same settings.

Model or baseline: on the evaluation cutoff the model is compared with the recency baseline (a logistic
regression on ``log1p(recency_days)``, fitted on the same training cutoffs: it ranks customers exactly as
recency alone does, so its AUC is ``baseline_auc_recency``). When the model's AUC is below the baseline's, the
baseline is what scores customers (``evaluation_["served"] == "recency_baseline"``), refitted on every cutoff
like the model; the booster is still saved, and the evaluation keeps both AUCs and why the baseline is served.

Reasons: a score gets reasons only when it is material, above the base rate (the churn rate of the rows the
served scorer was fitted on, ``evaluation_["base_rate"]``); then each of the (at most three) features pushing
the risk up by at least :data:`MIN_CONTRIBUTION` (log-odds) becomes a plain-language reason (en / zh). The model's
contributions are LightGBM's TreeSHAP values (``pred_contrib=True``); the baseline's single one is its slope times
the customer's log recency less the average customer's. The transparent fallback without a trained model
(:func:`rule_scores`) gives reasons only from a score of :data:`RULE_MATERIAL_SCORE`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from smartbank.ml.service import BEHAVIOUR_FEATURES, BoostedModel, at_midnight, behaviour, initiated, window
from smartbank.money import format_mean_minor

__all__ = ["SERVED", "ChurnModel", "baseline_scores", "churn_labels", "fit_recency_baseline", "lift_table",
           "rule_scores", "served_choice"]

HORIZON_DAYS = 30
DROP_RATIO = 0.5
MIN_PRE_ACTIVITY = 2
STEP_DAYS = 15
N_TRAIN_CUTOFFS = 3
MIN_HISTORY_DAYS = 60
FEATURES = list(BEHAVIOUR_FEATURES)
SERVED = ("model", "recency_baseline")
MIN_CONTRIBUTION = 0.1  # log-odds: a feature that moves the odds by less than ~10% is not a reason
RULE_MATERIAL_SCORE = 0.5  # the rules' score from which it is explained
RULE_MATERIAL_PART = 0.5  # a rule component (0..1) that counts as a reason

REASONS: dict[str, tuple[str, str]] = {
    "recency_days": ("no activity for {recency_days:.0f} days", "已{recency_days:.0f}天没有主动交易"),
    "tenure_days": ("customer for {tenure_days:.0f} days", "成为客户{tenure_days:.0f}天"),
    "n_7": ("{n_7:.0f} payments in the last 7 days", "近7天交易{n_7:.0f}笔"),
    "n_30": ("{n_30:.0f} payments in the last 30 days", "近30天交易{n_30:.0f}笔"),
    "n_prev30": ("{n_prev30:.0f} payments in the 30 days before that", "此前30天交易{n_prev30:.0f}笔"),
    "n_90": ("{n_90:.0f} payments in the last 90 days", "近90天交易{n_90:.0f}笔"),
    "active_days_30": ("active on {active_days_30:.0f} of the last 30 days", "近30天中有{active_days_30:.0f}天有交易"),
    "trend_30": ("activity changed to {trend_30:.0%} of the month before ({n_30:.0f} vs {n_prev30:.0f} payments)",
                 "交易量为上月的{trend_30:.0%}（{n_30:.0f}笔对{n_prev30:.0f}笔）"),
    "spend_30": ("spent {spend_30_major} in the last 30 days", "近30天消费{spend_30_major}"),
    "spend_90": ("spent {spend_90_major} in the last 90 days", "近90天消费{spend_90_major}"),
    "inflow_90": ("received {inflow_90_major} in the last 90 days", "近90天入账{inflow_90_major}"),
    "ticket_mean_90": ("average payment {ticket_mean_90_major}", "平均每笔{ticket_mean_90_major}"),
    "night_share_90": ("{night_share_90:.0%} of payments at night", "{night_share_90:.0%}的交易在夜间"),
    "weekend_share_90": ("{weekend_share_90:.0%} of payments at weekends", "{weekend_share_90:.0%}的交易在周末"),
    "counterparty_diversity_90": ("{counterparty_diversity_90:.0%} of payments to different counterparties",
                                  "{counterparty_diversity_90:.0%}的交易对象各不相同"),
    "max_gap_days_90": ("a gap of {max_gap_days_90:.0f} days between payments", "交易间隔最长{max_gap_days_90:.0f}天"),
}


def _fmt_row(row: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for k in ("spend_30", "spend_90", "inflow_90", "ticket_mean_90"):
        out[f"{k}_major"] = format_mean_minor(row.get(k, 0.0), grouping=True)
    return out


def reason_words(feature: str, row: dict[str, float]) -> dict[str, str]:
    en, zh = REASONS.get(feature, (feature + " = {" + feature + "}", feature + " = {" + feature + "}"))
    r = _fmt_row(row)
    return {"feature": feature, "en": en.format(**r), "zh": zh.format(**r)}


def churn_labels(activity: pl.DataFrame, cutoff: date | datetime, *, horizon_days: int = HORIZON_DAYS,
                 drop_ratio: float = DROP_RATIO) -> pl.DataFrame:
    """customer_id, pre, post, churned (Int8) for customers active before ``cutoff``."""
    t = at_midnight(cutoff)
    act = initiated(activity)
    pre = window(act, t - timedelta(days=horizon_days), t).group_by("customer_id").agg(pl.len().alias("pre"))
    post = window(act, t, t + timedelta(days=horizon_days)).group_by("customer_id").agg(pl.len().alias("post"))
    df = pre.filter(pl.col("pre") >= MIN_PRE_ACTIVITY).join(post, on="customer_id", how="left")
    df = df.with_columns(pl.col("post").fill_null(0))
    return df.with_columns(
        (pl.col("post") < drop_ratio * pl.col("pre")).cast(pl.Int8).alias("churned")
    ).sort("customer_id")


def lift_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Deciles by score (highest first): size, positives, rate, lift, cumulative capture."""
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    base = ys.mean() if len(ys) else 0.0
    out = []
    cum = 0
    for i, chunk in enumerate(np.array_split(ys, bins)):
        cum += int(chunk.sum())
        rate = float(chunk.mean()) if len(chunk) else 0.0
        out.append({"decile": i + 1, "n": len(chunk), "positives": int(chunk.sum()), "rate": rate,
                    "lift": float(rate / base) if base else 0.0,
                    "capture": float(cum / ys.sum()) if ys.sum() else 0.0})
    return out


def _calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    order = np.argsort(p, kind="stable")
    return [{"mean_score": float(p[idx].mean()), "observed": float(y[idx].mean()), "n": len(idx)}
            for idx in np.array_split(order, bins) if len(idx)]


def rule_scores(feats: pl.DataFrame) -> pl.DataFrame:
    """Transparent fallback: half recency (0 at 0 days, 1 at 60+), half activity drop (1 - last/previous month).
    Reasons only for a score of at least :data:`RULE_MATERIAL_SCORE`, from the parts of at least
    :data:`RULE_MATERIAL_PART`."""
    rec = np.clip(feats["recency_days"].to_numpy() / 60.0, 0.0, 1.0)
    drop = np.clip(1.0 - feats["trend_30"].to_numpy(), 0.0, 1.0)
    score = 0.5 * rec + 0.5 * drop
    rows = feats.to_dicts()
    reasons = []
    for r, a, b, sc in zip(rows, rec, drop, score, strict=True):
        rs = []
        if sc >= RULE_MATERIAL_SCORE:
            if a >= RULE_MATERIAL_PART:
                rs.append(reason_words("recency_days", r))
            if b >= RULE_MATERIAL_PART:
                rs.append(reason_words("trend_30", r))
        reasons.append(rs)
    return feats.select("customer_id").with_columns(pl.Series("churn_score", score, dtype=pl.Float64),
                                                    pl.Series("churn_reasons", reasons))


def _log_recency(feats: pl.DataFrame) -> np.ndarray:
    return np.log1p(np.maximum(feats["recency_days"].to_numpy().astype(float), 0.0))


def fit_recency_baseline(feats: pl.DataFrame, y: np.ndarray) -> dict[str, float]:
    """The recency baseline: logistic regression of churn on ``log1p(recency_days)``; its parameters and the
    average log recency it was fitted on (the reference of its contribution)."""
    from sklearn.linear_model import LogisticRegression

    x = _log_recency(feats)
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(x.reshape(-1, 1), y)
    return {"intercept": float(lr.intercept_[0]), "slope": float(lr.coef_[0][0]), "mean_log_recency": float(x.mean())}


def baseline_scores(base: dict[str, float], feats: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(probability, contribution in log-odds against the average customer) of the recency baseline."""
    x = _log_recency(feats)
    z = base["intercept"] + base["slope"] * x
    return 1.0 / (1.0 + np.exp(-z)), base["slope"] * (x - base["mean_log_recency"])


def served_choice(auc: float | None, baseline_auc: float | None) -> tuple[str, str]:
    """(what scores customers, why): the baseline when the model ranks churners worse than it does."""
    if auc is None or baseline_auc is None:
        return "model", "no evaluation with both classes: the model is served, not compared with the baseline"
    if auc < baseline_auc:
        return "recency_baseline", (f"the model's AUC {auc:.3f} is below the recency baseline's {baseline_auc:.3f}: "
                                    "the baseline is served")
    return "model", f"the model's AUC {auc:.3f} is at least the recency baseline's {baseline_auc:.3f}"


def _explain(rows: list[dict[str, Any]], names: list[str], p: np.ndarray, contrib: np.ndarray, base_rate: float
             ) -> list[list[dict[str, Any]]]:
    """Reasons per row: only for a score above ``base_rate``, only contributions of at least MIN_CONTRIBUTION."""
    out: list[list[dict[str, Any]]] = []
    for i, row in enumerate(rows):
        if not p[i] > base_rate:
            out.append([])
            continue
        top = [j for j in np.argsort(-contrib[i], kind="stable")[:3] if contrib[i, j] >= MIN_CONTRIBUTION]
        out.append([{**reason_words(names[j], row), "contribution": round(float(contrib[i, j]), 4)} for j in top])
    return out


class ChurnModel(BoostedModel):
    """Activity-drop churn classifier (an estimator; see the module docstring)."""

    PARAMS = ("horizon_days", "drop_ratio", "step_days", "n_train_cutoffs", "min_history_days", "n_estimators",
              "learning_rate", "num_leaves", "min_child_samples", "random_state")

    def __init__(self, *, horizon_days: int = HORIZON_DAYS, drop_ratio: float = DROP_RATIO, step_days: int = STEP_DAYS,
                 n_train_cutoffs: int = N_TRAIN_CUTOFFS, min_history_days: int = MIN_HISTORY_DAYS,
                 n_estimators: int = 200, learning_rate: float = 0.05, num_leaves: int = 15,
                 min_child_samples: int = 50, random_state: int = 0):
        self.horizon_days = horizon_days
        self.drop_ratio = drop_ratio
        self.step_days = step_days
        self.n_train_cutoffs = n_train_cutoffs
        self.min_history_days = min_history_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def cutoffs(self, activity: pl.DataFrame, as_of: date | datetime) -> tuple[list[datetime], datetime]:
        """(training cutoffs, oldest first; evaluation cutoff)."""
        t = at_midnight(as_of)
        eval_cut = t - timedelta(days=self.horizon_days)
        first = activity["ts"].min()
        train = []
        for i in range(self.n_train_cutoffs):
            c = eval_cut - timedelta(days=self.horizon_days + i * self.step_days)
            if first is not None and (c - first).days >= self.min_history_days:  # type: ignore[operator,union-attr]
                train.append(c)
        train.sort()
        assert all(c + timedelta(days=self.horizon_days) <= eval_cut for c in train)
        return train, eval_cut

    def dataset(self, activity: pl.DataFrame, cutoff: datetime, customers: pl.DataFrame | None = None
                ) -> pl.DataFrame:
        """Features as of ``cutoff`` (activity strictly before it) joined to the labels after it."""
        lab = churn_labels(activity, cutoff, horizon_days=self.horizon_days, drop_ratio=self.drop_ratio)
        feats = behaviour(activity, cutoff, customers=customers, ids=lab.select("customer_id"))
        return feats.join(lab.select("customer_id", "churned"), on="customer_id").with_columns(
            pl.lit(cutoff).alias("cutoff"))

    def _classifier(self) -> Any:
        import lightgbm as lgb

        return lgb.LGBMClassifier(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                  num_leaves=self.num_leaves, min_child_samples=self.min_child_samples,
                                  subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                                  random_state=self.random_state, deterministic=True, force_row_wise=True,
                                  n_jobs=2, verbose=-1)

    def fit(self, activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None
            ) -> ChurnModel:
        from sklearn.metrics import roc_auc_score, roc_curve

        train_cuts, eval_cut = self.cutoffs(activity, as_of)
        if not train_cuts:
            raise ValueError(f"not enough history before {eval_cut:%Y-%m-%d} for a time split "
                             f"(need {self.min_history_days} days before the first training cutoff)")
        train = pl.concat([self.dataset(activity, c, customers) for c in train_cuts])
        test = self.dataset(activity, eval_cut, customers)
        xtr, ytr = train.select(FEATURES).to_numpy(), train["churned"].to_numpy()
        xte, yte = test.select(FEATURES).to_numpy(), test["churned"].to_numpy()
        if len(set(ytr.tolist())) < 2:
            raise ValueError("the training cutoffs have a single class: churn cannot be learned from this data")
        clf = self._classifier().fit(xtr, ytr)
        p = clf.predict_proba(xte)[:, 1]
        base_fit = fit_recency_baseline(train, ytr)
        ev: dict[str, Any] = {
            "train_cutoffs": [c.date().isoformat() for c in train_cuts], "eval_cutoff": eval_cut.date().isoformat(),
            "horizon_days": self.horizon_days, "n_train": int(len(ytr)), "n_eval": int(len(yte)),
            "train_positive_rate": float(ytr.mean()), "eval_positive_rate": float(yte.mean()) if len(yte) else None,
        }
        if len(set(yte.tolist())) == 2:
            lt = lift_table(yte, p)
            fpr, tpr, _ = roc_curve(yte, p)
            keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
            ev.update({
                "auc": float(roc_auc_score(yte, p)), "lift_top_decile": lt[0]["lift"],
                "capture_top_decile": lt[0]["capture"], "lift_table": lt, "calibration": _calibration(yte, p),
                "roc": {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()},
                "baseline_auc_recency": float(roc_auc_score(yte, test["recency_days"].to_numpy())),
                "baseline_auc": float(roc_auc_score(yte, baseline_scores(base_fit, test)[0])),
            })
        else:
            ev.update({"auc": None, "lift_top_decile": None, "capture_top_decile": None,
                       "baseline_auc_recency": None, "baseline_auc": None})
        served, why = served_choice(ev["auc"], ev["baseline_auc"])
        # the reported model and the baseline: same settings, refitted on every cutoff including the evaluation one
        full = pl.concat([train, test])
        yfull = full["churned"].to_numpy()
        self.booster_ = self._classifier().fit(full.select(FEATURES).to_numpy(), yfull).booster_
        self.features_ = list(FEATURES)
        ev.update({"served": served, "served_reason": why, "baseline": fit_recency_baseline(full, yfull),
                   "base_rate": float(yfull.mean())})
        self.evaluation_ = ev
        return self

    @property
    def served_(self) -> str:
        """``model`` or ``recency_baseline`` (a model saved before the comparison existed: ``model``)."""
        ev = getattr(self, "evaluation_", None) or {}
        return "recency_baseline" if ev.get("served") == "recency_baseline" and ev.get("baseline") else "model"

    @property
    def base_rate_(self) -> float:
        ev = getattr(self, "evaluation_", None) or {}
        rate = ev.get("base_rate", ev.get("train_positive_rate"))
        return float(rate) if rate is not None else 0.5

    def predict(self, activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None,
                ids: pl.DataFrame | None = None) -> pl.DataFrame:
        """customer_id, churn_score (Float64), churn_reasons (list of {feature, en, zh}) as of ``as_of``."""
        feats = behaviour(activity, as_of, customers=customers, ids=ids)
        return self.score_features(feats)

    def score_features(self, feats: pl.DataFrame) -> pl.DataFrame:
        x = feats.select(self.features_).to_numpy()
        if len(x) == 0:
            return feats.select("customer_id").with_columns(pl.lit(None, dtype=pl.Float64).alias("churn_score"),
                                                            pl.lit([]).alias("churn_reasons"))
        rows = feats.to_dicts()
        if self.served_ == "recency_baseline":
            p, c = baseline_scores(self.evaluation_["baseline"], feats)
            reasons = _explain(rows, ["recency_days"], p, c.reshape(-1, 1), self.base_rate_)
        else:
            p = np.asarray(self.booster_.predict(x), dtype=float)
            contrib = np.asarray(self.booster_.predict(x, pred_contrib=True), dtype=float)[:, :-1]
            reasons = _explain(rows, self.features_, p, contrib, self.base_rate_)
        return feats.select("customer_id").with_columns(pl.Series("churn_score", p, dtype=pl.Float64),
                                                        pl.Series("churn_reasons", reasons))

