"""HTML model report for the insight models: churn (ROC, lift, calibration), segments, forecast errors.

(Moved here from ``smartbank.ml``: it knows the insight models, which the shared ML plumbing must not.)"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from smartbank.insight.segments import SegmentModel, segment_chart_svg, svg_of
from smartbank.ml import service as ml


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def churn_charts(ev: dict[str, Any]) -> list[tuple[str, str]]:
    plt = _plt()
    out = []
    with plt.rc_context({"svg.fonttype": "none", "font.size": 9}):
        if ev.get("roc"):
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.plot(ev["roc"]["fpr"], ev["roc"]["tpr"], color="#c0392b", label=f"model AUC {ev['auc']:.3f}")
            ax.plot([0, 1], [0, 1], ls="--", color="#999")
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
            ax.legend(loc="lower right")
            ax.set_title("Churn ROC (evaluation cutoff)")
            out.append(("ROC", svg_of(fig)))
        if ev.get("lift_table"):
            lt = ev["lift_table"]
            fig, ax = plt.subplots(figsize=(5, 3.2))
            ax.bar([r["decile"] for r in lt], [r["lift"] for r in lt], color="#2471a3")
            ax.axhline(1, color="#555", lw=0.8)
            ax.set_xlabel("score decile (1 = highest risk)")
            ax.set_ylabel("lift")
            ax.set_title("Churn lift by decile")
            out.append(("Lift", svg_of(fig)))
        if ev.get("calibration"):
            cal = ev["calibration"]
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.plot([c["mean_score"] for c in cal], [c["observed"] for c in cal], "o-", color="#c0392b")
            hi = max(max(c["mean_score"] for c in cal), max(c["observed"] for c in cal), 0.01)
            ax.plot([0, hi], [0, hi], ls="--", color="#999")
            ax.set_xlabel("mean predicted risk")
            ax.set_ylabel("observed churn rate")
            ax.set_title("Churn calibration (score deciles)")
            out.append(("Calibration", svg_of(fig)))
    return out


def forecast_charts(ev: dict[str, Any]) -> list[tuple[str, str]]:
    plt = _plt()
    out: list[tuple[str, str]] = []
    s = ev.get("errors_sample") or {}
    if not s.get("actual"):
        return out
    y, p = np.asarray(s["actual"]) / 100, np.asarray(s["predicted"]) / 100
    with plt.rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(y, p, s=4, alpha=0.4, color="#2471a3")
        hi = float(max(y.max(initial=1), p.max(initial=1)))
        ax.plot([0, hi], [0, hi], ls="--", color="#999")
        ax.set_xlabel("actual spend (major units)")
        ax.set_ylabel("forecast")
        ax.set_title(f"Forecast vs actual, {ev.get('holdout_month')}")
        out.append(("Forecast vs actual", svg_of(fig)))
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.hist(p - y, bins=60, color="#7d3c98")
        ax.set_xlabel("forecast error (major units)")
        ax.set_ylabel("customers")
        ax.set_title("Forecast errors")
        out.append(("Errors", svg_of(fig)))
        names = [k for k in ("model", "last_value", "mean3", "seasonal_naive") if k in ev]
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.bar(names, [ev[k]["wape"] for k in names], color=["#c0392b"] + ["#999"] * (len(names) - 1))
        ax.set_ylabel("WAPE")
        ax.set_title("Holdout WAPE: model vs baselines")
        out.append(("WAPE", svg_of(fig)))
    return out


def build_report(model_dir: Path | None, out: Path) -> Path:
    """Write the HTML report from the newest saved models; return its path."""
    parts = ["<!doctype html><meta charset='utf-8'><title>smartbank insight models</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}figure{display:inline-block;"
             "margin:0 1em 1em 0;vertical-align:top}pre{background:#f6f6f6;padding:1em;overflow:auto}"
             "td,th{padding:2px 8px;text-align:left}</style>", "<h1>Insight models</h1>"]

    def section(title: str) -> None:
        parts.append(f"<h2>{html.escape(title)}</h2>")

    def meta_table(lm: ml.LoadedModel) -> None:
        m = lm.meta
        rows = [("version", m["version"]), ("created", m["created_at"]), ("seed", m.get("seed")),
                ("data hash", m["data_hash"][:16]), ("as of", m.get("params", {}).get("as_of")),
                ("libraries", ", ".join(f"{k} {v}" for k, v in m["libraries"].items()))]
        parts.append("<table>" + "".join(f"<tr><th>{html.escape(str(a))}</th><td>{html.escape(str(b))}</td></tr>"
                                         for a, b in rows) + "</table>")
        parts.append("<pre>" + html.escape(json.dumps(m["metrics"], indent=2, default=str)[:6000]) + "</pre>")

    def load(name: str) -> ml.LoadedModel | None:
        try:
            return ml.load_model(name, model_dir=model_dir)
        except ml.RegistryError as exc:
            section(name)
            parts.append(f"<p>not available: {html.escape(exc.message)}</p>")
            return None

    if lm := load("churn"):
        section("Churn")
        meta_table(lm)
        for title, svg in churn_charts(lm.objects.get("evaluation", {})):
            parts.append(f"<figure>{svg}<figcaption>{html.escape(title)}</figcaption></figure>")
    if lm := load("segments"):
        section("Segments")
        meta_table(lm)
        seg = SegmentModel.from_dict(lm.objects["segments"])
        parts.append(f"<figure>{segment_chart_svg(seg)}</figure>")
        for label in seg.labels_:
            d = seg.description(label)
            parts.append(f"<h3>{html.escape(label)} · {html.escape(d['name_en'])} / {html.escape(d['name_zh'])}</h3>"
                         f"<p>{html.escape(d['en'])}<br>{html.escape(d['zh'])}</p>")
            parts.append(f"<figure>{segment_chart_svg(seg, label)}</figure>")
    if lm := load("forecast"):
        section("Spend forecast")
        meta_table(lm)
        for title, svg in forecast_charts(lm.objects.get("evaluation", {})):
            parts.append(f"<figure>{svg}<figcaption>{html.escape(title)}</figcaption></figure>")
    for name in ("clv", "propensity", "rfm"):
        if lm := load(name):
            section(name.upper() if name != "propensity" else "Propensity")
            meta_table(lm)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
