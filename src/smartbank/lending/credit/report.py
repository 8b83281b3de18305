"""The credit model report (HTML): discrimination, curves, calibration, points bands, stability, the champion
against its challenger, and the scorecard's points table.

Charts are matplotlib SVG embedded as ``data:`` images, so the same HTML works as a file and inside the
console (whose content-security policy allows images from ``data:`` but no inline scripts).
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smartbank.lending.credit.evaluate import psi_shares
from smartbank.lending.credit.scorer import FEATURES, MODEL_NAME
from smartbank.ml.service import latest_version, load_model
from smartbank.money import format_money

__all__ = ["FEATURE_LABELS", "LABELS", "build_report", "feature_label", "report_body", "report_document"]

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top;max-width:100%}"
         "img.chart{max-width:100%;height:auto}"
         ".report-table{max-width:100%;overflow-x:auto;margin:0 0 1em}"
         "td,th{padding:2px 8px;text-align:right;white-space:nowrap}th:first-child,td:first-child{text-align:left}"
         "td:first-child{white-space:normal}"
         "table{border-collapse:collapse}tr{border-bottom:1px solid #eee}")

LABELS: dict[str, dict[str, str]] = {
    "en": {"title": "Credit model report", "none": "No credit model has been trained yet: run "
           "<code translate='no'>smartbank lending train</code>.", "model": "Model", "version": "Version",
           "created": "Trained",
           "data": "Training data", "fast": "Fast (demo) training", "description": "What was fitted",
           "rows": "Rows (train / held out)", "bad_rate": "Bad rate",
           "discrimination": "Discrimination (held-out rows)",
           "compare": "Champion and challenger", "which": "Model", "champion": "Champion (project model, used for pd)",
           "challenger": "Challenger (scorecard alone)", "lgbm_part": "LightGBM component alone",
           "lgbm_default": "Default LightGBM (peer)", "roc": "ROC curve", "ks": "KS curve",
           "calibration": "Calibration (deciles of predicted PD)", "bands": "Score bands (points, held-out rows)",
           "band": "Points", "count": "Count", "bads": "Bads", "bad_rate_col": "Bad rate", "cum": "Cumulative share",
           "cum_bad": "Cumulative share of bads", "stability": "Stability: training vs recent applications",
           "no_recent": "No recent applications", "psi": "PSI (pd deciles)", "recent": "Recent applications",
           "psi_hint": "PSI below 0.10: stable; 0.10-0.25: some shift; above 0.25: significant shift.",
           "scorecard": "Scorecard points", "feature": "Feature", "bin": "Bin", "woe": "WoE", "points": "Points",
           "missing": "missing", "yes": "yes", "no": "no", "days": "days", "status": "Status",
           "stable": "stable", "shift": "some shift", "drift": "significant shift",
           "too_few": "too few applications to judge (fewer than 50)", "mean_pd": "Mean PD",
           "blend": "a weighted blend of {lgbm} (weight {w_lgbm}) and the scorecard (weight {w_sc})",
           "lgbm_alone": "{lgbm} alone", "scorecard_alone": "the scorecard alone",
           "chosen": "the weight chosen by {folds}-fold cross-validation on the training rows",
           "trees": "{lgbm}: {trees} trees", "features": "scorecard: {features} features", "sep": "; "},
    "zh": {"title": "信用评分模型报告",
           "none": "尚未训练信用评分模型：请运行 <code translate='no'>smartbank lending train</code>。",
           "model": "模型", "version": "版本", "created": "训练时间", "data": "训练数据", "fast": "快速（演示）训练",
           "description": "模型构成", "rows": "样本数（训练 / 留出）", "bad_rate": "坏样本率",
           "discrimination": "区分能力（留出样本）", "compare": "冠军模型与挑战者模型", "which": "模型",
           "champion": "冠军模型（项目模型，输出违约概率）", "challenger": "挑战者（单独评分卡）",
           "lgbm_part": "LightGBM 组件单独", "lgbm_default": "默认参数 LightGBM（对照）", "roc": "ROC 曲线",
           "ks": "KS 曲线", "calibration": "校准（按预测违约概率十分位）", "bands": "分数段（评分卡分，留出样本）",
           "band": "分数段", "count": "笔数", "bads": "坏样本", "bad_rate_col": "坏样本率", "cum": "累计占比",
           "cum_bad": "坏样本累计占比", "stability": "稳定性：训练样本与近期申请", "no_recent": "近期没有申请",
           "psi": "PSI（违约概率十分位）", "recent": "近期申请", "psi_hint":
           "PSI 低于 0.10 为稳定，0.10-0.25 为轻微偏移，高于 0.25 为显著偏移。", "scorecard": "评分卡分值表",
           "feature": "特征", "bin": "分箱", "woe": "WoE",
           "points": "分值", "missing": "缺失", "yes": "是", "no": "否", "days": "天", "status": "状态",
           "stable": "稳定", "shift": "轻微偏移", "drift": "显著偏移",
           "too_few": "近期申请不足 50 笔，暂不评判", "mean_pd": "平均违约概率",
           "blend": "{lgbm}（权重 {w_lgbm}）与评分卡（权重 {w_sc}）的加权组合", "lgbm_alone": "仅用 {lgbm}",
           "scorecard_alone": "仅用评分卡", "chosen": "权重由训练样本上的 {folds} 折交叉验证选定",
           "trees": "{lgbm} 共 {trees} 棵树", "features": "评分卡含 {features} 个特征", "sep": "；"},
}


@contextmanager
def _figure(width: float, height: float) -> Iterator[Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        yield Figure(figsize=(width, height))


def _uri(fig: Any) -> str:
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue().encode()).decode()


def charts(ev: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, data URI) of the ROC, KS, calibration and points-band charts."""
    out: list[tuple[str, str]] = []
    if ev.get("roc"):
        with _figure(4, 4) as fig:
            ax = fig.add_subplot()
            ax.plot(ev["roc"]["fpr"], ev["roc"]["tpr"], color="#c0392b",
                    label=f"champion AUC {ev['champion']['auc']:.3f}")
            if ev.get("roc_challenger"):
                ax.plot(ev["roc_challenger"]["fpr"], ev["roc_challenger"]["tpr"], color="#2471a3", lw=0.9,
                        label=f"challenger AUC {ev['challenger']['auc']:.3f}")
            ax.plot([0, 1], [0, 1], ls="--", color="#999")
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
            ax.legend(loc="lower right")
            out.append(("roc", _uri(fig)))
    if ev.get("ks_curve"):
        c = ev["ks_curve"]
        with _figure(4.5, 4) as fig:
            ax = fig.add_subplot()
            ax.plot(c["share"], c["bad"], color="#c0392b", label="bad (cumulative)")
            ax.plot(c["share"], c["good"], color="#27ae60", label="good (cumulative)")
            gaps = [b - g for b, g in zip(c["bad"], c["good"], strict=True)]
            i = max(range(len(gaps)), key=lambda j: gaps[j])
            ax.vlines(c["share"][i], c["good"][i], c["bad"][i], color="#333", ls=":",
                      label=f"KS {ev['champion']['ks']:.3f}")
            ax.set_xlabel("share of applicants, riskiest first")
            ax.set_ylabel("cumulative share")
            ax.legend(loc="lower right")
            out.append(("ks", _uri(fig)))
    if ev.get("calibration"):
        with _figure(4, 4) as fig:
            ax = fig.add_subplot()
            for key, colour, name in (("calibration", "#c0392b", "champion"),
                                      ("calibration_challenger", "#2471a3", "challenger")):
                cal = ev.get(key) or []
                if cal:
                    ax.plot([r["mean_pd"] for r in cal], [r["observed"] for r in cal], "o-", color=colour, ms=3,
                            label=name)
            hi = max(max(r["mean_pd"] for r in ev["calibration"]), max(r["observed"] for r in ev["calibration"]))
            ax.plot([0, hi], [0, hi], ls="--", color="#999")
            ax.set_xlabel("mean predicted PD")
            ax.set_ylabel("observed bad rate")
            ax.legend(loc="upper left")
            out.append(("calibration", _uri(fig)))
    if ev.get("bands"):
        b = ev["bands"]
        with _figure(6, 3.2) as fig:
            ax = fig.add_subplot()
            ax.bar(range(len(b)), [r["count"] for r in b], color="#aab7b8")
            ax.set_xticks(range(len(b)), [r["band"] for r in b], rotation=60, fontsize=7)
            ax.set_ylabel("applicants")
            ax2 = ax.twinx()
            ax2.plot(range(len(b)), [r["bad_rate"] for r in b], "o-", color="#c0392b", ms=3)
            ax2.set_ylabel("bad rate")
            out.append(("bands", _uri(fig)))
    return out


