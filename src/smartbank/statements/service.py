"""Read side: account history with filters and cursor pagination, CSV export, monthly PDF statements.

The statements domain's front door (:data:`__all__`). A read model: it queries the ledger's entries,
transfers and accounts and the customers' names directly, in bulk, through the models those domains export.
Who may read an account's history is decided before (``payments.owned_account``)."""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from smartbank import pii
from smartbank.customers.service import Customer
from smartbank.errors import ValidationFailed
from smartbank.ledger.service import TRANSFER_KINDS, Account, Entry, Transfer
from smartbank.money import format_minor
from smartbank.security import service as security

__all__ = [
    "CSV_COLUMNS", "HISTORY_KINDS", "HistoryFilter", "decode_cursor", "encode_cursor", "export_csv", "history",
    "iter_all", "month_bounds", "statement_data", "statement_pdf",
]


@dataclass(frozen=True)
class HistoryFilter:
    date_from: date | None = None
    date_to: date | None = None
    kind: str | None = None  # transfer kind, or "in"/"out" for direction
    min_amount_minor: int | None = None
    max_amount_minor: int | None = None
    counterparty: str | None = None  # account number or name fragment
    q: str | None = None  # free text over memo / reference / counterparty
    cursor: str | None = None
    limit: int = 50


# the history's ``kind`` filter: a direction, or a transfer kind
HISTORY_KINDS = ("in", "out", *TRANSFER_KINDS)


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"e": entry_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        pad = "=" * (-len(cursor) % 4)
        entry_id = json.loads(base64.urlsafe_b64decode(cursor + pad))["e"]
    except Exception as exc:  # noqa: BLE001 - any garbage is the client's mistake
        raise ValidationFailed("invalid cursor", details={"cursor": cursor}) from exc
    # only what encode_cursor makes: an entry id inside the BIGINT range (a larger int overflows the driver)
    if type(entry_id) is not int or not 1 <= entry_id <= 2**63 - 1:
        raise ValidationFailed("invalid cursor", details={"cursor": cursor})
    return entry_id


def history(session: Session, account: Account, f: HistoryFilter) -> dict[str, Any]:
    """Entries of one account, newest value date first (posting order within a day), each with the account's
    running balance in that same order (``balance_after_minor``: the balance by value date after the entry, so
    a statement month's lines run from its opening to its closing balance). Returns
    ``{"items": [...], "next_cursor": str|None}``."""
    if f.limit < 1 or f.limit > 500:
        raise ValidationFailed("limit must be between 1 and 500")
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ValidationFailed("date_from is after date_to")
    if f.min_amount_minor is not None and f.max_amount_minor is not None and f.min_amount_minor > f.max_amount_minor:
        raise ValidationFailed("min_amount is above max_amount")
    if f.kind is not None and f.kind not in HISTORY_KINDS:
        # an unknown kind is a mistake, not a filter that matches nothing
        raise ValidationFailed(f"unknown kind {f.kind!r}: use in, out or a transfer kind",
                               reason="statements.unknown_kind",
                               details={"kind": f.kind, "allowed": list(HISTORY_KINDS)})
    other = aliased(Entry)
    cp = aliased(Account)
    # A read model: the counterparty is named by its holder (a customer), or by the bank's account name.
    holder = aliased(Customer)
    cp_name = func.coalesce(holder.name, cp.name)
    # the running balance by value date (then posting order), over the account's own entries
    running = (select(Entry.id.label("eid"), func.sum(Entry.amount_minor).over(
        order_by=(Entry.value_date, Entry.id)).label("bal")).where(Entry.account_id == account.id).subquery())
    stmt = (
        select(Entry, Transfer, cp, cp_name, running.c.bal)
        .join(running, running.c.eid == Entry.id)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .join(other, and_(other.transfer_id == Entry.transfer_id, other.id != Entry.id))
        .join(cp, cp.id == other.account_id)
        .outerjoin(holder, holder.id == cp.customer_id)
        .where(Entry.account_id == account.id)
        .order_by(Entry.value_date.desc(), Entry.id.desc())
        .limit(f.limit + 1)
    )
    if f.cursor:
        after = decode_cursor(f.cursor)
        # the page goes on after the cursor's entry, which must be one of this account's
        at = session.scalar(select(Entry.value_date).where(Entry.id == after, Entry.account_id == account.id))
        if at is None:
            raise ValidationFailed("invalid cursor", details={"cursor": f.cursor})
        stmt = stmt.where(or_(Entry.value_date < at, and_(Entry.value_date == at, Entry.id < after)))
    if f.date_from:
        stmt = stmt.where(Entry.value_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Entry.value_date <= f.date_to)
    if f.kind == "in":
        stmt = stmt.where(Entry.amount_minor > 0)
    elif f.kind == "out":
        stmt = stmt.where(Entry.amount_minor < 0)
    elif f.kind:
        stmt = stmt.where(Transfer.kind == f.kind)
    if f.min_amount_minor is not None:
        stmt = stmt.where(Transfer.amount_minor >= f.min_amount_minor)
    if f.max_amount_minor is not None:
        stmt = stmt.where(Transfer.amount_minor <= f.max_amount_minor)
    if f.counterparty:
        c = f.counterparty.strip()
        stmt = stmt.where(or_(cp.number == c.replace(" ", ""), cp_name.like(f"%{c}%")))
    if f.q:
        like = f"%{f.q.strip()}%"
        stmt = stmt.where(or_(Transfer.memo.like(like), Transfer.reference.like(like), cp_name.like(like)))
    rows = session.execute(stmt).all()
    items = [_item(e, t, c, name, int(bal)) for e, t, c, name, bal in rows[: f.limit]]
    nxt = encode_cursor(rows[f.limit - 1][0].id) if len(rows) > f.limit else None
    return {"items": items, "next_cursor": nxt}


