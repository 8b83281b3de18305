from __future__ import annotations

from fastapi import APIRouter, Request

from smartbank import db
from smartbank.api.deps import Actor, token_from
from smartbank.api.schemas import LoginIn, MeOut, SignupIn, TokenOut
from smartbank.config import get_settings
from smartbank.http.session import client_address, login
from smartbank.http.signup import Signup, sign_up
from smartbank.security import service as security

router = APIRouter(prefix="/auth", tags=["auth"])


def _token_out(token: str, user) -> TokenOut:
    return TokenOut(token=token, expires_in=get_settings().session_minutes * 60, role=user.role, user_id=user.id,
                    customer_id=user.customer_id)


@router.post("/login", response_model=TokenOut)
def post_login(body: LoginIn, request: Request) -> TokenOut:
    token, user = login(body.username, body.password, address=client_address(request))
    return _token_out(token, user)


@router.post("/signup", response_model=TokenOut, status_code=201)
def post_signup(body: SignupIn, request: Request) -> TokenOut:
    db.run_in_transaction(lambda s: sign_up(s, Signup(name=body.name, id_number=body.id_number, phone=body.phone,
                                                      username=body.username, password=body.password,
                                                      email=body.email)))
    token, user = login(body.username, body.password, address=client_address(request))
    return _token_out(token, user)


@router.post("/logout", status_code=204)
def post_logout(request: Request, actor: Actor) -> None:
    token = token_from(request)
    if token:
        db.run_in_transaction(lambda s: security.sign_out(s, token))


@router.get("/me", response_model=MeOut)
def get_me(actor: Actor) -> MeOut:
    return MeOut(user_id=actor.user_id, username=actor.username, role=actor.role, customer_id=actor.customer_id,
                 display_name=actor.display_name)
