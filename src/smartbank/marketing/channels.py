"""The marketing channels: in-app message, portal banner, text message (the SMS gateway) and e-mail (SMTP).

Each channel takes a message the contact policy allowed (a ``mkt_messages`` row) and delivers it, setting its
delivery status (``sent``/``delivered``, or ``failed`` with the error: a channel's failure is recorded, never
raised), the address it went to (masked) and the gateway's id. The links in a message go through the click
tracker (``/m/<token>``), whose token is signed so that message ids cannot be enumerated.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.customers import service as customers
from smartbank.marketing.models import MarketingMessage
from smartbank.notifications import service as notifications
from smartbank.security import service as security

__all__ = ["BANNER_DAYS", "CHANNEL_SENDERS", "click_token", "click_url", "read_click_token"]

BANNER_DAYS = 14  # a banner is shown this long unless the message says otherwise or the customer dismisses it

UNSUBSCRIBE = {
    "zh": "如不想再收到此类邮件，请在网上银行“隐私与授权”中关闭营销邮件。",
    "en": "To stop these e-mails, switch off marketing e-mail under Privacy in online banking.",
}
SMS_OPT_OUT = {"zh": "拒收请在网银关闭短信营销", "en": "Opt out: Privacy settings in online banking"}


def _safe_target(target: str | None) -> str:
    """Only a path of this site ("/..."), never another site (no "//host" or scheme)."""
    t = (target or "/").strip()
    if not t.startswith("/") or t.startswith("//") or "\\" in t or any(ord(ch) < 32 for ch in t):
        return "/"
    return t[:300]


def _sig(message_id: int, target: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"mkt-click:{message_id}:{target}".encode(), hashlib.sha256).hexdigest()[:24]


def click_token(message_id: int, target: str | None) -> str:
    """The signed token of a message's link: ``<id>.<signature>``; the target travels with it."""
    return f"{message_id}.{_sig(message_id, _safe_target(target))}"


def read_click_token(token: str, target: str | None) -> int | None:
    """The message id of a token whose signature matches ``target``, else None."""
    head, _, sig = (token or "").partition(".")
    if not head.isdigit() or not 1 <= int(head) < 2**63 or len(sig) != 24:
        return None
    mid = int(head)
    return mid if hmac.compare_digest(sig, _sig(mid, _safe_target(target))) else None


def click_url(message_id: int, target: str | None, *, absolute: bool = False) -> str:
    t = _safe_target(target)
    path = f"/m/{click_token(message_id, t)}?to={quote(t, safe='/')}"
    return get_settings().public_base_url.rstrip("/") + path if absolute else path


def _text(content: dict[str, dict[str, str]], lang: str) -> dict[str, str]:
    return content.get(lang) or content.get("zh") or next(iter(content.values()), {})


def _inapp(session: Session, msg: MarketingMessage, content: dict[str, dict[str, str]], extra: dict[str, Any]) -> None:
    zh, en = _text(content, "zh"), _text(content, "en")
    n = notifications.notify(session, customer_id=msg.customer_id, kind="marketing",
                             title_zh=zh.get("title", ""), title_en=en.get("title", ""),
                             body_zh=zh.get("body", ""), body_en=en.get("body", ""), ref=f"mkt:{msg.id}")
    msg.status, msg.external_id, msg.delivered_at = "delivered", f"notification:{n.id}", clock.now()


def _banner(session: Session, msg: MarketingMessage, content: dict[str, dict[str, str]], extra: dict[str, Any]) -> None:
    days = int(extra.get("banner_days") or BANNER_DAYS)
    msg.status, msg.delivered_at = "delivered", clock.now()
    msg.expires_at = clock.now() + timedelta(days=max(1, min(days, 90)))


def _sms(session: Session, msg: MarketingMessage, content: dict[str, dict[str, str]], extra: dict[str, Any]) -> None:
    c = customers.get_customer(session, msg.customer_id)
    if not c.phone:
        msg.status, msg.error = "failed", "no phone number on record"
        return
    msg.address = notifications.mask_phone(c.phone)
    t = _text(content, msg.lang)
    link = click_url(msg.id, extra.get("target"), absolute=True) if extra.get("target") else ""
    lang = msg.lang if msg.lang in SMS_OPT_OUT else "zh"
    text = " ".join(x for x in ("【智慧银行】" if lang == "zh" else "[SmartBank]", t.get("body", ""), link,
                                SMS_OPT_OUT[lang]) if x)
    try:
        notifications.gateway().send(notifications.SmsMessage(phone=c.phone, text=text, ref=f"mkt:{msg.id}"))
    except Exception as exc:  # noqa: BLE001 - the gateway's failure is the message's status, never a crash
        msg.status, msg.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
        return
    msg.status, msg.external_id = "sent", f"sms:{msg.id}"


def _email(session: Session, msg: MarketingMessage, content: dict[str, dict[str, str]], extra: dict[str, Any]) -> None:
    c = customers.get_customer(session, msg.customer_id)
    if not c.email:
        msg.status, msg.error = "failed", "no e-mail address on record"
        return
    msg.address = security.mask_email(c.email)
    s = get_settings()
    zh, en = _text(content, "zh"), _text(content, "en")
    first, second = (en, zh) if msg.lang == "en" else (zh, en)
    link = click_url(msg.id, extra.get("target"), absolute=True) if extra.get("target") else ""
    parts = []
    for lang, t in ((msg.lang if msg.lang in UNSUBSCRIBE else "zh", first),
                    ("zh" if msg.lang == "en" else "en", second)):
        parts.append("\n".join(x for x in (t.get("body", ""), link, "", UNSUBSCRIBE[lang]) if x is not None))
    em = EmailMessage()
    em["Subject"] = first.get("title", "") or second.get("title", "")
    em["From"] = s.smtp_from
    em["To"] = c.email
    em["Message-ID"] = make_msgid(idstring=f"mkt{msg.id}")
    em["List-Unsubscribe"] = f"<{s.public_base_url.rstrip('/')}/privacy>"
    em.set_content("\n\n----\n\n".join(parts))
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(em)
    except (smtplib.SMTPException, OSError) as exc:
        msg.status, msg.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
        return
    msg.status, msg.external_id = "sent", str(em["Message-ID"])[:120]


CHANNEL_SENDERS: dict[str, Callable[[Session, MarketingMessage, dict[str, dict[str, str]], dict[str, Any]], None]] = {
    "inapp": _inapp, "banner": _banner, "sms": _sms, "email": _email,
}