def _item(e: Entry, t: Transfer, cp: Account, cp_name: str | None, balance: int) -> dict[str, Any]:
    return {
        "entry_id": e.id, "transfer_id": t.id, "value_date": e.value_date.isoformat(),
        "created_at": e.created_at.isoformat() if isinstance(e.created_at, datetime) else str(e.created_at),
        "kind": t.kind, "direction": "in" if e.amount_minor > 0 else "out", "amount_minor": e.amount_minor,
        "currency": e.currency, "balance_after_minor": balance, "memo": t.memo, "reference": t.reference,
        "meta": t.meta,
        "counterparty_account": cp.number, "counterparty_name": cp_name or "",
        "counterparty_kind": cp.kind, "counterparty_purpose": cp.purpose,
    }


def iter_all(session: Session, account: Account, f: HistoryFilter):
    cursor = None
    while True:
        page = history(session, account, HistoryFilter(**{**f.__dict__, "cursor": cursor, "limit": 500}))
        yield from page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return


CSV_COLUMNS = ["value_date", "created_at", "transfer_id", "kind", "direction", "amount", "currency",
               "balance_after", "counterparty_account", "counterparty_name", "memo", "reference"]


def export_csv(session: Session, account: Account, f: HistoryFilter, *, role: str = "customer") -> str:
    """The history as CSV. For a staff ``role`` the file is an export in the masking policy's sense: the
    counterparty's name and account number as the policy shows them for ``export``, and the free text (memo,
    reference) with recognised personal information redacted (:mod:`smartbank.pii`). The account holder's own
    download is their data, in full."""
    own = role == "customer"

    def cp(field: str, value: Any) -> Any:
        return value if own else security.present(role, "export", field, value)

    def free(value: str | None) -> str:
        return (value or "") if own else pii.redact(value or "")

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for it in iter_all(session, account, f):
        w.writerow([it["value_date"], it["created_at"], it["transfer_id"], it["kind"], it["direction"],
                    format_minor(it["amount_minor"], it["currency"]), it["currency"],
                    format_minor(it["balance_after_minor"], it["currency"]),
                    cp("account_number", it["counterparty_account"]),
                    _csv_safe(cp("name", it["counterparty_name"]) or ""), _csv_safe(free(it["memo"])),
                    _csv_safe(free(it["reference"]))])
    return buf.getvalue()