class _Html(str):
    """Text that is already HTML (escaped, its code words marked)."""


# library and metric names: code, not words to translate
CODE_WORDS = re.compile(r"\b(LightGBM|AUC|KS|Gini|Brier|WoE|PSI)\b")


def _marked(text: Any) -> _Html:
    """Escaped text with its library and metric names marked ``translate="no"``."""
    if isinstance(text, _Html):
        return text
    return _Html(CODE_WORDS.sub(r"<span translate='no'>\1</span>", html.escape(str(text))))


def _table(head: list[str], rows: list[list[Any]], ident: str = "", *, name: str = "") -> str:
    """A table in a region that scrolls sideways on its own when it is wider than the screen (focusable, so it
    scrolls from the keyboard too, and named after ``name``)."""
    h = "".join(f"<th>{_marked(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{_marked(x)}</td>" for x in r) + "</tr>" for r in rows)
    idattr = f" id='{ident}'" if ident else ""
    return (f"<div class='report-table' role='region' tabindex='0' aria-label='{html.escape(name or ident)}'>"
            f"<table{idattr}><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table></div>")


def _weight(x: float) -> str:
    return f"{x:.1f}"


def composition(model: dict[str, Any], L: dict[str, str]) -> _Html:
    """What was fitted, in words, from the model's saved facts (weight, trees, folds, scorecard features)."""
    lgbm = "<span translate='no'>LightGBM</span>"
    summary = model.get("summary") or {}
    w = model.get("weight_lgbm", summary.get("weight_lgbm"))
    if w is None:
        return _Html("")
    w = float(w)
    rounds = model.get("rounds", summary.get("rounds"))
    folds = (summary.get("cv") or {}).get("folds")
    features = summary.get("scorecard_features")
    if w >= 1.0:
        parts = [L["lgbm_alone"].format(lgbm=lgbm)]
    elif w <= 0.0:
        parts = [L["scorecard_alone"]]
    else:
        parts = [L["blend"].format(lgbm=lgbm, w_lgbm=_weight(w), w_sc=_weight(1 - w))]
    if folds:
        parts.append(L["chosen"].format(folds=int(folds)))
    if w > 0.0 and rounds:
        parts.append(L["trees"].format(lgbm=lgbm, trees=f"{int(rounds):,}"))
    if features is not None:
        parts.append(L["features"].format(features=len(features)))
    text = L["sep"].join(parts)
    return _Html(text[:1].upper() + text[1:])


