"""The portal's notifications page: the signed-in customer's messages, newest first, in the page's
language. Viewing the page marks them read (the unread ones stay highlighted on that view)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from smartbank import db
from smartbank.notifications import service as notifications
from smartbank.web.auth import Customer
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

register_portal_page("/notifications", "nav.portal.notifications", order=60)

register_messages("zh", {
    "nav": {"portal": {"notifications": "消息"}},
    "notif": {"title": "消息通知", "none": "暂无消息。", "new": "新", "unread": "{n} 条新消息"},
})
register_messages("en", {
    "nav": {"portal": {"notifications": "Messages"}},
    "notif": {"title": "Messages", "none": "No messages.", "new": "New", "unread": "{n} new"},
})


@router.get("/notifications")
def my_notifications(request: Request, actor: Customer) -> Response:
    lang = lang_of(request)

    def work(s):
        items = [notifications.as_dict(n, lang) for n in notifications.list_for(s, actor, limit=100)]
        unread = sum(1 for it in items if not it["read"])
        notifications.mark_read(s, actor)
        return items, unread

    items, unread = db.run_in_transaction(work)
    return render(request, "portal/notifications.html", items=items, unread=unread)
