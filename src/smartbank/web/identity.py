"""Security pages: the customer's ``/security`` (second factor, recovery codes, password, sessions and devices,
phone number and daily limit behind a step-up), the staff member's ``/console/security`` (password, recovery
codes, sessions) and the password reset by text message (``/password-reset``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.config import get_settings
from smartbank.customers import service as customers
from smartbank.errors import ChallengeRequired, SmartbankError, TooManyAttempts, ValidationFailed
from smartbank.http.password_reset import request_password_reset
from smartbank.http.session import COOKIE as SESSION_COOKIE
from smartbank.http.session import client_address
from smartbank.money import format_minor
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.web.auth import Customer, Staff
from smartbank.web.i18n import error_text, lang_of, register_messages, translate
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

register_portal_page("/security", "nav.portal.security", order=90)
register_console_page("/console/security", "nav.console.security", order=990)

Code = Annotated[str, Form(max_length=32)]
Password = Annotated[str, Form(max_length=128)]

register_messages("zh", {
    "nav": {"portal": {"security": "安全设置"}, "console": {"security": "我的安全"}},
    "notice": {
        "mfa_on": "双重验证已开启。", "mfa_off": "双重验证已关闭。",
        "password_changed": "密码已修改，其他设备已退出登录。",
        "session_revoked": "该设备已退出登录。", "phone_changed": "手机号已更换。", "limit_set": "每日转账限额已更新。",
        "password_reset": "密码已重置，请用新密码登录。", "sign_in_expired": "本次登录已过期，请重新登录。",
    },
    "mfa": {
        "title": "双重验证", "prompt": "请输入身份验证器应用中的 6 位验证码。", "code": "验证码",
        "recovery_hint": "手机不在身边？可输入一个恢复码（登记第二重验证时发给您的十位码）。", "submit": "验证",
        "enrol_title": "设置双重验证", "enrol_why": "银行员工必须开启双重验证后才能登录。",
        "enrol_intro": "开启后，登录和高风险操作需要身份验证器应用中的验证码。",
        "enrol_scan": "用身份验证器应用（如 Google Authenticator、Microsoft Authenticator）扫描二维码，"
                      "或手动输入下方密钥。",
        "enrol_confirm": "输入应用显示的 6 位验证码完成设置。", "enrol_secret": "密钥（手动输入时使用）：",
        "enrol_uri": "手动添加用的链接", "enrol_submit": "完成设置",
        "codes_title": "恢复码", "codes_intro": "手机丢失时，每个恢复码可代替验证码使用一次。请妥善保存在安全的地方。",
        "codes_once": "恢复码只显示这一次。", "codes_continue": "我已保存，继续",
    },
    "reset": {
        "title": "重置密码", "link": "忘记密码？", "intro": "输入用户名，我们会向您预留的手机号发送验证码。",
        "request": "发送验证码", "sent": "如果该用户存在并预留了手机号，验证码已发送（10 分钟内有效）。",
        "code": "短信验证码", "submit": "重置密码",
    },
    "security": {
        "title": "安全设置", "console_title": "我的安全设置",
        "mfa": "双重验证", "mfa_on": "已开启", "mfa_off": "未开启", "mfa_required": "员工必须开启双重验证。",
        "mfa_enable": "开启双重验证", "mfa_disable": "关闭双重验证", "codes_left": "剩余恢复码：{n} 个",
        "codes_new": "生成新的恢复码", "current_password": "当前密码", "new_password": "新密码",
        "new_password2": "再次输入新密码", "change_password": "修改密码",
        "policy": "至少 10 位，须含字母和数字，不能包含用户名，不能是常见或已泄露的密码。",
        "password_mismatch": "两次输入的新密码不一致。",
        "sessions": "登录设备", "created": "登录时间", "last_seen": "最近活动", "device": "设备", "address": "网络位置",
        "this_device": "本设备", "revoke": "退出登录", "unknown": "未知",
        "phone": "手机号", "phone_new": "新手机号", "phone_change": "更换手机号",
        "limit": "每日转账限额", "limit_new": "新限额（元）", "limit_set": "设置限额",
        "limit_hint": "降低限额立即生效；提高限额需要验证，最高 {max}。",
        "step_up_totp": "请输入身份验证器应用中的验证码以确认此操作。",
        "step_up_sms": "验证码已发送至 {phone}，请输入以确认此操作。", "step_up_code": "验证码",
        "confirm": "确认",
    },
})
register_messages("en", {
    "nav": {"portal": {"security": "Security"}, "console": {"security": "My security"}},
    "notice": {
        "mfa_on": "Two-step verification is on.", "mfa_off": "Two-step verification is off.",
        "password_changed": "Password changed; your other devices were signed out.",
        "session_revoked": "That device was signed out.", "phone_changed": "Phone number changed.",
        "limit_set": "Daily payment limit updated.", "password_reset": "Password reset. Sign in with the new one.",
        "sign_in_expired": "That sign-in has expired; please sign in again.",
    },
    "mfa": {
        "title": "Two-step verification", "prompt": "Enter the 6-digit code from your authenticator app.",
        "code": "Code", "recovery_hint": "No phone at hand? Enter one of your recovery codes instead.",
        "submit": "Verify", "enrol_title": "Set up two-step verification",
        "enrol_why": "Bank staff must set up two-step verification before they can sign in.",
        "enrol_intro": "Once on, signing in and high-risk actions ask for a code from your authenticator app.",
        "enrol_scan": "Scan the QR code with an authenticator app (such as Google Authenticator or Microsoft "
                      "Authenticator), or type the key below.",
        "enrol_confirm": "Enter the 6-digit code the app shows to finish.", "enrol_secret": "Key (to type it in):",
        "enrol_uri": "Link for adding it by hand", "enrol_submit": "Finish set-up",
        "codes_title": "Recovery codes",
        "codes_intro": "If you lose your phone, each recovery code works once instead of a code. Keep them somewhere "
                       "safe.",
        "codes_once": "These codes are shown only this once.", "codes_continue": "I have saved them, continue",
    },
    "reset": {
        "title": "Reset password", "link": "Forgot your password?",
        "intro": "Enter your username and we will text a code to the phone number on file.",
        "request": "Send code",
        "sent": "If that username exists and has a phone number, a code is on its way (valid for 10 minutes).",
        "code": "Code from the text message", "submit": "Reset password",
    },
    "security": {
        "title": "Security", "console_title": "My security",
        "mfa": "Two-step verification", "mfa_on": "On", "mfa_off": "Off",
        "mfa_required": "Staff must keep two-step verification on.",
        "mfa_enable": "Turn on two-step verification", "mfa_disable": "Turn off two-step verification",
        "codes_left": "Recovery codes left: {n}", "codes_new": "Make new recovery codes",
        "current_password": "Current password", "new_password": "New password",
        "new_password2": "New password again", "change_password": "Change password",
        "policy": "At least 10 characters with letters and digits, not containing your username, and not a common "
                  "or breached password.",
        "password_mismatch": "The two new passwords differ.",
        "sessions": "Signed-in devices", "created": "Signed in", "last_seen": "Last active", "device": "Device",
        "address": "Network", "this_device": "This device", "revoke": "Sign out", "unknown": "Unknown",
        "phone": "Phone number", "phone_new": "New phone number", "phone_change": "Change phone number",
        "limit": "Daily payment limit", "limit_new": "New limit (CNY)", "limit_set": "Set limit",
        "limit_hint": "Lowering it takes effect at once; raising it needs a code, up to {max}.",
        "step_up_totp": "Enter the code from your authenticator app to confirm.",
        "step_up_sms": "We texted a code to {phone}; enter it to confirm.", "step_up_code": "Code",
        "confirm": "Confirm",
    },
})


def _device(ua: str | None, lang: str) -> str:
    """A short name of a user agent for the sessions list (the browser and the system, when recognisable)."""
    if not ua:
        return translate(lang, "security.unknown")
    browser = next((b for k, b in (("Edg/", "Edge"), ("MicroMessenger", "WeChat"), ("Chrome/", "Chrome"),
                                   ("Firefox/", "Firefox"), ("Safari/", "Safari"), ("python-httpx", "API client"),
                                   ("testclient", "API client"), ("curl/", "curl")) if k in ua), None)
    system = next((o for k, o in (("iPhone", "iPhone"), ("Android", "Android"), ("Windows", "Windows"),
                                  ("Mac OS X", "macOS"), ("Linux", "Linux")) if k in ua), None)
    return " · ".join(x for x in (browser, system) if x) or ua[:40]


def _sessions(request: Request, actor: Principal) -> list[dict[str, Any]]:
    lang = lang_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    rows = db.run_read(lambda s: security.list_sessions(s, actor, current_token=token))
    fmt = "%Y-%m-%d %H:%M"

    def local(at):
        return at.astimezone(clock.BANK_TZ).strftime(fmt) if at else "-"

    return [{"id": r.id, "created": local(r.created_at), "last_seen": local(r.last_seen_at),
             "device": _device(r.user_agent, lang), "address": r.address or translate(lang, "security.unknown"),
             "current": r.current} for r in rows]


def _page(request: Request, actor: Principal, *, status_code: int = 200, **ctx: Any) -> Response:
    def read(s):
        st = security.mfa_status(s, actor)
        out: dict[str, Any] = {"mfa": st}
        if not actor.is_staff and actor.customer_id is not None:
            c = customers.get_customer(s, actor.customer_id)
            out["phone"] = security.mask_phone(c.phone) if c.phone else None
            out["limit"] = format_minor(c.daily_limit_minor if c.daily_limit_minor is not None
                                        else _default_limit(), "CNY", grouping=True, symbol=True)
        return out

    data = db.run_read(read)
    ctx.setdefault("step_up", None)
    template = "console/security.html" if actor.is_staff else "portal/security.html"
    return render(request, template, status_code=status_code, sessions=_sessions(request, actor),
                  limit_max=format_minor(customers.SELF_MAX_DAILY_LIMIT_MINOR, "CNY", grouping=True, symbol=True),
                  **data, **ctx)


def _default_limit() -> int:
    return get_settings().default_daily_limit_minor


def _done(area_path: str, notice: str) -> Response:
    return RedirectResponse(f"{area_path}?notice={notice}", status_code=303)


def _fail(request: Request, actor: Principal, exc: SmartbankError, **ctx: Any) -> Response:
    return _page(request, actor, status_code=exc.status_code, error=error_text(exc, lang_of(request)), **ctx)


# --- the portal's page ----------------------------------------------------------------------------------


@router.get("/security")
def get_security(request: Request, actor: Customer) -> Response:
    return _page(request, actor)


@router.get("/console/security")
def get_console_security(request: Request, actor: Staff) -> Response:
    return _page(request, actor)


def _base(actor: Principal) -> str:
    return "/console/security" if actor.is_staff else "/security"


@router.post("/security/mfa/enrol")
def post_mfa_enrol(request: Request, actor: Customer) -> Response:
    try:
        e = db.run_in_transaction(lambda s: security.pending_mfa(s, actor) or security.begin_mfa(s, actor))
    except SmartbankError as exc:
        return _fail(request, actor, exc)
    return render(request, "auth/enrol.html", area="portal", next_url="", secret=e.secret, uri=e.uri,
                  qr=Markup(e.qr_svg()), action="/security/mfa/confirm")


@router.post("/security/mfa/confirm")
def post_mfa_confirm(request: Request, actor: Customer, code: Code = "") -> Response:
    try:
        codes = db.run_in_transaction(lambda s: security.confirm_mfa(s, actor, code=code))
    except SmartbankError as exc:
        e = db.run_in_transaction(lambda s: security.pending_mfa(s, actor))
        if e is None:
            return _fail(request, actor, exc)
        return render(request, "auth/enrol.html", status_code=exc.status_code, area="portal", next_url="",
                      secret=e.secret, uri=e.uri, qr=Markup(e.qr_svg()), action="/security/mfa/confirm",
                      error=error_text(exc, lang_of(request)))
    return render(request, "auth/recovery_codes.html", area="portal", codes=codes,
                  continue_to="/security?notice=mfa_on")


@router.post("/security/mfa/disable")
def post_mfa_disable(request: Request, actor: Customer, password: Password = "", code: Code = "") -> Response:
    try:
        db.run_in_transaction(lambda s: security.disable_mfa(s, actor, password=password, code=code))
    except SmartbankError as exc:
        return _fail(request, actor, exc)
    return _done("/security", "mfa_off")


def _recovery_codes(request: Request, actor: Principal, code: str) -> Response:
    try:
        codes = db.run_in_transaction(lambda s: security.new_recovery_codes(s, actor, code=code))
    except SmartbankError as exc:
        return _fail(request, actor, exc)
    return render(request, "auth/recovery_codes.html", area="console" if actor.is_staff else "portal", codes=codes,
                  continue_to=_base(actor))


@router.post("/security/recovery-codes")
def post_recovery_codes(request: Request, actor: Customer, code: Code = "") -> Response:
    return _recovery_codes(request, actor, code)


@router.post("/console/security/recovery-codes")
def post_console_recovery_codes(request: Request, actor: Staff, code: Code = "") -> Response:
    return _recovery_codes(request, actor, code)


def _password(request: Request, actor: Principal, current: str, new: str, new2: str) -> Response:
    if new != new2:
        return _fail(request, actor, ValidationFailed(translate(lang_of(request), "security.password_mismatch")))
    token = request.cookies.get(SESSION_COOKIE)
    try:
        db.run_in_transaction(lambda s: security.change_password(s, actor, current=current, new=new,
                                                                 keep_token=token))
    except SmartbankError as exc:
        return _fail(request, actor, exc)
    return _done(_base(actor), "password_changed")


@router.post("/security/password")
def post_password(request: Request, actor: Customer, current_password: Password = "", new_password: Password = "",
                  new_password2: Password = "") -> Response:
    return _password(request, actor, current_password, new_password, new_password2)


@router.post("/console/security/password")
def post_console_password(request: Request, actor: Staff, current_password: Password = "",
                          new_password: Password = "", new_password2: Password = "") -> Response:
    return _password(request, actor, current_password, new_password, new_password2)


def _revoke(request: Request, actor: Principal, session_id: str) -> Response:
    try:
        db.run_in_transaction(lambda s: security.revoke_session(s, actor, session_id=session_id[:64]))
    except SmartbankError as exc:
        return _fail(request, actor, exc)
    return _done(_base(actor), "session_revoked")


@router.post("/security/sessions/{session_id}/revoke")
def post_revoke(request: Request, actor: Customer, session_id: str) -> Response:
    return _revoke(request, actor, session_id)


@router.post("/console/security/sessions/{session_id}/revoke")
def post_console_revoke(request: Request, actor: Staff, session_id: str) -> Response:
    return _revoke(request, actor, session_id)


def _step_up_ctx(request: Request, exc: ChallengeRequired, form: str, values: dict[str, str]) -> dict[str, Any]:
    lang = lang_of(request)
    d = exc.details
    prompt = (translate(lang, "security.step_up_totp") if d.get("method") == "totp"
              else translate(lang, "security.step_up_sms", phone=d.get("sent_to", "")))
    return {"step_up": {"form": form, "prompt": prompt, "fields": values}}


@router.post("/security/phone")
def post_phone(request: Request, actor: Customer, phone: Annotated[str, Form(max_length=20)] = "",
               step_up_code: Code = "") -> Response:
    try:
        db.run_in_transaction(lambda s: customers.change_own_phone(s, actor, phone=phone,
                                                                   step_up_code=step_up_code or None))
    except ChallengeRequired as exc:
        return _page(request, actor, **_step_up_ctx(request, exc, "phone", {"phone": phone}))
    except SmartbankError as exc:
        return _fail(request, actor, exc)
    return _done("/security", "phone_changed")


@router.post("/security/daily-limit")
def post_daily_limit(request: Request, actor: Customer, limit_yuan: Annotated[str, Form(max_length=12)] = "",
                     step_up_code: Code = "") -> Response:
    lang = lang_of(request)
    text = limit_yuan.strip().replace(",", "")
    if not text.isdigit():
        return _fail(request, actor, ValidationFailed(translate(lang, "error_message.that limit is out of range")))
    minor = int(text) * 100
    try:
        db.run_in_transaction(lambda s: customers.set_own_daily_limit(s, actor, limit_minor=minor,
                                                                      step_up_code=step_up_code or None))
    except ChallengeRequired as exc:
        return _page(request, actor, **_step_up_ctx(request, exc, "limit", {"limit_yuan": text}))
    except SmartbankError as exc:
        return _fail(request, actor, exc)
    return _done("/security", "limit_set")


# --- password reset ------------------------------------------------------------------------------------


@router.get("/password-reset")
def get_reset(request: Request) -> Response:
    return render(request, "auth/reset.html", area="portal", step="request", username="")


@router.post("/password-reset")
def post_reset(request: Request, username: Annotated[str, Form(max_length=64)] = "") -> Response:
    try:
        request_password_reset(username, address=client_address(request))
    except TooManyAttempts as exc:
        return render(request, "auth/reset.html", status_code=exc.status_code, area="portal", step="request",
                      username=username, error=error_text(exc, lang_of(request)))
    return render(request, "auth/reset.html", area="portal", step="confirm", username=username)


@router.post("/password-reset/confirm")
def post_reset_confirm(request: Request, username: Annotated[str, Form(max_length=64)] = "", code: Code = "",
                       new_password: Password = "", new_password2: Password = "") -> Response:
    lang = lang_of(request)
    if new_password != new_password2:
        return render(request, "auth/reset.html", status_code=422, area="portal", step="confirm", username=username,
                      error=translate(lang, "security.password_mismatch"))
    try:
        db.run_in_transaction(lambda s: security.finish_password_reset(s, username=username.strip(), code=code,
                                                                       new_password=new_password))
    except SmartbankError as exc:
        return render(request, "auth/reset.html", status_code=exc.status_code, area="portal", step="confirm",
                      username=username, error=error_text(exc, lang))
    return RedirectResponse("/login?notice=password_reset", status_code=303)
