"""Customer insight pages: the console's customer 360 (with search), the tag editor, the segment
explorer, and the portal's "My insights". Every page calls ``insight.service``, which checks the
role; charts are SVG drawn by matplotlib and embedded as ``data:`` images (the page's CSP forbids
inline styles, an image document has its own)."""

from __future__ import annotations

import base64
import io
import re
import warnings
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.customers import service as customers
from smartbank.errors import Forbidden, SmartbankError
from smartbank.insight import service as insight
from smartbank.money import format_minor
from smartbank.security import service as security
from smartbank.web import fmt
from smartbank.web.auth import Customer, Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import lang_of, register_messages, translate
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

_CJK = re.compile(r"[\u3400-\u9fff]")
router = web_router()

READERS = insight.PROFILE_READERS
MANAGERS = insight.TAG_MANAGERS
register_console_page("/console/insight/customers", "nav.console.insight_customers", roles=READERS, order=30)
register_console_page("/console/insight/tags", "nav.console.insight_tags", roles=MANAGERS, order=31)
register_console_page("/console/insight/segments", "nav.console.insight_segments", roles=READERS, order=32)
register_portal_page("/insights", "nav.portal.insights", order=40)

_CATS_ZH = insight.CATEGORY_NAMES["zh"]
_CATS_EN = insight.CATEGORY_NAMES["en"]

register_messages("zh", {
    "nav": {"console": {"insight_customers": "客户画像", "insight_tags": "标签管理", "insight_segments": "客群分析"},
            "portal": {"insights": "我的洞察"}},
    "insight": {
        "search_title": "客户画像", "search_label": "客户号、姓名或手机号", "search": "查找",
        "no_results": "没有找到客户。",
        "profile_title": "客户画像", "no_profile": "画像尚未生成，稍后再来。", "as_of": "画像日期", "tags": "标签",
        "no_tags": "暂无标签。", "segment": "客群", "value": "年度价值", "clv": "终身价值", "churn": "流失风险",
        "rfm": "RFM", "lifecycle": "生命周期", "features": "特征", "feature": "特征", "value_col": "值",
        "timeline": "最近动态", "no_activity": "暂无交易。", "when": "时间", "kind": "类型", "amount": "金额",
        "category": "类别", "channel": "渠道", "source": "来源", "spending": "近一年消费构成",
        "tags_title": "标签管理", "new_tag": "新建标签", "code": "代码", "name_en": "英文名", "name_zh": "中文名",
        "rule": "规则",
        "audience_label": "可见范围", "audience": {"staff": "仅员工", "customer": "客户可见"},
        "description": "说明", "version": "版本", "customers": "客户数", "status": "状态", "save": "保存",
        "save_version": "保存为新版本", "test": "试算", "retire": "停用", "edit": "编辑", "versions": "历史版本",
        "test_result": "试算结果：{matches} / {profiles} 位客户符合。", "sample": "样例", "feature_list": "可用特征",
        "segments_title": "客群分析", "no_segments": "尚无客群划分。", "size": "人数", "profiles": "当前画像数",
        "label": "标签", "chart_segments": "各客群人数", "chart_profiles": "客群特征对比",
        "chart_profiles_hint": "每个客群在各行为特征上相对全体平均值的偏离（标准差），红色高于平均、蓝色低于平均。",
        "my_title": "我的洞察", "my_tags": "我的标签",
        "my_none": "我们还在了解您的用卡习惯，稍后再来看看。", "state": {"retired": "已停用", "active": "启用中"},
        "open_profile": "查看画像",
    },
    "notice": {"tag_saved": "标签已保存。", "tag_retired": "标签已停用。"},
})
register_messages("en", {
    "nav": {"console": {"insight_customers": "Customer 360", "insight_tags": "Tags", "insight_segments": "Segments"},
            "portal": {"insights": "My insights"}},
    "insight": {
        "search_title": "Customer 360", "search_label": "Customer number, name or phone", "search": "Search",
        "no_results": "No customer found.", "profile_title": "Customer 360",
        "no_profile": "No profile yet; it is computed shortly.", "as_of": "Profile date", "tags": "Tags",
        "no_tags": "No tags.", "segment": "Segment", "value": "Yearly value", "clv": "Lifetime value",
        "churn": "Churn risk", "rfm": "RFM", "lifecycle": "Lifecycle", "features": "Features", "feature": "Feature",
        "value_col": "Value", "timeline": "Recent activity", "no_activity": "No transactions yet.", "when": "When",
        "kind": "Kind", "amount": "Amount", "category": "Category", "channel": "Channel", "source": "Source",
        "spending": "Spending by category, last 12 months", "tags_title": "Tags", "new_tag": "New tag",
        "code": "Code", "name_en": "English name", "name_zh": "Chinese name", "rule": "Rule",

        "audience_label": "Audience", "audience": {"staff": "Staff only", "customer": "Customer sees it"},
        "description": "Description", "version": "Version", "customers": "Customers", "status": "Status",
        "save": "Save", "save_version": "Save as a new version", "test": "Test", "retire": "Retire", "edit": "Edit",
        "versions": "Versions", "test_result": "Test: {matches} of {profiles} customers match.", "sample": "Sample",
        "feature_list": "Features you can use", "segments_title": "Segments", "no_segments": "No segmentation yet.",
        "size": "Size", "profiles": "Profiles now", "label": "Label", "chart_segments": "Customers per segment",
        "chart_profiles": "What distinguishes each segment",
        "chart_profiles_hint": "Each segment's distance from the average on every behavioural feature, in standard "
                               "deviations: red above the average, blue below.",
        "my_title": "My insights", "my_tags": "My tags",
        "my_none": "We are still getting to know how you bank; come back later.",
        "state": {"retired": "Retired", "active": "Active"}, "open_profile": "Open profile",
    },
    "notice": {"tag_saved": "Tag saved.", "tag_retired": "Tag retired."},
})


