"""Customer portal: accounts overview, account history, CSV export, monthly PDF statements, receipts."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from smartbank import clock, db
from smartbank.customers import service as customers
from smartbank.errors import SmartbankError, ValidationFailed
from smartbank.lending import service as lending
from smartbank.payments import service as payments
from smartbank.recommend import service as recommend
from smartbank.security.service import Principal
from smartbank.statements import service as statements
from smartbank.wealth import service as wealth
from smartbank.web import forms, postings, views
from smartbank.web.auth import Customer
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_portal_page
from smartbank.web.render import is_elder, render
from smartbank.web.routing import web_router

router = web_router()
log = logging.getLogger("smartbank.web")

register_portal_page("/", "nav.home", order=0)

HISTORY_KINDS = ("in", "out", "transfer", "bill_payment", "scheduled", "deposit", "withdrawal", "salary",
                 "interest", "fee", "card_payment", "reversal")
DEPOSIT_KINDS = ("demand", "savings")
FILTER_FIELDS = ("date_from", "date_to", "kind", "min_amount", "max_amount", "counterparty", "q")


@router.get("/")
def home(request: Request, actor: Customer) -> Response:
    elder = is_elder(request)

    def work(s):
        accounts = [views.account(a) for a in payments.list_accounts(s, actor)]
        if elder:  # one task per screen: the balance and the big tiles, nothing else to read
            return accounts, None, []
        return accounts, wealth.customer_holdings(s, actor, with_analytics=False), lending.list_loans(s, actor)

    accounts, holdings, loans = db.run_in_transaction(work)
    return render(request, "portal/home.html", accounts=accounts, main=views.main_account(accounts),
                  glance=glance(accounts, holdings, loans),
                  rec=None if elder else _home_recommendations(actor), lang=lang_of(request))


def glance(accounts: list[dict[str, Any]], holdings: dict[str, Any] | None,
           loans: list[dict[str, Any]]) -> dict[str, Any]:
    """The home page's figures. Total assets = the ledger balances of the customer's own CNY deposit accounts
    (current and savings; money held for a pending order is still in them) + the market value of the wealth
    holdings at the latest NAV. Loans are shown beside it, not subtracted."""
    deposits = [a for a in accounts if a["kind"] in DEPOSIT_KINDS]
    cash = sum(int(a["balance"]) for a in deposits if a["currency"] == "CNY")
    invested = int(holdings["market_value_minor"]) if holdings else 0
    active = [x for x in loans if x["status"] in ("active", "written_off")]
    dues = [x["next_due"] for x in active if x.get("next_due")]
    return {"total_minor": cash + invested, "cash_minor": cash, "wealth_minor": invested,
            "holdings": (holdings or {}).get("holdings", []), "pnl_minor": (holdings or {}).get("pnl_minor", 0),
            "pending_minor": (holdings or {}).get("pending_purchase_minor", 0),
            "deposits": deposits, "loans": active,
            "owed_minor": sum(int(x["outstanding_minor"]) for x in active),
            "next_due": min(dues, key=lambda d: d["due_date"]) if dues else None}


def _home_recommendations(actor: Principal) -> dict[str, Any] | None:
    """The top three of the customer's recommendations (slot ``portal_home``), in a unit of work of their
    own; the home page shows without them if the recommender cannot answer."""
    try:
        return db.run_in_transaction(lambda s: recommend.recommend(s, actor, slot="portal_home", n=3))
    except Exception:  # noqa: BLE001 - the accounts are what the home page is for
        log.exception("home page recommendations failed")
        return None


def history_filter(params: dict[str, str], *, cursor: str | None, limit: int) -> statements.HistoryFilter:
    kind = params.get("kind") or None
    if kind is not None and kind not in HISTORY_KINDS:
        raise forms.FormError("history.bad_kind")
    if cursor is not None and len(cursor) > 200:
        raise ValidationFailed("invalid cursor")
    return statements.HistoryFilter(
        date_from=forms.optional_date(params.get("date_from")), date_to=forms.optional_date(params.get("date_to")),
        kind=kind, min_amount_minor=forms.optional_amount(params.get("min_amount")),
        max_amount_minor=forms.optional_amount(params.get("max_amount")),
        counterparty=forms.short_text(params.get("counterparty"), 64) or None,
        q=forms.short_text(params.get("q"), 64) or None, cursor=cursor or None, limit=limit)


def _params(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTER_FIELDS}


def statement_months(today: date | None = None, count: int = 12) -> list[str]:
    d = today or clock.today()
    y, m = d.year, d.month
    out = []
    for _ in range(count):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out


@router.get("/accounts/{account_id}")
def account_history(request: Request, account_id: int, actor: Customer, cursor: str = "") -> Response:
    params = _params(request)
    lang = lang_of(request)
    error = None
    try:
        f = history_filter(params, cursor=cursor, limit=10 if is_elder(request) else 25)
    except SmartbankError as exc:
        f, error = None, forms.message(exc, lang)

    def work(s):
        acct = payments.owned_account(s, actor, account_id)
        if f is None:
            return views.account(acct), None, None
        try:
            page = statements.history(s, acct, f)
            payments.describe_postings(s, page["items"])
            postings.add_text(page["items"], lang)
            return views.account(acct), page, None
        except ValidationFailed as exc:
            return views.account(acct), None, exc

    account, page, history_error = db.run_in_transaction(work)
    if history_error is not None:
        error = forms.message(history_error, lang)
    active = {k: v for k, v in params.items() if v}
    more_url = first_url = None
    if page and page["next_cursor"]:
        more_url = f"/accounts/{account_id}?" + urlencode({**active, "cursor": page["next_cursor"]})
    if cursor:
        first_url = f"/accounts/{account_id}" + (f"?{urlencode(active)}" if active else "")
    csv_url = f"/accounts/{account_id}/transactions.csv" + (f"?{urlencode(active)}" if active else "")
    return render(request, "portal/account.html", account=account, items=page["items"] if page else [],
                  params=params, kinds=HISTORY_KINDS, error=error, more_url=more_url, first_url=first_url,
                  csv_url=csv_url, months=statement_months(), filtered=bool(active),
                  status_code=422 if error else 200)


@router.get("/accounts/{account_id}/transactions.csv")
def account_csv(request: Request, account_id: int, actor: Customer) -> Response:
    f = history_filter(_params(request), cursor=None, limit=500)
    body = db.run_in_transaction(
        lambda s: statements.export_csv(s, payments.owned_account(s, actor, account_id), f))
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="transactions-{account_id}.csv"'})


@router.get("/accounts/{account_id}/statement")
def account_statement(request: Request, account_id: int, actor: Customer, month: str = "") -> Response:
    try:
        year, mon = (int(x) for x in month.split("-"))
    except ValueError as exc:
        raise forms.FormError("statement.bad_month") from exc

    def work(s):
        a = payments.owned_account(s, actor, account_id)
        owner = customers.get_customer(s, a.customer_id).name if a.customer_id else ""
        return statements.statement_pdf(s, a, owner, year, mon)

    pdf = db.run_in_transaction(work)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="statement-{account_id}-{year}-{mon:02d}.pdf"'})


@router.get("/transfers/{transfer_id}")
def receipt(request: Request, transfer_id: int, actor: Customer) -> Response:
    def work(s):
        r = payments.transfer_receipt(s, actor, transfer_id)
        b = r.biller
        biller = {"name_zh": b.name_zh, "name_en": b.name_en, "category": b.category} if b is not None else None
        t = dict(r.transfer)
        t["describe"] = payments.describe_posting(t["kind"], t.get("memo"), t.get("meta"),
                                                  {b.code: b} if b is not None else None)
        t["text"] = postings.text(t, lang_of(request))
        return r, t, views.account(r.mine), biller

    r, t, mine, biller = db.run_in_transaction(work)
    return render(request, "portal/receipt.html", transfer=t, outgoing=r.outgoing, mine=mine,
                  other={"number": r.other_number, "internal": r.other_internal}, biller=biller,
                  meta=t.get("meta") or {})