def _file(name: str) -> _Html:
    return _Html(f"<code translate='no'>{html.escape(name)}</code>" if name else "")


def _f(v: Any, nd: int = 4) -> str:
    return "" if v is None else f"{float(v):.{nd}f}"


def _n(v: Any) -> str:
    return "" if v is None or v == "" else f"{int(v):,}"


MIN_RECENT = 50  # fewer recent applications: the PSI is shown but not judged (ten deciles need more)


def _psi_status(p: float, n: int) -> str:
    if n < MIN_RECENT:
        return "too_few"
    return "stable" if p < 0.10 else ("shift" if p < 0.25 else "drift")


# the credit model's features in words (the column names of the training file are not for people)
FEATURE_LABELS: dict[str, dict[str, str]] = {
    "en": {"RevolvingUtilizationOfUnsecuredLines": "Credit-card utilisation", "age": "Age",
           "NumberOfTime30-59DaysPastDueNotWorse": "Times 30-59 days late", "DebtRatio": "Debt-to-income",
           "MonthlyIncome": "Monthly income", "NumberOfOpenCreditLinesAndLoans": "Open credit lines and loans",
           "NumberOfTimes90DaysLate": "Times 90+ days late", "NumberRealEstateLoansOrLines": "Property loans",
           "NumberOfTime60-89DaysPastDueNotWorse": "Times 60-89 days late", "NumberOfDependents": "Dependents"},
    "zh": {"RevolvingUtilizationOfUnsecuredLines": "信用卡额度使用率", "age": "年龄",
           "NumberOfTime30-59DaysPastDueNotWorse": "逾期30-59天次数", "DebtRatio": "负债收入比",
           "MonthlyIncome": "月收入", "NumberOfOpenCreditLinesAndLoans": "在用授信及贷款笔数",
           "NumberOfTimes90DaysLate": "逾期90天以上次数", "NumberRealEstateLoansOrLines": "房产贷款笔数",
           "NumberOfTime60-89DaysPastDueNotWorse": "逾期60-89天次数", "NumberOfDependents": "供养人数"},
}


