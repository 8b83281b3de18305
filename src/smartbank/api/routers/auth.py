"""Sign-in (password, then the second factor when one is enrolled or owed), sign-up, sign-out; the caller's
own second factor, password, and sessions and devices."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import Field

from smartbank import db
from smartbank.api.deps import Actor, token_from
from smartbank.api.schemas import In, LoginIn, MeOut, Out, SignupIn, TokenOut
from smartbank.config import get_settings
from smartbank.customers import service as customers
from smartbank.http.password_reset import request_password_reset
from smartbank.http.session import client_address, login, user_agent
from smartbank.http.signup import Signup, sign_up
from smartbank.security import service as security

router = APIRouter(prefix="/auth", tags=["auth"])

Code = Field(min_length=6, max_length=16, description="a six-digit TOTP code, or a recovery code (xxxxx-xxxxx)")


def _token_out(token: str, user) -> TokenOut:
    return TokenOut(token=token, expires_in=get_settings().session_minutes * 60, role=user.role, user_id=user.id,
                    customer_id=user.customer_id)


class LoginOut(Out):
    """``status``: ``signed_in`` (``token`` is the session), ``mfa_required`` (send a code with
    ``pending_token`` to ``/auth/login/mfa``) or ``mfa_enrolment_required`` (a staff member without a second
    factor: add ``secret`` / ``otpauth_uri`` to an authenticator app and send its first code with
    ``pending_token`` to ``/auth/login/enrol``)."""

    status: Literal["signed_in", "mfa_required", "mfa_enrolment_required"]
    token: str | None = None
    token_type: str = "bearer"
    expires_in: int
    role: str | None = None
    user_id: int | None = None
    customer_id: int | None = None
    pending_token: str | None = None
    secret: str | None = None
    otpauth_uri: str | None = None


class SecondFactorIn(In):
    pending_token: str = Field(min_length=10, max_length=100)
    code: str = Code


class EnrolledOut(TokenOut):
    recovery_codes: list[str]


@router.post("/login", response_model=LoginOut, response_model_exclude_none=True)
def post_login(body: LoginIn, request: Request) -> LoginOut:
    got = login(body.username, body.password, address=client_address(request), agent=user_agent(request))
    if got.pending is None:
        u = got.user
        return LoginOut(status="signed_in", token=got.token, expires_in=get_settings().session_minutes * 60,
                        role=u.role, user_id=u.id, customer_id=u.customer_id)
    pending_in = security.PENDING_MINUTES * 60
    if got.pending == "mfa":
        return LoginOut(status="mfa_required", pending_token=got.token, expires_in=pending_in)
    enrol = db.run_in_transaction(lambda s: security.enrolment_at_sign_in(s, pending_token=got.token))
    return LoginOut(status="mfa_enrolment_required", pending_token=got.token, expires_in=pending_in,
                    secret=enrol.secret, otpauth_uri=enrol.uri)


@router.post("/login/mfa", response_model=TokenOut)
def post_login_mfa(body: SecondFactorIn) -> TokenOut:
    got = db.run_in_transaction(lambda s: security.complete_sign_in(s, pending_token=body.pending_token,
                                                                    code=body.code))
    return _token_out(got.token, got.user)


@router.post("/login/enrol", response_model=EnrolledOut)
def post_login_enrol(body: SecondFactorIn) -> EnrolledOut:
    got, codes = db.run_in_transaction(lambda s: security.confirm_enrolment_at_sign_in(
        s, pending_token=body.pending_token, code=body.code))
    return EnrolledOut(**_token_out(got.token, got.user).model_dump(), recovery_codes=codes)


@router.post("/signup", response_model=TokenOut, status_code=201)
def post_signup(body: SignupIn, request: Request) -> TokenOut:
    db.run_in_transaction(lambda s: sign_up(s, Signup(name=body.name, id_number=body.id_number, phone=body.phone,
                                                      username=body.username, password=body.password,
                                                      email=body.email)))
    got = login(body.username, body.password, address=client_address(request), agent=user_agent(request))
    return _token_out(got.token, got.user)


@router.post("/logout", status_code=204)
def post_logout(request: Request, actor: Actor) -> None:
    token = token_from(request)
    if token:
        db.run_in_transaction(lambda s: security.sign_out(s, token))


@router.get("/me", response_model=MeOut)
def get_me(actor: Actor) -> MeOut:
    return MeOut(user_id=actor.user_id, username=actor.username, role=actor.role, customer_id=actor.customer_id,
                 display_name=actor.display_name)


# --- the second factor ---------------------------------------------------------------------------------


class MfaOut(Out):
    enrolled: bool
    required: bool
    recovery_codes_left: int


class MfaEnrolOut(Out):
    secret: str
    otpauth_uri: str


class CodeIn(In):
    code: str = Code


class MfaDisableIn(In):
    password: str = Field(min_length=1, max_length=128)
    code: str = Code


class RecoveryCodesOut(Out):
    recovery_codes: list[str]


@router.get("/mfa", response_model=MfaOut)
def get_mfa(actor: Actor) -> MfaOut:
    st = db.run_read(lambda s: security.mfa_status(s, actor))
    return MfaOut(enrolled=st.enrolled, required=st.required, recovery_codes_left=st.recovery_codes_left)


@router.post("/mfa/enrol", response_model=MfaEnrolOut)
def post_mfa_enrol(actor: Actor) -> MfaEnrolOut:
    e = db.run_in_transaction(lambda s: security.begin_mfa(s, actor))
    return MfaEnrolOut(secret=e.secret, otpauth_uri=e.uri)


@router.post("/mfa/confirm", response_model=RecoveryCodesOut)
def post_mfa_confirm(body: CodeIn, actor: Actor) -> RecoveryCodesOut:
    return RecoveryCodesOut(recovery_codes=db.run_in_transaction(lambda s: security.confirm_mfa(s, actor,
                                                                                               code=body.code)))


@router.post("/mfa/disable", status_code=204)
def post_mfa_disable(body: MfaDisableIn, actor: Actor) -> None:
    db.run_in_transaction(lambda s: security.disable_mfa(s, actor, password=body.password, code=body.code))


@router.post("/mfa/recovery-codes", response_model=RecoveryCodesOut)
def post_recovery_codes(body: CodeIn, actor: Actor) -> RecoveryCodesOut:
    return RecoveryCodesOut(recovery_codes=db.run_in_transaction(
        lambda s: security.new_recovery_codes(s, actor, code=body.code)))


# --- passwords -----------------------------------------------------------------------------------------


class PasswordChangeIn(In):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class PasswordChangeOut(Out):
    sessions_ended: int


class ResetRequestIn(In):
    username: str = Field(min_length=1, max_length=64)


class ResetConfirmIn(In):
    username: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")
    new_password: str = Field(min_length=1, max_length=128)


class ResetRequestOut(Out):
    message: str


@router.post("/password", response_model=PasswordChangeOut)
def post_password(body: PasswordChangeIn, request: Request, actor: Actor) -> PasswordChangeOut:
    """Change one's own password; every other session ends (this one stays)."""
    token = token_from(request)
    n = db.run_in_transaction(lambda s: security.change_password(s, actor, current=body.current_password,
                                                                 new=body.new_password, keep_token=token))
    return PasswordChangeOut(sessions_ended=n)


