"""Behavioural segmentation: KMeans on standardised behaviour features, stable labels, descriptions.

- features (from customer-initiated activity in the ``lookback_days`` before ``as_of``): log ticket size,
  log monthly spend, log monthly payments, log recency, night / weekend shares, counterparty diversity,
  and the shares of the main channels and categories (those with at least ``MIN_VALUE_SHARE`` of rows)
- k is chosen by silhouette over ``k_range`` (fixed ``random_state``)
- labels are stable across reruns: the new centroids are matched to the previous run's with the
  Hungarian algorithm (``scipy.optimize.linear_sum_assignment``); a match keeps its label, a new cluster
  (or one farther than ``MATCH_MAX_DISTANCE`` from any old one) gets a new label that was never used
- each segment is described in words (en, zh) from its standardised centroid, with the figures behind
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from smartbank.insight.features import CATEGORY_NAMES, CHANNEL_NAMES_ZH
from smartbank.ml.service import NIGHT_HOURS, RECENCY_CAP_DAYS, at_midnight, before, customer_ids, initiated
from smartbank.money import format_mean_minor

__all__ = ["SegmentModel", "segment_chart_svg", "segment_features", "svg_of"]

LOOKBACK_DAYS = 90
MIN_VALUE_SHARE = 0.05  # a channel / category gets its own share feature above this share of all rows
MAX_VALUES = 4  # at most this many channel and category share features each
MATCH_MAX_DISTANCE = 2.0  # standardised units: farther than this, a new centroid is a new segment
DESCRIBE_MIN_Z = 0.3  # deviations smaller than this are not worth words
DESCRIBE_TOP = 3
# customers without any customer-initiated activity in the lookback window are not clustered: they
# form this fixed segment (otherwise their zeros dominate the clustering)
DORMANT_LABEL = "S0"
DORMANT_DESCRIPTION = {
    "label": DORMANT_LABEL, "name_en": "Dormant", "name_zh": "沉睡客群", "facts": [],
    "en": f"Dormant: no customer-initiated activity in the last {LOOKBACK_DAYS} days",
    "zh": f"沉睡客群：近{LOOKBACK_DAYS}天没有主动交易",
}

# raw feature -> (transform applied before standardising, kind of figure)
BASE_FEATURES: dict[str, tuple[str, str]] = {
    "ticket_minor": ("log1p", "ratio"),
    "spend_month_minor": ("log1p", "ratio"),
    "payments_month": ("log1p", "ratio"),
    "recency_days": ("log1p", "days"),
    "night_share": ("none", "share"),
    "weekend_share": ("none", "share"),
    "counterparty_diversity": ("none", "share"),
}

WORDS: dict[str, dict[str, str]] = {
    "ticket_minor": {
        "en": "spends {ratio:.1f}x the average per transaction ({seg_money} vs {all_money})",
        "zh": "单笔金额是平均的{ratio:.1f}倍（{seg_money}，平均{all_money}）",
        "name_en+": "Big-ticket spenders", "name_zh+": "大额消费客群",
        "name_en-": "Small-ticket spenders", "name_zh-": "小额消费客群",
    },
    "spend_month_minor": {
        "en": "spends {ratio:.1f}x the average per month ({seg_money} vs {all_money})",
        "zh": "月消费额是平均的{ratio:.1f}倍（{seg_money}，平均{all_money}）",
        "name_en+": "High spenders", "name_zh+": "高消费客群",
        "name_en-": "Low spenders", "name_zh-": "低消费客群",
    },
    "payments_month": {
        "en": "makes {ratio:.1f}x the average number of payments ({seg:.1f} vs {all:.1f} a month)",
        "zh": "交易笔数是平均的{ratio:.1f}倍（每月{seg:.1f}笔，平均{all:.1f}笔）",
        "name_en+": "Frequent payers", "name_zh+": "高频交易客群",
        "name_en-": "Occasional payers", "name_zh-": "低频交易客群",
    },
    "recency_days": {
        "en": "last active {seg:.0f} days ago on average (overall {all:.0f})",
        "zh": "平均{seg:.0f}天前最后一次交易（整体{all:.0f}天）",
        "name_en+": "Dormant", "name_zh+": "沉睡客群",
        "name_en-": "Recently active", "name_zh-": "近期活跃客群",
    },
    "night_share": {
        "en": "{seg:.0%} of payments at night (average {all:.0%})",
        "zh": "{seg:.0%}的交易发生在夜间（平均{all:.0%}）",
        "name_en+": "Night owls", "name_zh+": "夜间活跃客群",
        "name_en-": "Daytime payers", "name_zh-": "日间交易客群",
    },
    "weekend_share": {
        "en": "{seg:.0%} of payments at weekends (average {all:.0%})",
        "zh": "{seg:.0%}的交易发生在周末（平均{all:.0%}）",
        "name_en+": "Weekend spenders", "name_zh+": "周末消费客群",
        "name_en-": "Weekday spenders", "name_zh-": "工作日消费客群",
    },
    "counterparty_diversity": {
        "en": "{seg:.0%} of payments go to a new counterparty (average {all:.0%})",
        "zh": "{seg:.0%}的交易对象各不相同（平均{all:.0%}）",
        "name_en+": "Explorers", "name_zh+": "多商户客群",
        "name_en-": "Creatures of habit", "name_zh-": "固定商户客群",
    },
    "channel": {
        "en": "{seg:.0%} of payments via {value} (average {all:.0%})",
        "zh": "{seg:.0%}的交易通过{value}渠道（平均{all:.0%}）",
        "name_en+": "{value} users", "name_zh+": "{value}渠道客群",
        "name_en-": "Rarely use {value}", "name_zh-": "少用{value}渠道客群",
    },
    "category": {
        "en": "{seg:.0%} of payments on {value} (average {all:.0%})",
        "zh": "{value}类交易占{seg:.0%}（平均{all:.0%}）",
        "name_en+": "{value} spenders", "name_zh+": "{value}消费客群",
        "name_en-": "Little {value}", "name_zh-": "少{value}消费客群",
    },
}

FEATURE_LABELS = {
    "ticket_minor": ("ticket size", "单笔金额"),
    "spend_month_minor": ("monthly spend", "月消费额"),
    "payments_month": ("payments a month", "月交易笔数"),
    "recency_days": ("days since last activity", "距上次交易天数"),
    "night_share": ("night share", "夜间占比"),
    "weekend_share": ("weekend share", "周末占比"),
    "counterparty_diversity": ("counterparty diversity", "交易对象分散度"),
}


def _value_columns(act: pl.DataFrame, col: str) -> list[str]:
    if act.height == 0:
        return []
    counts = act.filter(pl.col(col).is_not_null()).group_by(col).agg(pl.len().alias("n"))
    counts = counts.sort(["n", col], descending=[True, False])
    keep = counts.filter(pl.col("n") >= MIN_VALUE_SHARE * act.height)[col].to_list()[:MAX_VALUES]
    # a single value everyone shares carries no information
    if len(keep) == 1 and counts.height == 1:
        return []
    return sorted(str(v) for v in keep)


def segment_features(
    activity: pl.DataFrame,
    as_of: date | datetime,
    *,
    channels: list[str] | None = None,
    categories: list[str] | None = None,
    ids: pl.DataFrame | None = None,
    customers: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """Raw (untransformed) behaviour figures per customer; channels/categories found when not given."""
    t = at_midnight(as_of)
    past = before(activity, t)
    if ids is None:
        ids = customer_ids(past, customers)
    act = initiated(past)
    recent = act.filter(pl.col("ts") >= t - timedelta(days=LOOKBACK_DAYS))
    if channels is None:
        channels = _value_columns(recent, "channel")
    if categories is None:
        categories = _value_columns(recent, "category")
    hour = pl.col("ts").dt.hour()
    night = (hour >= NIGHT_HOURS[0]) | (hour < NIGHT_HOURS[1])
    months = LOOKBACK_DAYS / 30.4375
    aggs = [
        pl.col("amount_minor").abs().cast(pl.Float64).mean().alias("ticket_minor"),
        (pl.col("amount_minor").filter(pl.col("amount_minor") < 0).abs().sum().cast(pl.Float64) / months)
        .alias("spend_month_minor"),
        (pl.len().cast(pl.Float64) / months).alias("payments_month"),
        night.cast(pl.Float64).mean().alias("night_share"),
        (pl.col("ts").dt.weekday() >= 6).cast(pl.Float64).mean().alias("weekend_share"),
        (pl.col("counterparty").n_unique().cast(pl.Float64) / pl.len()).alias("counterparty_diversity"),
    ]
    for v in channels:
        aggs.append((pl.col("channel") == v).fill_null(False).cast(pl.Float64).mean().alias(f"channel:{v}"))
    for v in categories:
        aggs.append((pl.col("category") == v).fill_null(False).cast(pl.Float64).mean().alias(f"category:{v}"))
    agg = recent.group_by("customer_id").agg(aggs)
    last = act.group_by("customer_id").agg(pl.col("ts").max().alias("last_ts"))
    df = ids.join(agg, on="customer_id", how="left").join(last, on="customer_id", how="left")
    cols = [c for c in agg.columns if c != "customer_id"]
    df = df.with_columns([pl.col(c).fill_null(0.0) for c in cols]).with_columns(
        ((pl.lit(t) - pl.col("last_ts")).dt.total_microseconds().cast(pl.Float64) / 86_400_000_000.0)
        .fill_null(RECENCY_CAP_DAYS).clip(0.0, RECENCY_CAP_DAYS).alias("recency_days")
    )
    names = [*BASE_FEATURES, *[f"channel:{v}" for v in channels], *[f"category:{v}" for v in categories]]
    return df.select(["customer_id", *names]), channels, categories


def _transform(raw: pl.DataFrame, names: list[str]) -> np.ndarray:
    x = raw.select(names).to_numpy().astype(float)
    for j, n in enumerate(names):
        if BASE_FEATURES.get(n, ("none", ""))[0] == "log1p":
            x[:, j] = np.log1p(np.maximum(x[:, j], 0.0))
    return x


def _kind(name: str) -> str:
    if name in BASE_FEATURES:
        return BASE_FEATURES[name][1]
    return "share"


def _words_key(name: str) -> tuple[str, str | None]:
    if ":" in name:
        k, v = name.split(":", 1)
        return k, v
    return name, None


@dataclass
class _Match:
    labels: list[str]
    next_label: int


class SegmentModel:
    """KMeans segmentation with stable labels and automatic descriptions (an estimator)."""

    def __init__(self, *, k_range: tuple[int, int] = (3, 6), random_state: int = 0, n_init: int = 10,
                 silhouette_sample: int = 3000):
        self.k_range = k_range
        self.random_state = random_state
        self.n_init = n_init
        self.silhouette_sample = silhouette_sample

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, activity: pl.DataFrame, as_of: date | datetime, *, previous: SegmentModel | None = None,
            customers: pl.DataFrame | None = None) -> SegmentModel:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        raw, channels, categories = segment_features(activity, as_of, customers=customers)
        raw = raw.sort("customer_id")
        self.n_dormant_ = int((raw["payments_month"] == 0).sum())
        raw = raw.filter(pl.col("payments_month") > 0)
        names = [c for c in raw.columns if c != "customer_id"]
        x = _transform(raw, names)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        z = (x - mean) / scale
        n = z.shape[0]
        lo, hi = self.k_range
        ks = [k for k in range(lo, hi + 1) if 2 <= k < n]
        if not ks:
            raise ValueError(f"too few customers ({n}) to segment")
        scores: dict[int, float] = {}
        fits = {}
        for k in ks:
            km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(z)
            if len(set(km.labels_.tolist())) < 2:
                continue
            scores[k] = float(silhouette_score(z, km.labels_, sample_size=min(n, self.silhouette_sample),
                                               random_state=self.random_state))
            fits[k] = km
        best_k = max(scores, key=lambda kk: (round(scores[kk], 6), -kk))
        km = fits[best_k]
        centers = km.cluster_centers_
        assign = km.labels_

        self.features_ = names
        self.channels_ = channels
        self.categories_ = categories
        self.mean_ = mean
        self.scale_ = scale
        self.silhouette_ = scores
        self.k_ = best_k
        # figures behind the words: per segment and overall, in raw units
        raw_np = raw.select(names).to_numpy().astype(float)
        self.overall_raw_ = raw_np.mean(axis=0)
        order = np.argsort([raw_np[assign == i, names.index("spend_month_minor")].mean() for i in range(best_k)],
                           kind="stable")
        match = self._match_labels(centers, order, previous)
        self.labels_ = match.labels
        self.next_label_ = match.next_label
        self.centroids_ = centers
        self.sizes_ = [int((assign == i).sum()) for i in range(best_k)]
        self.segment_raw_ = np.vstack([raw_np[assign == i].mean(axis=0) for i in range(best_k)])
        self.descriptions_ = [self._describe(i) for i in range(best_k)]
        self._dedupe_names()
        self.n_customers_ = n
        return self

    def _match_labels(self, centers: np.ndarray, order: np.ndarray, previous: SegmentModel | None) -> _Match:
        from scipy.optimize import linear_sum_assignment

        k = centers.shape[0]
        labels: list[str | None] = [None] * k
        next_label = 1
        if previous is not None:
            next_label = previous.next_label_
            prev = previous._centroids_in(self.features_, self.mean_, self.scale_)
            cost = np.linalg.norm(centers[:, None, :] - prev[None, :, :], axis=2)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] <= MATCH_MAX_DISTANCE:
                    labels[r] = previous.labels_[c]
        for i in order:  # unmatched clusters, by increasing monthly spend
            if labels[i] is None:
                labels[i] = f"S{next_label}"
                next_label += 1
        return _Match(labels=[str(x) for x in labels], next_label=next_label)

    def _centroids_in(self, names: list[str], mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """This model's centroids expressed in another run's standardised space (missing features at mean)."""
        raw = self.centroids_ * self.scale_ + self.mean_  # transformed (log) units
        out = np.zeros((raw.shape[0], len(names)))
        for j, n in enumerate(names):
            if n in self.features_:
                out[:, j] = (raw[:, self.features_.index(n)] - mean[j]) / scale[j]
        return out

    # -- describing --------------------------------------------------------------------------------
    def _describe(self, i: int) -> dict[str, Any]:
        z = self.centroids_[i]
        idx = [int(j) for j in np.argsort(-np.abs(z), kind="stable") if abs(z[j]) >= DESCRIBE_MIN_Z][:DESCRIBE_TOP]
        facts = []
        for j in idx:
            name = self.features_[j]
            seg, overall = float(self.segment_raw_[i, j]), float(self.overall_raw_[j])
            key, value = _words_key(name)
            w = WORDS[key]
            ratio = seg / overall if overall else math.inf
            fmt = {"seg": seg, "all": overall, "ratio": ratio, "value": value or "",
                   "seg_money": format_mean_minor(seg, grouping=True),
                   "all_money": format_mean_minor(overall, grouping=True)}
            facts.append({
                "feature": name, "z": round(float(z[j]), 3), "segment_value": round(seg, 4),
                "overall_value": round(overall, 4), "ratio": round(ratio, 3) if math.isfinite(ratio) else None,
                "en": w["en"].format(**fmt), "zh": w["zh"].format(**{**fmt, "value": _zh(value)}),
            })
        if idx:
            sign = "+" if z[idx[0]] > 0 else "-"
            key, value = _words_key(self.features_[idx[0]])
            name_en = WORDS[key]["name_en" + sign].format(value=value or "")
            name_zh = WORDS[key]["name_zh" + sign].format(value=_zh(value))
        else:
            name_en, name_zh = "Typical customers", "典型客群"
        size = self.sizes_[i]
        share = size / max(1, sum(self.sizes_))
        return {
            "label": self.labels_[i], "name_en": name_en, "name_zh": name_zh, "size": size,
            "share": round(share, 4), "facts": facts,
        }

    def _dedupe_names(self) -> None:
        """Segments sharing a name are told apart by their second distinguishing feature (then the label)."""
        for _ in range(2):
            count: dict[str, int] = {}
            for d in self.descriptions_:
                count[d["name_en"]] = count.get(d["name_en"], 0) + 1
            for d in self.descriptions_:
                if count[d["name_en"]] > 1 and len(d["facts"]) >= 2 and "·" not in d["name_en"]:
                    f = d["facts"][1]
                    key, value = _words_key(f["feature"])
                    sign = "+" if f["z"] > 0 else "-"
                    d["name_en"] += " · " + WORDS[key]["name_en" + sign].format(value=value or "")
                    d["name_zh"] += "·" + WORDS[key]["name_zh" + sign].format(value=_zh(value))
                elif count[d["name_en"]] > 1:
                    d["name_en"] = f"{d['name_en']} ({d['label']})"
                    d["name_zh"] = f"{d['name_zh']}（{d['label']}）"
        for d in self.descriptions_:
            d["en"] = f"{d['name_en']} ({d['share']:.0%} of customers): " + (
                "; ".join(f["en"] for f in d["facts"]) or "close to average")
            d["zh"] = f"{d['name_zh']}（占客户{d['share']:.0%}）：" + (
                "；".join(f["zh"] for f in d["facts"]) or "接近平均水平")

    def description(self, label: str) -> dict[str, Any]:
        if label == DORMANT_LABEL:
            return {**DORMANT_DESCRIPTION, "size": self.n_dormant_}
        return self.descriptions_[self.labels_.index(label)]

    # -- assigning ---------------------------------------------------------------------------------
    def predict(self, activity: pl.DataFrame, as_of: date | datetime, *, ids: pl.DataFrame | None = None,
                customers: pl.DataFrame | None = None) -> pl.DataFrame:
        """customer_id, segment: the label of the nearest saved centroid."""
        raw, _, _ = segment_features(activity, as_of, channels=self.channels_, categories=self.categories_, ids=ids,
                                     customers=customers)
        z = (_transform(raw, self.features_) - self.mean_) / self.scale_
        d = np.linalg.norm(z[:, None, :] - self.centroids_[None, :, :], axis=2)
        lab = np.asarray(self.labels_)[d.argmin(axis=1)] if len(raw) else np.asarray([], dtype=str)
        lab = np.where(raw["payments_month"].to_numpy() > 0, lab, DORMANT_LABEL)
        return raw.select("customer_id").with_columns(pl.Series("segment", lab.tolist(), dtype=pl.Utf8))

    def rows(self, run_id: str) -> list[dict[str, Any]]:
        """Rows for the ``segments`` table."""
        out = []
        for i, lab in enumerate(self.labels_):
            d = self.descriptions_[i]
            out.append({
                "run_id": run_id, "label": lab, "name_en": d["name_en"], "name_zh": d["name_zh"],
                "description": {"en": d["en"], "zh": d["zh"], "facts": d["facts"]},
                "centroid": {n: round(float(v), 4) for n, v in zip(self.features_, self.centroids_[i], strict=True)},
                "size": self.sizes_[i],
            })
        d0 = DORMANT_DESCRIPTION
        out.append({"run_id": run_id, "label": DORMANT_LABEL, "name_en": d0["name_en"], "name_zh": d0["name_zh"],
                    "description": {"en": d0["en"], "zh": d0["zh"], "facts": []}, "centroid": {},
                    "size": self.n_dormant_})
        return out

    # -- persistence (plain JSON) ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {"k_range": list(self.k_range), "random_state": self.random_state, "n_init": self.n_init,
                       "silhouette_sample": self.silhouette_sample},
            "features": self.features_, "channels": self.channels_, "categories": self.categories_,
            "mean": self.mean_.tolist(), "scale": self.scale_.tolist(), "centroids": self.centroids_.tolist(),
            "labels": self.labels_, "next_label": self.next_label_, "sizes": self.sizes_,
            "silhouette": {str(k): v for k, v in self.silhouette_.items()}, "k": self.k_,
            "overall_raw": self.overall_raw_.tolist(), "segment_raw": self.segment_raw_.tolist(),
            "descriptions": self.descriptions_, "n_customers": self.n_customers_, "n_dormant": self.n_dormant_,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SegmentModel:
        p = d["params"]
        m = cls(k_range=(int(p["k_range"][0]), int(p["k_range"][1])), random_state=int(p["random_state"]),
                n_init=int(p["n_init"]), silhouette_sample=int(p["silhouette_sample"]))
        m.features_ = list(d["features"])
        m.channels_ = list(d["channels"])
        m.categories_ = list(d["categories"])
        m.mean_ = np.asarray(d["mean"], dtype=float)
        m.scale_ = np.asarray(d["scale"], dtype=float)
        m.centroids_ = np.asarray(d["centroids"], dtype=float)
        m.labels_ = list(d["labels"])
        m.next_label_ = int(d["next_label"])
        m.sizes_ = [int(s) for s in d["sizes"]]
        m.silhouette_ = {int(k): float(v) for k, v in d["silhouette"].items()}
        m.k_ = int(d["k"])
        m.overall_raw_ = np.asarray(d["overall_raw"], dtype=float)
        m.segment_raw_ = np.asarray(d["segment_raw"], dtype=float)
        m.descriptions_ = list(d["descriptions"])
        m.n_customers_ = int(d["n_customers"])
        m.n_dormant_ = int(d.get("n_dormant", 0))
        return m


# Chinese names of channel and category codes (words and chart labels); unknown codes are shown as they are
VALUES_ZH = {**CATEGORY_NAMES["zh"], **CHANNEL_NAMES_ZH, "branch": "网点", "mobile": "手机"}


def _zh(value: str | None) -> str:
    return VALUES_ZH.get(value or "", value or "")


def _feature_label(name: str, lang: str) -> str:
    key, value = _words_key(name)
    if value is not None:
        return f"{key}: {value}" if lang == "en" else f"{'渠道' if key == 'channel' else '类别'}：{_zh(value)}"
    en, zh = FEATURE_LABELS[key]
    return en if lang == "en" else zh


def svg_of(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with warnings.catch_warnings():  # CJK glyphs: the SVG keeps text as text, the browser draws it
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def segment_chart_svg(model: SegmentModel, label: str | None = None, *, lang: str = "en") -> str:
    """An inline SVG: one segment's standardised deviations (``label``), or all segments side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [_feature_label(n, lang) for n in model.features_]
    with plt.rc_context({"svg.fonttype": "none", "font.size": 9}):
        if label is not None:
            i = model.labels_.index(label)
            z = model.centroids_[i]
            fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1))
            colors = ["#c0392b" if v > 0 else "#2471a3" for v in z]
            ax.barh(range(len(names)), z, color=colors)
            ax.set_yticks(range(len(names)), names)
            ax.invert_yaxis()
            ax.axvline(0, color="#555", lw=0.8)
            d = model.descriptions_[i]
            ax.set_title(f"{label} · {d['name_en'] if lang == 'en' else d['name_zh']}")
            ax.set_xlabel("standard deviations from the average" if lang == "en" else "相对平均值的标准差")
        else:
            fig, ax = plt.subplots(figsize=(1.1 * len(model.labels_) + 3, 0.35 * len(names) + 1.2))
            mat = model.centroids_.T
            lim = max(1.0, float(np.abs(mat).max()))
            im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
            ax.set_yticks(range(len(names)), names)
            ax.set_xticks(range(len(model.labels_)),
                          [f"{lab}\n{s}" for lab, s in zip(model.labels_, model.sizes_, strict=True)])
            for (r, c), v in np.ndenumerate(mat):
                ax.text(c, r, f"{v:+.1f}", ha="center", va="center", fontsize=7)
            fig.colorbar(im, ax=ax, shrink=0.6)
            ax.set_title("Segment profiles (standardised centroids)" if lang == "en" else "客群画像（标准化中心）")
        return svg_of(fig)