def feature_label(name: str, lang: str) -> str:
    """A feature of the credit model in words (the name itself if it has none)."""
    return FEATURE_LABELS["zh" if lang == "zh" else "en"].get(name, name)


# features that are amounts of money (yuan): their bin edges are shown as money
MONEY_FEATURES = frozenset({"MonthlyIncome"})

_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,]+?)\s*,\s*([^,]+?)\s*([\])])\s*$")


def _edge(text: str, money: bool) -> str:
    x = float(text)
    if math.isinf(x):
        return "−∞" if x < 0 else "+∞"
    if money:
        return format_money(round(x * 100), "CNY")
    out = f"{x:,.2f}"
    return out.rstrip("0").rstrip(".") if "." in out else out


def bin_label(label: str, *, money: bool = False) -> str:
    """A bin of a numeric feature as a mathematical interval: "(-inf, 3304.00)" reads "(−∞, ¥3,304.00)" for an
    amount of money and "[0.13, 0.5)" ... "[2, +∞)" otherwise; anything else (categories) as it is."""
    m = _INTERVAL.match(label)
    if not m:
        return label
    try:
        lo, hi = _edge(m.group(2), money), _edge(m.group(3), money)
    except ValueError:
        return label
    return f"{m.group(1)}{lo}, {hi}{m.group(4)}"


