"""The portal's chat with the assistant (``/assistant``): a plain form post and page that works without
JavaScript; ``static/assistant.js`` posts the same form with fetch, appends the replies and, while a
colleague is being waited for or is answering, polls for their messages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse, RedirectResponse, Response

from smartbank import db
from smartbank.assistant import service
from smartbank.errors import SmartbankError
from smartbank.web import forms
from smartbank.web.auth import Customer
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()
register_portal_page("/assistant", "nav.assistant", order=90)
register_messages("en", {"nav": {"assistant": "Assistant"}, "assistant": {
    "title": "Ask the assistant", "placeholder": "e.g. my balance / send 500 to my mother / pay my electricity bill",
    "send": "Send", "you": "You", "bot": "Assistant", "agent": "Colleague", "new": "New conversation",
    "waiting": "A colleague will reply here shortly.", "with_agent": "You are talking with a colleague.",
    "closed": "This conversation is closed. Thank you!", "rate": "How was this conversation?",
    "rate_send": "Rate", "comment": "Comment", "refresh": "Refresh", "empty": "Ask me about your accounts, "
    "transfers, bills, loans or products."}})
register_messages("zh", {"nav": {"assistant": "智能助手"}, "assistant": {
    "title": "智能助手", "placeholder": "例如：查余额 / 给妈妈转500 / 交电费", "send": "发送", "you": "我",
    "bot": "助手", "agent": "客服", "new": "新对话", "waiting": "客服会尽快在这里回复您。",
    "with_agent": "您正在与客服对话。", "closed": "本次对话已结束，感谢您！", "rate": "您对本次服务满意吗？",
    "rate_send": "提交评价", "comment": "意见", "refresh": "刷新",
    "empty": "您可以问我账户、转账、缴费、贷款或理财产品的问题。"}})

F = Annotated[str, Form()]


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _page(request: Request, actor: Any, conversation_id: int | None, *, error: str | None = None,
          status_code: int = 200) -> Response:
    conv = None
    if conversation_id is not None:
        conv = db.run_in_transaction(lambda s: service.history(s, actor, conversation_id))
    return render(request, "portal/assistant.html", conv=conv, error=error, status_code=status_code,
                  here="/assistant")


@router.get("/assistant")
def chat_page(request: Request, actor: Customer, c: int | None = None) -> Response:
    return _page(request, actor, c)


@router.post("/assistant")
def chat_send(request: Request, actor: Customer, text: F = "", conversation_id: F = "") -> Response:
    cid = int(conversation_id) if conversation_id.isdigit() else None
    try:
        res = db.run_in_transaction(lambda s: service.send(s, actor, text=text, conversation_id=cid,
                                                           channel="web"))
    except SmartbankError as exc:
        if _wants_json(request):
            return JSONResponse({"code": exc.code, "message": forms.message(exc, lang_of(request))},
                                status_code=exc.status_code)
        return _page(request, actor, cid if exc.status_code != 404 else None,
                     error=forms.message(exc, lang_of(request)), status_code=exc.status_code)
    if _wants_json(request):
        return JSONResponse(jsonable_encoder(res))
    return RedirectResponse(f"/assistant?c={res['conversation_id']}#end", status_code=303)


@router.get("/assistant/{conversation_id}/messages")
def chat_messages(conversation_id: int, actor: Customer, after: int = 0) -> Response:
    """New messages after ``after`` (the script polls this while a colleague is awaited or answering)."""
    data = db.run_in_transaction(lambda s: service.history(s, actor, conversation_id, after_id=after))
    return JSONResponse(jsonable_encoder(data))


@router.post("/assistant/{conversation_id}/rating")
def chat_rate(request: Request, conversation_id: int, actor: Customer, score: F = "", comment: F = "") -> Response:
    try:
        db.run_in_transaction(lambda s: service.rate(s, actor, conversation_id,
                                                     score=int(score) if score.isdigit() else 0,
                                                     comment=comment or None))
    except SmartbankError as exc:
        return _page(request, actor, conversation_id, error=forms.message(exc, lang_of(request)),
                     status_code=exc.status_code)
    return RedirectResponse(f"/assistant?c={conversation_id}", status_code=303)
