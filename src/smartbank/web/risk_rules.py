"""Console pages for risk rules: list, editor with versions, test against history, shadow results.

One page (``/console/risk/rules``) lists the rules in force with their live figures (hits, shadow hits,
precision, money saved), holds the editor (create, or a new version of the rule being edited) and the
backtest form, and shows a rule's versions. Every action calls the rule functions of
:mod:`smartbank.risk.service`, which check the role and audit the change.
"""

from __future__ import annotations

import ast
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.backoffice import service as backoffice
from smartbank.errors import Forbidden, SmartbankError, ValidationFailed
from smartbank.http.session import request_id
from smartbank.risk import service as risk
from smartbank.web import fmt
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import has, lang_of, register_messages, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/risk/rules"
register_console_page(PAGE, "nav.console.risk_rules", roles=risk.RULE_MANAGERS, order=50)
CARD_FRAUD = "card_fraud/transactions_2018-04-01_2018-08-31.csv.gz"
SOURCES = {"bank": "bank", "card_fraud": CARD_FRAUD}

register_messages("zh", {
    "nav": {"console": {"risk_rules": "风控规则"}},
    "risk_rules": {
        "title": "风控规则", "new_rule": "新建规则", "edit": "编辑", "code": "代码", "name_en": "英文名",
        "name_zh": "中文名", "rule": "条件", "action_label": "处置", "mode_label": "模式", "version": "版本",
        "reason_en": "英文原因（可向客户展示）", "reason_zh": "中文原因（可向客户展示）",
        "save": "保存（影子模式）", "save_version": "保存为新版本", "test": "用历史数据试算",
        "period": "试算区间", "start": "开始日期", "end": "结束日期（含）", "source": "数据",
        "source_bank": "本行交易", "source_card": "公开银行卡欺诈数据", "versions": "历史版本", "rules": "规则",
        "hits": "命中", "shadow_hits": "影子命中", "precision": "精确率", "saved": "挽回金额",
        "shadow_saved": "影子可挽回", "none": "—", "activate": "启用", "shadow": "转为影子",
        "retire": "停用", "name_list": "可用字段", "when": "时间", "customer": "客户", "counterparty": "收款方",
        "amount": "金额", "fraud": "欺诈", "label": {"1": "是", "0": "否", "none": "未知"},
        "action": {"flag": "标记", "challenge": "验证码确认", "review": "暂停人工审核", "block": "拦截"},
        "mode": {"active": "生效", "shadow": "影子", "retired": "已停用"},
        "result": {
            "title": "试算结果", "scanned": "扫描笔数", "hits": "命中笔数", "hit_rate": "命中率",
            "recall": "欺诈覆盖（命中欺诈 / 全部已知欺诈）", "precision": "精确率（已标注命中中的欺诈）",
            "false_positives": "误报（已确认正常）", "unlabelled": "命中但未标注", "saved": "挽回金额（暂停或拦截）",
            "challenged": "验证码拦下的欺诈金额", "genuine": "被影响的正常交易金额", "sample": "命中样例",
        },
    },
    "notice": {"rule_saved": "规则已保存。", "rule_mode": "规则模式已切换。"},
})
register_messages("en", {
    "nav": {"console": {"risk_rules": "Risk rules"}},
    "risk_rules": {
        "title": "Risk rules", "new_rule": "New rule", "edit": "Edit", "code": "Code", "name_en": "English name",
        "name_zh": "Chinese name", "rule": "Condition", "action_label": "Action", "mode_label": "Mode",
        "version": "Version", "reason_en": "Reason in English (a customer may see it)",
        "reason_zh": "Reason in Chinese (a customer may see it)",
        "save": "Save (shadow mode)", "save_version": "Save as a new version", "test": "Test against history",
        "period": "Test period", "start": "From", "end": "To (inclusive)", "source": "Data",
        "source_bank": "This bank's payments", "source_card": "Public card fraud data", "versions": "Versions",
        "rules": "Rules", "hits": "Hits", "shadow_hits": "Shadow hits", "precision": "Precision",
        "saved": "Money saved", "shadow_saved": "Shadow would save", "none": "—", "activate": "Activate",
        "shadow": "Shadow", "retire": "Retire", "name_list": "Names a rule may use", "when": "When",
        "customer": "Customer", "counterparty": "Counterparty", "amount": "Amount", "fraud": "Fraud",
        "label": {"1": "yes", "0": "no", "none": "unknown"},
        "action": {"flag": "Flag", "challenge": "One-time code", "review": "Hold for review", "block": "Block"},
        "mode": {"active": "Active", "shadow": "Shadow", "retired": "Retired"},
        "result": {
            "title": "Test result", "scanned": "Payments scanned", "hits": "Hits", "hit_rate": "Hit rate",
            "recall": "Frauds caught (of all known frauds)", "precision": "Precision (frauds among labelled hits)",
            "false_positives": "False positives (confirmed genuine)", "unlabelled": "Hits without a label",
            "saved": "Money saved (held or blocked)", "challenged": "Fraud met by a one-time code",
            "genuine": "Genuine payments affected", "sample": "Sample of hits",
        },
    },
    "notice": {"rule_saved": "The rule was saved.", "rule_mode": "The rule's mode was changed."},
})