def report_body(lm: Any | None, recent: dict[str, Any] | None = None, *, lang: str = "en") -> str:
    """The report's HTML fragment (no <html>/<style>) for one loaded model; ``recent``:
    :func:`smartbank.lending.credit.monitor.recent_scores` or None."""
    L = LABELS["zh" if lang == "zh" else "en"]
    parts = [f"<h1 id='credit-report'>{L['title']}</h1>"]
    if lm is None:
        parts.append(f"<p id='no-model'>{L['none']}</p>")
        return "\n".join(parts)
    meta = lm.meta
    ev = lm.objects.get("evaluation", {})
    model = lm.objects.get("model", {})
    m = meta.get("metrics", {})
    params = meta.get("params", {})
    parts.append(_table([L["model"], ""], [
        [L["version"], meta["version"]], [L["created"], str(meta.get("created_at", ""))[:19].replace("T", " ")],
        [L["description"], composition(model, L)], [L["data"], _file(Path(str(params.get("data", ""))).name)],
        [L["fast"], L["yes"] if params.get("fast") else L["no"]],
        [L["rows"], f"{_n(m.get('n_train'))} / {_n(m.get('n_holdout'))}"],
        [L["bad_rate"], _f(m.get("bad_rate"))]], "model-meta", name=L["model"]))
    parts.append(f"<h2 id='discrimination'>{_marked(L['discrimination'])}</h2>")
    ch = ev.get("champion", {})
    parts.append(_table(["AUC", "KS", "Gini"], [[_f(ch.get("auc")), _f(ch.get("ks")), _f(ch.get("gini"))]],
                        "metrics", name=L["discrimination"]))
    parts.append(f"<h2 id='compare'>{L['compare']}</h2>")
    rows = []
    for key in ("champion", "challenger", "lgbm_part", "lgbm_default"):
        r = ev.get(key)
        if r:
            rows.append([L[key], _f(r["auc"]), _f(r["ks"]), _f(r["gini"]), _f(r.get("brier")), _f(r.get("mean_pd"))])
    parts.append(_table([L["which"], "AUC", "KS", "Gini", "Brier", L["mean_pd"]], rows, "champion-challenger",
                        name=L["compare"]))
    imgs = dict(charts(ev))
    fig = "<figure><img class='chart' id='chart-{k}' src='{src}' alt='{alt}'><figcaption>{alt}</figcaption></figure>"
    parts.append("<div>" + "".join(fig.format(k=k, src=imgs[k], alt=html.escape(L[k]))
                                   for k in ("roc", "ks", "calibration") if k in imgs) + "</div>")
    parts.append(f"<h2 id='bands'>{L['bands']}</h2>")
    if "bands" in imgs:
        parts.append(fig.format(k="bands", src=imgs["bands"], alt=html.escape(L["bands"])))
    parts.append(_table([L["band"], L["count"], L["bads"], L["bad_rate_col"], L["cum"], L["cum_bad"]],
                        [[r["band"], _n(r["count"]), _n(r["bads"]), f"{r['bad_rate']:.2%}", f"{r['cum_share']:.1%}",
                          f"{r['cum_bad_share']:.1%}"] for r in ev.get("bands", [])], "score-bands",
                        name=L["bands"]))
    parts.append(f"<h2 id='stability'>{L['stability']}</h2>")
    dist = ev.get("distribution") or {}
    if not recent or not recent.get("n"):
        days = (recent or {}).get("days", 30)
        parts.append(f"<p id='no-recent'>{L['no_recent']} ({days} {L['days']}).</p>")
    else:
        p = psi_shares(dist.get("pd_shares", []), dist.get("pd_edges", []), recent["pd"])
        status = L[_psi_status(p, int(recent["n"]))]
        parts.append(_table([L["recent"], L["psi"], L["status"]],
                            [[f"{recent['n']} ({recent['days']} {L['days']})", _f(p), status]], "psi",
                            name=L["stability"]))
        parts.append(f"<p>{_marked(L['psi_hint'])}</p>")
    parts.append(f"<h2 id='scorecard'>{L['scorecard']}</h2>")
    sc = lm.objects.get("scorecard", {})
    rows = []
    for v in sc.get("variables", []):
        for label, woe, pts, cnt, er in zip(v["labels"], v["woe"], v["points"], v["counts"], v["event_rates"],
                                            strict=True):
            rows.append([feature_label(v["name"], lang), bin_label(label, money=v["name"] in MONEY_FEATURES), _n(cnt),
                         f"{er:.2%}", f"{woe:.3f}", f"{pts:.1f}"])
        if v.get("missing_count"):
            rows.append([feature_label(v["name"], lang), L["missing"], _n(v["missing_count"]),
                         f"{v['missing_event_rate']:.2%}", f"{v['missing_woe']:.3f}", f"{v['missing_points']:.1f}"])
    parts.append(_table([L["feature"], L["bin"], L["count"], L["bad_rate_col"], L["woe"], L["points"]], rows,
                        "points-table", name=L["scorecard"]))
    return "\n".join(parts)


def report_document(lm: Any | None, recent: dict[str, Any] | None = None, *, lang: str = "en") -> str:
    """A standalone HTML document (with its own small stylesheet)."""
    L = LABELS["zh" if lang == "zh" else "en"]
    return (f"<!doctype html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{L['title']}</title><style>{STYLE}</style>"
            f"<body>{report_body(lm, recent, lang=lang)}</body></html>")


def load_latest(model_dir: Path | None = None) -> Any | None:
    """The newest saved credit model (registry checks included), or None when none was trained."""
    if latest_version(MODEL_NAME, model_dir=model_dir) is None:
        return None
    return load_model(MODEL_NAME, features=FEATURES, model_dir=model_dir)


def build_report(out: Path, *, model_dir: Path | None = None, recent: dict[str, Any] | None = None,
                 lang: str = "en") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_document(load_latest(model_dir), recent, lang=lang), encoding="utf-8")
    return out