def _csv_safe(v: str) -> str:
    # neutralise spreadsheet formula injection
    return "'" + v if v and v[0] in "=+-@\t\r" else v


def month_bounds(year: int, month: int) -> tuple[date, date]:
    if not (1 <= month <= 12) or not (2000 <= year <= 2100):
        raise ValidationFailed("no such month")
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def statement_data(session: Session, account: Account, year: int, month: int) -> dict[str, Any]:
    first, last = month_bounds(year, month)
    items = list(iter_all(session, account, HistoryFilter(date_from=first, date_to=last)))
    items.reverse()  # oldest first on paper (by value date, then posting order: as the running balances)
    # opening balance: every entry dated before the month. (Not the ledger's balance_after of the last such
    # entry: that follows posting order, and an entry posted later but dated earlier, such as a catch-up
    # scheduled run, would carry this month's postings into the opening balance.)
    opening = int(session.scalar(select(func.sum(Entry.amount_minor))
                                 .where(Entry.account_id == account.id, Entry.value_date < first)) or 0)
    credits = sum(i["amount_minor"] for i in items if i["amount_minor"] > 0)
    debits = -sum(i["amount_minor"] for i in items if i["amount_minor"] < 0)
    return {"first": first, "last": last, "items": items, "opening": opening, "credits": credits,
            "debits": debits, "closing": opening + credits - debits}


def statement_pdf(session: Session, account: Account, owner_name: str, year: int, month: int) -> bytes:
    """A monthly statement rendered with ReportLab (CJK text through its built-in STSong font)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    d = statement_data(session, account, year, month)
    cur = account.currency
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"Statement {account.number} {year}-{month:02d}")
    h = ParagraphStyle("h", fontName="STSong-Light", fontSize=16, leading=20)
    p = ParagraphStyle("p", fontName="STSong-Light", fontSize=9, leading=12)
    story: list[Any] = [
        Paragraph("smartbank 对账单 / Account statement", h), Spacer(1, 4 * mm),
        Paragraph(f"户名 Name: {escape(owner_name)}", p),
        Paragraph(f"账号 Account: {account.number} ({account.kind}, {cur})", p),
        Paragraph(f"期间 Period: {d['first']} – {d['last']}", p), Spacer(1, 3 * mm),
        Paragraph(f"期初余额 Opening: {format_minor(d['opening'], cur, grouping=True)} &nbsp; "
                  f"收入 Credits: {format_minor(d['credits'], cur, grouping=True)} &nbsp; "
                  f"支出 Debits: {format_minor(d['debits'], cur, grouping=True)} &nbsp; "
                  f"期末余额 Closing: {format_minor(d['closing'], cur, grouping=True)}", p),
        Spacer(1, 4 * mm),
    ]
    rows = [["日期 Date", "摘要 Description", "对方 Counterparty", "金额 Amount", "余额 Balance"]]
    for it in d["items"]:
        # Paragraph parses its text as markup: memos and names are free text, so escape them
        rows.append([it["value_date"], Paragraph(escape((it["memo"] or it["kind"])[:60]), p),
                     Paragraph(escape((it["counterparty_name"] or it["counterparty_account"])[:40]), p),
                     format_minor(it["amount_minor"], cur, grouping=True),
                     format_minor(it["balance_after_minor"], cur, grouping=True)])
    if len(rows) == 1:
        rows.append(["", "本期无交易 No transactions", "", "", ""])
    t = Table(rows, colWidths=[22 * mm, 62 * mm, 46 * mm, 25 * mm, 25 * mm], repeatRows=1)
    t.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), "STSong-Light", 8), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white), ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(t)
    doc.build(story)
    return buf.getvalue()