@router.post("/password-reset", response_model=ResetRequestOut, status_code=202)
def post_password_reset(body: ResetRequestIn, request: Request) -> ResetRequestOut:
    """Ask for a reset code by text message to the phone on file. The answer is the same whether or not the
    name exists (no user enumeration)."""
    request_password_reset(body.username, address=client_address(request))
    return ResetRequestOut(message="if that sign-in exists and has a phone number, a code is on its way")


@router.post("/password-reset/confirm", status_code=204)
def post_password_reset_confirm(body: ResetConfirmIn) -> None:
    """Set a new password with the code; every session of the user ends."""
    db.run_in_transaction(lambda s: security.finish_password_reset(s, username=body.username, code=body.code,
                                                                   new_password=body.new_password))


# --- sessions and devices ------------------------------------------------------------------------------


class SessionOut(Out):
    id: str
    created_at: str
    last_seen_at: str | None
    expires_at: str
    user_agent: str | None
    address: str | None
    current: bool


def _session_out(i: security.SessionInfo) -> SessionOut:
    return SessionOut(id=i.id, created_at=i.created_at.isoformat(),
                      last_seen_at=i.last_seen_at.isoformat() if i.last_seen_at else None,
                      expires_at=i.expires_at.isoformat(), user_agent=i.user_agent, address=i.address,
                      current=i.current)


@router.get("/sessions", response_model=list[SessionOut])
def get_sessions(request: Request, actor: Actor) -> list[SessionOut]:
    token = token_from(request)
    return [_session_out(i) for i in db.run_read(lambda s: security.list_sessions(s, actor, current_token=token))]


@router.delete("/sessions/{session_id}", status_code=204)
def delete_session(session_id: str, actor: Actor) -> None:
    db.run_in_transaction(lambda s: security.revoke_session(s, actor, session_id=session_id[:64]))


# --- a customer's own high-risk changes (step-up) ----------------------------------------------------------


class PhoneChangeIn(In):
    phone: str = Field(min_length=5, max_length=20)
    step_up_code: str | None = Field(default=None, min_length=6, max_length=16)


class DailyLimitSelfIn(In):
    limit_minor: int = Field(ge=0, le=customers.SELF_MAX_DAILY_LIMIT_MINOR, strict=True)
    step_up_code: str | None = Field(default=None, min_length=6, max_length=16)


class SelfSettingsOut(Out):
    phone: str | None
    daily_limit_minor: int | None


def _settings_out(c) -> SelfSettingsOut:
    return SelfSettingsOut(phone=security.mask_phone(c.phone), daily_limit_minor=c.daily_limit_minor)


@router.post("/phone", response_model=SelfSettingsOut)
def post_phone(body: PhoneChangeIn, actor: Actor) -> SelfSettingsOut:
    """Change the phone number on file: without ``step_up_code`` the answer is ``challenge_required`` (a code
    from the authenticator app, or one sent by text message to the current number); send it again with it."""
    return db.run_in_transaction(lambda s: _settings_out(customers.change_own_phone(
        s, actor, phone=body.phone, step_up_code=body.step_up_code)))


@router.post("/daily-limit", response_model=SelfSettingsOut)
def post_daily_limit(body: DailyLimitSelfIn, actor: Actor) -> SelfSettingsOut:
    """Set one's own daily payment limit; raising it needs a step-up (as for the phone number)."""
    return db.run_in_transaction(lambda s: _settings_out(customers.set_own_daily_limit(
        s, actor, limit_minor=body.limit_minor, step_up_code=body.step_up_code)))