Text = Annotated[str, Form()]
_FIELDS = ("code", "name_en", "name_zh", "expression", "action", "reason_en", "reason_zh")


def _pct(v: float | None) -> str | None:
    return None if v is None else f"{v * 100:.1f}%"


_SYMBOLS = {ast.Eq: "=", ast.NotEq: "≠", ast.Lt: "<", ast.LtE: "≤", ast.Gt: ">", ast.GtE: "≥"}
_ARITH = {ast.Add: "+", ast.Sub: "−", ast.Mult: "×", ast.Div: "÷"}


def describe_condition(expression: str, lang: str) -> str | None:
    """A rule's condition in words for people: names by their label, ``amount_minor`` amounts in yuan
    (``amount_minor >= 5000000`` -> ``金额（分） ≥ ¥50,000.00``), operators as symbols. The expression itself
    stays what authors write and what the service checks; None when it cannot be read."""
    try:
        tree = ast.parse(" ".join(expression.split()), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None

    def label(n: str) -> str:
        key = f"risk_rules.field.{n}"
        return translate(lang, key).split("（")[0].split(" (")[0] if has(lang, key) else n

    def value(node: ast.AST, money_of: str | None) -> str:
        if isinstance(node, ast.Constant):
            v = node.value
            if v is None:
                return translate(lang, "risk_rules.word.null")
            if isinstance(v, bool):
                return translate(lang, f"risk_rules.word.{str(v).lower()}")
            if isinstance(v, int | float) and money_of == "minor":
                return fmt.money(int(v), "CNY", lang)
            if isinstance(v, int | float) and money_of == "major":
                return fmt.money(round(v * 100), "CNY", lang)
            if isinstance(v, int | float):
                return fmt.number(v, lang)
            if isinstance(v, str) and money_of and money_of.startswith("values:"):
                key = f"risk_rules.value.{money_of[7:]}.{v}"
                if has(lang, key):
                    return f"“{translate(lang, key)}”"
            return f"“{v}”" if isinstance(v, str) else repr(v)
        return walk(node)

    def unit(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in FIELD_VALUES:
                return f"values:{node.id}"
            return "minor" if node.id.endswith("_minor") else "major" if node.id == "amount" else None
        return None

    def walk(node: ast.AST) -> str:
        if isinstance(node, ast.BoolOp):
            word = translate(lang, "risk_rules.word.and" if isinstance(node.op, ast.And) else "risk_rules.word.or")
            return f" {word} ".join(f"（{walk(v)}）" if isinstance(v, ast.BoolOp) and lang == "zh"
                                    else f"({walk(v)})" if isinstance(v, ast.BoolOp) else walk(v)
                                    for v in node.values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"{translate(lang, 'risk_rules.word.not')} {walk(node.operand)}"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"−{walk(node.operand)}"
        if isinstance(node, ast.Name):
            return label(node.id)
        if isinstance(node, ast.Constant):
            return value(node, None)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return f"{walk(node.left)} {_ARITH[type(node.op)]} {value(node.right, unit(node.left))}"
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                money_of = unit(left) or unit(right)
                if isinstance(op, ast.In | ast.NotIn) and isinstance(right, ast.List | ast.Tuple | ast.Set):
                    word = translate(lang, "risk_rules.word.in" if isinstance(op, ast.In) else "risk_rules.word.not_in")
                    items = ("、" if lang == "zh" else ", ").join(value(e, money_of) for e in right.elts)
                    parts.append(f"{walk(left)} {word} {items}")
                elif type(op) in _SYMBOLS:
                    parts.append(f"{value(left, money_of)} {_SYMBOLS[type(op)]} {value(right, money_of)}")
                else:
                    raise ValueError("unreadable")
                left = right
            return f" {translate(lang, 'risk_rules.word.and')} ".join(parts)
        raise ValueError("unreadable")

    try:
        return walk(tree.body)
    except (ValueError, RecursionError):
        return None


RULE_EXAMPLE = "new_terminal == 1 and saved_payee == 0 and amount_minor >= 5000000"
# the fields whose values are codes from the data: each value is listed as it is typed, beside its words
FIELD_VALUES = {"channel": ("web", "api", "assistant", "schedule"), "kind": ("transfer", "bill_payment", "top_up"),
                "product": ("demand", "savings")}


def field_text(name: str, lang: str) -> Any:
    """What a field of the rules means in the page's language; for a field whose values are codes, the codes
    (as typed, in ``<code>``) each with its words."""
    key = f"risk_rules.field.{name}"
    text = translate(lang, key) if has(lang, key) else name
    values = FIELD_VALUES.get(name)
    if not values:
        return text
    items = translate(lang, "risk_rules.value_sep").join(
        translate(lang, "risk_rules.value_item", code=v, word=translate(lang, f"risk_rules.value.{name}.{v}"))
        for v in values)
    return fmt.code_marks(translate(lang, "risk_rules.values_line", field=text, values=items))


def _page(request: Request, actor: Any, *, form: dict[str, Any] | None = None, error: str | None = None,
          result: dict[str, Any] | None = None, editing: str | None = None, status_code: int = 200,
          error_field: str | None = None, confirm: dict[str, Any] | None = None) -> Response:
    lang = lang_of(request)

    def work(s: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        listed = risk.list_rules(s, actor=actor, include_retired=True)
        stats = risk.rule_stats(s, actor=actor)
        vers = risk.rule_versions(s, actor=actor, code=editing) if editing else []
        return listed, stats, vers

    listed, stats, versions = db.run_in_transaction(work)
    by_code = {st["code"]: st for st in stats}
    for r in listed:
        st = by_code.get(r["code"], {})
        r["stats"] = {**st, "precision_pct": _pct(st.get("precision"))}
        r["reads"] = describe_condition(r["expression"], lang)
    for v in versions:
        v["reads"] = describe_condition(v["expression"], lang)
    if confirm is not None:
        rule = next((r for r in listed if r["code"] == confirm["code"]), None)
        confirm["old"] = rule["mode"] if rule else ""
        confirm["name"] = (rule["name_zh"] if lang == "zh" else rule["name_en"]) if rule else confirm["code"]
    today = clock.today()
    if form is None:
        form = {k: "" for k in _FIELDS} | {"action": "challenge"}
        if editing and versions:
            form = {k: versions[-1][k] for k in _FIELDS}
        form |= {"start": (today - timedelta(days=7)).isoformat(), "end": today.isoformat(), "source": "bank"}
    if result is not None:
        result = {**result, "hit_rate_pct": _pct(result["hit_rate"]), "recall_pct": _pct(result["recall"]),
                  "precision_pct": _pct(result["precision"])}
    names = [{"name": n, "text": field_text(n, lang)} for n in risk.RULE_CONTEXT]
    rule_help = fmt.code_marks(translate(lang, "risk_rules.rule_help", example=RULE_EXAMPLE,
                                         reads=describe_condition(RULE_EXAMPLE, lang) or ""))
    return render(request, "console/risk/rules.html", status_code=status_code, rules=listed, form=form, error=error,
                  error_field=error_field, confirm=confirm, reads=describe_condition(form.get("expression") or "", lang)
                  if form.get("expression") else None,
                  result=result, editing=editing, versions=versions, names=names, rule_help=rule_help,
                  code_marks=fmt.code_marks, actions=("flag", "challenge", "review", "block"))


def _error(exc: SmartbankError, lang: str) -> str:
    return message(exc, lang)


def _field_of(exc: SmartbankError) -> str | None:
    """The form field a refusal concerns, so that the page shows it there (once)."""
    if isinstance(exc, risk.RuleExpressionError) or exc.reason.startswith("expr."):
        return "expression"
    if exc.reason in ("risk.mode_reason_required", "risk.mode_reason_too_long"):
        return "change_reason"
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    return field if field in _FIELDS else None


@router.get(PAGE)
def rules_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PAGE)
    return _page(request, actor)


@router.get(PAGE + "/{code}")
def rule_edit_page(request: Request, code: str, actor: Staff) -> Response:
    require_page(actor, PAGE)
    return _page(request, actor, editing=code)


@router.post(PAGE)
def rule_save(request: Request, actor: Staff, code: Text = "", name_en: Text = "", name_zh: Text = "",
              expression: Text = "", action: Text = "challenge", reason_en: Text = "", reason_zh: Text = "",
              start: Text = "", end: Text = "", source: Text = "bank", do: Text = "save",
              editing: Text = "", change_reason: Text = "") -> Response:
    """One form for create, new version and test: ``do`` is save or test; ``editing`` names the rule being
    edited (empty when creating)."""
    require_page(actor, PAGE)
    edit_code = editing or None
    form = {"code": edit_code or code.strip(), "name_en": name_en, "name_zh": name_zh, "expression": expression,
            "action": action, "reason_en": reason_en, "reason_zh": reason_zh, "start": start, "end": end,
            "source": source}
    try:
        if do == "test":
            try:
                lo, hi = date.fromisoformat(start), date.fromisoformat(end)
            except ValueError as exc:
                raise ValidationFailed("give the test period as two dates (YYYY-MM-DD)") from exc
            if source not in SOURCES:
                raise ValidationFailed("unknown history source", details={"source": source})
            result = db.run_in_transaction(lambda s: risk.test_rule(
                s, actor=actor, expression=expression, action=action, start=lo, end=hi, source=SOURCES[source]))
            return _page(request, actor, form=form, result=result, editing=edit_code)
        # maker-checker: the rule (or its new version) applies once a second risk officer approves it
        fields = {"name_en": name_en, "name_zh": name_zh, "expression": expression, "action": action,
                  "reason_en": reason_en, "reason_zh": reason_zh}
        if edit_code:
            db.run_in_transaction(lambda s: backoffice.propose_change(
                s, actor, kind="risk.rule.edit", target=edit_code, payload=fields, reason=change_reason,
                rid=request_id(request)))
        else:
            db.run_in_transaction(lambda s: backoffice.propose_change(
                s, actor, kind="risk.rule.create", target=code.strip(), payload=fields | {"mode": "shadow"},
                reason=change_reason, rid=request_id(request)))
    except Forbidden:
        raise
    except SmartbankError as exc:
        return _page(request, actor, form=form, error=_error(exc, lang_of(request)), editing=edit_code,
                     error_field=_field_of(exc),
                     status_code=exc.status_code if exc.status_code in (404, 409, 422) else 422)
    return RedirectResponse("/console/changes?notice=change_proposed", status_code=303)


@router.get(PAGE + "/{code}/mode")
def rule_mode_confirm(request: Request, code: str, actor: Staff, mode: str = "") -> Response:
    """The confirm step of a change of mode: what changes, and the reason (required) for the audit trail."""
    require_page(actor, PAGE)
    return _page(request, actor, confirm={"code": code, "mode": mode})


@router.post(PAGE + "/{code}/mode")
def rule_mode(request: Request, code: str, actor: Staff, mode: Text = "", change_reason: Text = "") -> Response:
    """Propose activating, shadowing or retiring a rule: it applies once a second risk officer approves it (the
    rules' service refuses a change without a reason)."""
    require_page(actor, PAGE)
    try:
        db.run_in_transaction(lambda s: backoffice.propose_change(
            s, actor, kind="risk.rule.mode", target=code, payload={"mode": mode}, reason=change_reason,
            rid=request_id(request)))
    except Forbidden:
        raise
    except SmartbankError as exc:
        return _page(request, actor, error=_error(exc, lang_of(request)), error_field=_field_of(exc),
                     confirm={"code": code, "mode": mode, "reason": change_reason},
                     status_code=exc.status_code if exc.status_code in (404, 409, 422) else 422)
    return RedirectResponse("/console/changes?notice=change_proposed", status_code=303)