def _svg_bars(labels: list[str], values: list[float], *, title: str = "", money: bool = False,
              xlabel: str = "") -> str | None:
    """A horizontal bar chart as a ``data:image/svg+xml`` URI (text kept as text, so CJK renders)."""
    if not values:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    # text stays text in the SVG (the browser's fonts draw CJK glyphs), so missing glyphs here do not matter
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 10}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig = Figure(figsize=(6, 0.45 * len(values) + 0.9))
        ax = fig.add_subplot()
        ys = list(range(len(values)))[::-1]
        ax.barh(ys, values, color="#1f4e79")
        ax.set_yticks(ys, labels)
        for y, v in zip(ys, values, strict=True):
            text = format_minor(round(v) * 100, grouping=True, symbol=True, drop_zero_fraction=True) if money \
                else f"{v:,.0f}"  # money: whole yuan
            ax.text(v, y, f" {text}", va="center", fontsize=9)
        ax.set_xlim(0, max(values) * 1.25 or 1)
        ax.spines[["top", "right"]].set_visible(False)
        if title:
            ax.set_title(title, fontsize=11)
        if xlabel:
            ax.set_xlabel(xlabel)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue().encode()).decode()


def _spending_chart(lang: str, spending: dict[str, int], title: str) -> str | None:
    names = _CATS_ZH if lang == "zh" else _CATS_EN
    top = list(spending.items())[:10]
    return _svg_bars([names.get(c, c) for c, _ in top], [v / 100 for _, v in top], title=title, money=True,
                     xlabel=translate(lang, "insight.axis.yuan"))


