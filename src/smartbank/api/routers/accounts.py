from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from smartbank.api.deps import Actor, PathId, QueryId, uow
from smartbank.api.schemas import AccountOut, HistoryOut
from smartbank.customers import service as customers
from smartbank.money import MAX_MINOR
from smartbank.payments import service as payments
from smartbank.statements import service as statements

router = APIRouter(tags=["accounts"])
AmountFilter = Annotated[int | None, Query(ge=0, le=MAX_MINOR)]
HISTORY = "account.history.read"  # staff reading any customer's transactions and statements (audited)


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(actor: Actor, customer_id: QueryId = None) -> list[AccountOut]:
    return uow(lambda s: [AccountOut.of(a) for a in payments.list_accounts(s, actor, customer_id)])


@router.get("/accounts/{account_id}", response_model=AccountOut)
def get_account(account_id: PathId, actor: Actor) -> AccountOut:
    return uow(lambda s: AccountOut.of(payments.owned_account(s, actor, account_id)))


def _filter(date_from, date_to, kind, min_amount_minor, max_amount_minor, counterparty, q, cursor, limit):
    return statements.HistoryFilter(date_from=date_from, date_to=date_to, kind=kind,
                                    min_amount_minor=min_amount_minor, max_amount_minor=max_amount_minor,
                                    counterparty=counterparty, q=q, cursor=cursor, limit=limit)


@router.get("/accounts/{account_id}/transactions", response_model=HistoryOut)
def history(
    account_id: PathId, actor: Actor, date_from: date | None = None, date_to: date | None = None,
    kind: str | None = Query(None, max_length=24), min_amount_minor: AmountFilter = None,
    max_amount_minor: AmountFilter = None, counterparty: str | None = Query(None, max_length=64),
    q: str | None = Query(None, max_length=64), cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=500),
) -> HistoryOut:
    f = _filter(date_from, date_to, kind, min_amount_minor, max_amount_minor, counterparty, q, cursor, limit)
    return uow(lambda s: HistoryOut(**statements.history(
        s, payments.owned_account(s, actor, account_id, permission=HISTORY), f)))


@router.get("/accounts/{account_id}/transactions.csv", response_class=Response)
def history_csv(
    account_id: PathId, actor: Actor, date_from: date | None = None, date_to: date | None = None,
    kind: str | None = Query(None, max_length=24), min_amount_minor: AmountFilter = None,
    max_amount_minor: AmountFilter = None, counterparty: str | None = Query(None, max_length=64),
    q: str | None = Query(None, max_length=64),
) -> Response:
    f = _filter(date_from, date_to, kind, min_amount_minor, max_amount_minor, counterparty, q, None, 500)
    body = uow(lambda s: statements.export_csv(
        s, payments.owned_account(s, actor, account_id, permission=HISTORY), f, role=actor.role))
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="transactions-{account_id}.csv"'})


@router.get("/accounts/{account_id}/statements/{year}/{month}", response_class=Response)
def statement(account_id: PathId, year: int, month: int, actor: Actor) -> Response:
    def work(s):
        a = payments.owned_account(s, actor, account_id, permission=HISTORY)
        owner = customers.get_customer(s, a.customer_id).name if a.customer_id else "smartbank"
        return statements.statement_pdf(s, a, owner, year, month)

    pdf = uow(work)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="statement-{account_id}-{year}-{month:02d}.pdf"'})
