"""The portal's chat with the assistant (``/assistant``): a plain form post and page that works without
JavaScript; ``static/assistant.js`` posts the same form with fetch, appends the replies and, while a
colleague is being waited for or is answering, polls for their messages.

The thread is drawn on the server only (:func:`thread`, ``portal/_assistant_thread.html``): the page, and the
fragments the script appends (``html`` and ``chips`` of ``/assistant/{id}/messages``), so a reply looks the same
live and after a reload. Message texts are escaped, then their web addresses and in-app paths become links
(:func:`linkify`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.encoders import jsonable_encoder
from markupsafe import Markup, escape
from starlette.responses import JSONResponse, RedirectResponse, Response

from smartbank import db
from smartbank.assistant import service
from smartbank.errors import SmartbankError
from smartbank.web import forms, nav
from smartbank.web.auth import Customer
from smartbank.web.i18n import has, lang_of, register_messages, translate
from smartbank.web.nav import register_portal_page
from smartbank.web.render import env, page_context, render
from smartbank.web.routing import web_router

router = web_router()
register_portal_page("/assistant", "nav.assistant", order=90)
register_messages("en", {"nav": {"assistant": "Assistant"}})
register_messages("zh", {"nav": {"assistant": "智能助手"}})

F = Annotated[str, Form()]

# in already-escaped text: an http(s) address (``&amp;`` may occur in it; other entities and spaces end it), or
# an in-app path such as ``/loans/apply`` that does not follow a word, a slash or an entity
_LINK = re.compile(r"(?P<url>https?://(?:&amp;|[^\s<>&\"'，。；：！？、（）()【】「」])+)"
                   r"|(?<![\w/.:;&#-])(?P<path>/[a-z][a-z0-9_-]*(?:/[a-z0-9_-]+)*/?)(?![\w/])")
_TRAILING = ".,;:!?"


def page_name(path: str, lang: str) -> str | None:
    """The name people know a portal page by (its menu label), or None."""
    key = f"assistant.page.{path}"
    if has(lang, key):
        return translate(lang, key)
    item = next((i for i in nav.all_items() if i.path == path and not path.startswith("/console")), None)
    return translate(lang, item.label_key) if item is not None else None


def linkify(text: str | None, lang: str = "zh") -> Markup:
    """``text`` escaped, then its web addresses and in-app paths as links (never the text's own markup); an
    in-app path reads as the page's name in ``lang`` when it has one."""
    safe = str(escape(text or ""))

    def anchor(m: re.Match[str]) -> str:
        target = m.group(0)
        tail = ""
        while target and target[-1] in _TRAILING:
            target, tail = target[:-1], target[-1] + tail
        if m.group("url"):
            return f'<a href="{target}" rel="noopener noreferrer nofollow" target="_blank">{target}</a>{tail}'
        name = page_name(target, lang)
        return f'<a href="{target}">{escape(name) if name else target}</a>{tail}'

    return Markup(_LINK.sub(anchor, safe))


env.filters.setdefault("linkify", linkify)


def thread(conv: dict[str, Any], lang: str = "zh") -> list[dict[str, Any]]:
    """The conversation's messages with their linkified text (in-app paths named in ``lang``, the conversation's
    language), and the system lines between them: the hand-off
    (after the assistant's first hand-off reply), a colleague joining (before their first message) and the
    end. Each item carries the id of the message it belongs to (the script asks for what follows an id)."""
    items: list[dict[str, Any]] = []
    handed = joined = False
    last = 0
    for m in conv["messages"]:
        if m["sender"] == "agent" and not joined:
            items.append({"sys": "joined", "id": m["id"]})
            joined = handed = True
        items.append({"msg": m, "html": linkify(m["text"], lang), "id": m["id"]})
        if m["sender"] == "assistant" and m.get("kind") == "handoff" and not handed:
            items.append({"sys": "handed", "id": m["id"], "tone": "handoff"})
            handed = True
        last = m["id"]
    if conv["status"] == "closed":
        items.append({"sys": "ended", "id": last})
    return items


def quick_replies(conv: dict[str, Any] | None, lang: str) -> list[dict[str, str]]:
    """The chips under the thread: the assistant's suggestions to start with, then those of its last reply
    while the assistant (not a colleague) has the conversation."""
    if conv is None:
        return service.suggestions(lang)
    if conv["status"] != "bot" or not conv["messages"]:
        return []
    last = conv["messages"][-1]
    return list(last.get("buttons") or []) if last["sender"] == "assistant" else []


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _page(request: Request, actor: Any, conversation_id: int | None, *, error: str | None = None,
          error_field: str | None = None, text: str = "", status_code: int = 200) -> Response:
    conv = None
    if conversation_id is not None:
        conv = db.run_in_transaction(lambda s: service.history(s, actor, conversation_id))
    items = thread(conv, conv["language"] or lang_of(request)) if conv else []
    return render(request, "portal/assistant.html", conv=conv, thread=items, error=error, error_field=error_field,
                  text=text, buttons=quick_replies(conv, lang_of(request)), status_code=status_code,
                  last_id=conv["messages"][-1]["id"] if conv and conv["messages"] else 0, here="/assistant")


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
                     error=forms.message(exc, lang_of(request)), status_code=exc.status_code,
                     error_field="text" if exc.status_code == 422 else None, text=text)
    if _wants_json(request):
        return JSONResponse(jsonable_encoder(res))
    return RedirectResponse(f"/assistant?c={res['conversation_id']}#end", status_code=303)


def _fragment(request: Request, **ctx: Any) -> str:
    return env.get_template("portal/_assistant_fragment.html").render(page_context(request, **ctx))


@router.get("/assistant/{conversation_id}/messages")
def chat_messages(request: Request, conversation_id: int, actor: Customer, after: int = 0) -> Response:
    """New messages after ``after`` (the script polls this after each message and while a colleague is awaited
    or answering), with ``html``: the thread items that follow ``after`` as the page draws them, ``chips``:
    the quick replies now, and ``last``: the id to ask after next time."""
    conv = db.run_in_transaction(lambda s: service.history(s, actor, conversation_id))
    every = thread(conv, conv["language"] or lang_of(request))
    items = [i for i in every if i["id"] > after or i.get("sys") == "ended"]
    data = {**conv, "messages": [m for m in conv["messages"] if m["id"] > after],
            "last": conv["messages"][-1]["id"] if conv["messages"] else 0,
            "html": _fragment(request, part="items", items=items),
            "chips": _fragment(request, part="chips", buttons=quick_replies(conv, lang_of(request)),
                               conv_id=conv["id"])}
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