def _feature_rows(lang: str, feats: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for f in insight.CATALOGUE:
        if f.name not in feats:
            continue
        v = feats[f.name]
        rows.append({"name": f.name, "label": f.zh if lang == "zh" else f.en, "type": f.type, "value": v,
                     "group": f.group})
    return rows


# ------------------------------------------------------------------------------------------------
# console: customer 360


@router.get("/console/insight/customers")
def insight_search(request: Request, actor: Staff, q: str = "") -> Response:
    require_page(actor, "/console/insight/customers")
    q = q.strip()[:64]
    results = None
    if q:
        results = db.run_in_transaction(lambda s: [
            {"id": c.id, "number": c.number, "name": security.present(actor.role, "marketing", "name", c.name),
             "status": c.status}
            for c in customers.search_customers(s, q, limit=50)])
    return render(request, "console/insight/search.html", q=q, results=results)


@router.get("/console/insight/customers/{customer_id}")
def insight_customer(request: Request, customer_id: int, actor: Staff) -> Response:
    require_page(actor, "/console/insight/customers")
    p = db.run_in_transaction(lambda s: insight.profile_360(s, actor, customer_id, timeline=30))
    lang = lang_of(request)
    chart = _spending_chart(lang, p.get("spending_by_category") or {}, "")
    names = _CATS_ZH if lang == "zh" else _CATS_EN
    for it in p.get("timeline") or []:
        it["category_text"] = names.get(it.get("category") or "", it.get("category") or "")
    segment = (p.get("profile") or {}).get("segment") or p.get("segment")
    if segment:
        segs = db.run_in_transaction(lambda s: insight.list_segments(s, actor))
        sg = next((x for x in segs if x["label"] == segment), None)
        p["segment_name"] = (sg["name_zh"] if lang == "zh" else sg["name_en"]) if sg else segment
    return render(request, "console/insight/customer.html", p=p, features=_feature_rows(lang, p["profile"] or {}),
                  chart=chart)


# ------------------------------------------------------------------------------------------------
# console: tag editor


def _tags_page(request: Request, actor, *, form: dict[str, Any] | None = None, error: str | None = None,
               result: dict[str, Any] | None = None, editing: str | None = None, status_code: int = 200,
               error_field: str | None = None) -> Response:
    def work(s):
        tags = insight.list_tags(s, actor, include_retired=True)
        versions = insight.tag_history(s, actor, editing) if editing else []
        return tags, versions

    tags, versions = db.run_in_transaction(work)
    if form is None:
        form = {"code": "", "name_en": "", "name_zh": "", "expression": "", "audience": "staff", "description": ""}
        if editing and versions:
            cur = versions[-1]
            form = {k: cur[k] for k in ("code", "name_en", "name_zh", "expression", "audience", "description")}
    lang = lang_of(request)
    catalogue = [{"name": f.name, "label": f.zh if lang == "zh" else f.en, "audience": f.audience}
                 for f in insight.CATALOGUE]
    # the description is one text in the language its author wrote it in: declared, so that a reader (and a
    # screen reader) takes it as that language
    text = str(form.get("description") or "")
    form = {**form, "description_lang": ("zh-CN" if _CJK.search(text) else "en") if text.strip() else ""}
    return render(request, "console/insight/tags.html", status_code=status_code, tags=tags, form=form, error=error,
                  error_field=error_field, result=result, editing=editing, versions=versions, catalogue=catalogue,
                  rule_help=fmt.code_marks(translate(lang, "insight.rule_help")))


def _require_manager(actor) -> None:
    require_page(actor, "/console/insight/tags")


@router.get("/console/insight/tags")
def tags_page(request: Request, actor: Staff) -> Response:
    _require_manager(actor)
    return _tags_page(request, actor)


@router.get("/console/insight/tags/{code}")
def tag_edit_page(request: Request, code: str, actor: Staff) -> Response:
    _require_manager(actor)
    return _tags_page(request, actor, editing=code)


Text = Annotated[str, Form()]


@router.post("/console/insight/tags")
def tag_save(request: Request, actor: Staff, code: Text = "", name_en: Text = "", name_zh: Text = "",
             expression: Text = "", audience: Text = "staff", description: Text = "", action: Text = "save",
             editing: Text = "") -> Response:
    """One form for create, new version and test: ``action`` is save or test; ``editing`` names the
    tag being edited (empty when creating)."""
    _require_manager(actor)
    form = {"code": editing or code.strip(), "name_en": name_en, "name_zh": name_zh, "expression": expression,
            "audience": audience, "description": description}
    edit_code = editing or None
    try:
        if action == "test":
            result = db.run_in_transaction(lambda s: insight.preview_tag(
                s, actor, expression=expression, audience=audience, sample=10))
            return _tags_page(request, actor, form=form, result=result, editing=edit_code)
        if edit_code:
            db.run_in_transaction(lambda s: insight.edit_tag(
                s, actor, edit_code, name_en=name_en, name_zh=name_zh, expression=expression, audience=audience,
                description=description))
        else:
            db.run_in_transaction(lambda s: insight.create_tag(
                s, actor, code=code.strip(), name_en=name_en, name_zh=name_zh, expression=expression,
                audience=audience, description=description))
    except Forbidden:
        raise
    except SmartbankError as exc:
        return _tags_page(request, actor, form=form, error=message(exc, lang_of(request)), editing=edit_code,
                          error_field="expression" if exc.reason.startswith("expr.") else None,
                          status_code=exc.status_code if exc.status_code in (404, 409, 422) else 422)
    return RedirectResponse("/console/insight/tags?notice=tag_saved", status_code=303)


@router.post("/console/insight/tags/{code}/retire")
def tag_retire(request: Request, code: str, actor: Staff) -> Response:
    _require_manager(actor)
    db.run_in_transaction(lambda s: insight.retire_tag(s, actor, code))
    return RedirectResponse("/console/insight/tags?notice=tag_retired", status_code=303)


# ------------------------------------------------------------------------------------------------
# console: segments


@router.get("/console/insight/segments")
def segments_page(request: Request, actor: Staff) -> Response:
    require_page(actor, "/console/insight/segments")
    segs = db.run_in_transaction(lambda s: insight.list_segments(s, actor))
    lang = lang_of(request)
    for sg in segs:
        d = sg["description"] if isinstance(sg["description"], dict) else {"en": str(sg["description"])}
        sg["text"] = d.get(lang) or d.get("en") or d.get("zh") or ""
        sg["name"] = sg["name_zh"] if lang == "zh" else sg["name_en"]
    chart = _svg_bars([sg["name"] for sg in segs], [float(sg["size"]) for sg in segs],
                      xlabel=translate(lang, "insight.axis.customers"))
    profile = insight.profile_chart_svg(lang) if segs else None
    profile_chart = ("data:image/svg+xml;base64," + base64.b64encode(profile.encode()).decode()) if profile else None
    return render(request, "console/insight/segments.html", segments=segs, chart=chart, profile_chart=profile_chart)


# ------------------------------------------------------------------------------------------------
# portal


@router.get("/insights")
def my_insights(request: Request, actor: Customer) -> Response:
    p = db.run_in_transaction(lambda s: insight.my_insights(s, actor))
    lang = lang_of(request)
    spending = p.get("spending_by_category") or {}
    names = _CATS_ZH if lang == "zh" else _CATS_EN
    rows = [{"label": names.get(c, c), "minor": v} for c, v in spending.items()]
    return render(request, "portal/insights.html", p=p, chart=_spending_chart(lang, spending, ""), spending=rows)
