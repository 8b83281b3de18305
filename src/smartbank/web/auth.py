"""Sign-in, sign-up and sign-out for the portal and the operator console; who is calling."""

from __future__ import annotations

import functools
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import NotAuthenticated, SecondFactorFailed, SmartbankError, TooManyAttempts
from smartbank.http.access import authorize
from smartbank.http.session import COOKIE as SESSION_COOKIE
from smartbank.http.session import PENDING_COOKIE, client_address, login, user_agent
from smartbank.http.signup import Signup, sign_up
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.web.i18n import error_text, lang_of, translate
from smartbank.web.render import render, safe_next
from smartbank.web.routing import web_router

router = web_router()


def _principal(request: Request) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotAuthenticated("sign in first")
    try:
        return db.run_in_transaction(lambda s: security.authenticate(s, token))
    except NotAuthenticated:
        request.state.session_invalid = True
        raise


def customer_principal(request: Request) -> Principal:
    p = _principal(request)
    if p.is_staff or p.customer_id is None:
        raise NotAuthenticated("customers sign in here")
    authorize(request, p)
    request.state.principal = p
    return p


def staff_principal(request: Request) -> Principal:
    """A signed-in staff member, admitted to this page by the permission table (403 otherwise)."""
    p = _principal(request)
    if not p.is_staff:
        raise NotAuthenticated("staff sign in here")
    authorize(request, p)
    request.state.principal = p
    return p


def me(actor: Principal) -> int:
    """The signed-in customer's id (``customer_principal`` guarantees there is one)."""
    if actor.customer_id is None:
        raise NotAuthenticated("customers sign in here")
    return actor.customer_id


Customer = Annotated[Principal, Depends(customer_principal)]
Staff = Annotated[Principal, Depends(staff_principal)]


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def _login_page(request: Request, area: str, *, next_url: str = "", username: str = "", error: str | None = None,
                status_code: int = 200) -> Response:
    return render(request, "auth/login.html", status_code=status_code, area=area, next_url=next_url,
                  username=username, error=error,
                  here=None if request.method == "GET" else ("/console/login" if area == "console" else "/login"))


def _target(area: str, next_url: str) -> str:
    home = "/console" if area == "console" else "/"
    target = safe_next(next_url, home)
    if not target.startswith(home) or (area == "portal" and target.startswith("/console")):
        target = home
    return target


def _sign_in(request: Request, area: str, username: str, password: str, next_url: str) -> Response:
    try:
        got = login(username.strip(), password, staff=area == "console", address=client_address(request),
                    agent=user_agent(request))
    except (NotAuthenticated, TooManyAttempts) as exc:
        return _login_page(request, area, next_url=next_url, username=username,
                           error=error_text(exc, lang_of(request)), status_code=exc.status_code)
    if got.pending is not None:
        # the password was right: the second step (a code, or a staff member's enrolment) comes next
        base = "/console/login" if area == "console" else "/login"
        step = "mfa" if got.pending == "mfa" else "enrol"
        response = RedirectResponse(f"{base}/{step}?next={quote(_target(area, next_url), safe='')}",
                                    status_code=303)
        response.set_cookie(PENDING_COOKIE, got.token, httponly=True, samesite="lax", path="/",
                            max_age=security.PENDING_MINUTES * 60, secure=request.url.scheme == "https")
        return response
    response = RedirectResponse(_target(area, next_url), status_code=303)
    set_session_cookie(request, response, got.token)
    return response


def _signed_in(request: Request, area: str, token: str, next_url: str) -> Response:
    response = RedirectResponse(_target(area, next_url), status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


class _NoPendingSignIn(Exception):
    """The second step without a first one (or after it expired): back to the sign-in form, saying so."""


def _pending(request: Request) -> str:
    token = request.cookies.get(PENDING_COOKIE)
    if not token:
        raise _NoPendingSignIn
    return token


def _restart(area: str) -> Response:
    response = RedirectResponse(("/console/login" if area == "console" else "/login") + "?notice=sign_in_expired",
                                status_code=303)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _second_step(area: str):
    """Decorate a second-step page: no pending sign-in (or an expired one) starts the sign-in again."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except _NoPendingSignIn:
                return _restart(area)
            except NotAuthenticated:
                return _restart(area)
        return inner
    return wrap


def _mfa_page(request: Request, area: str, next_url: str, error: str | None = None,
              status_code: int = 200) -> Response:
    return render(request, "auth/mfa.html", status_code=status_code, area=area, next_url=next_url, error=error,
                  error_field="code" if error else None,
                  action="/console/login/mfa" if area == "console" else "/login/mfa")


def _mfa_step(request: Request, area: str, code: str, next_url: str) -> Response:
    token = _pending(request)
    try:
        got = db.run_in_transaction(lambda s: security.complete_sign_in(s, pending_token=token, code=code,
                                                                        area=area))
    except (SecondFactorFailed, TooManyAttempts) as exc:
        return _mfa_page(request, area, next_url, error_text(exc, lang_of(request)), exc.status_code)
    return _signed_in(request, area, got.token, next_url)


@router.get("/login/mfa")
@_second_step("portal")
def get_login_mfa(request: Request, next: str = "") -> Response:
    _pending(request)
    return _mfa_page(request, "portal", next)


@router.post("/login/mfa")
@_second_step("portal")
def post_login_mfa(request: Request, code: Annotated[str, Form(max_length=32)] = "",
                   next: Annotated[str, Form()] = "") -> Response:
    return _mfa_step(request, "portal", code, next)


@router.get("/console/login/mfa")
@_second_step("console")
def get_console_login_mfa(request: Request, next: str = "") -> Response:
    _pending(request)
    return _mfa_page(request, "console", next)


@router.post("/console/login/mfa")
@_second_step("console")
def post_console_login_mfa(request: Request, code: Annotated[str, Form(max_length=32)] = "",
                           next: Annotated[str, Form()] = "") -> Response:
    return _mfa_step(request, "console", code, next)


def _enrol_page(request: Request, next_url: str, error: str | None = None, status_code: int = 200) -> Response:
    token = _pending(request)
    enrol = db.run_in_transaction(lambda s: security.enrolment_at_sign_in(s, pending_token=token))
    return render(request, "auth/enrol.html", status_code=status_code, area="console", next_url=next_url,
                  error=error, error_field="code" if error else None, secret=enrol.secret, uri=enrol.uri,
                  qr=Markup(enrol.qr_svg()),
                  action="/console/login/enrol")


@router.get("/console/login/enrol")
@_second_step("console")
def get_console_login_enrol(request: Request, next: str = "") -> Response:
    return _enrol_page(request, next)


@router.post("/console/login/enrol")
@_second_step("console")
def post_console_login_enrol(request: Request, code: Annotated[str, Form(max_length=32)] = "",
                             next: Annotated[str, Form()] = "") -> Response:
    token = _pending(request)
    try:
        got, codes = db.run_in_transaction(lambda s: security.confirm_enrolment_at_sign_in(
            s, pending_token=token, code=code, area="console"))
    except (SecondFactorFailed, TooManyAttempts) as exc:
        return _enrol_page(request, next, error_text(exc, lang_of(request)), exc.status_code)
    # the recovery codes are shown once, on the page that opens the new session
    response = render(request, "auth/recovery_codes.html", area="console", codes=codes,
                      continue_to=_target("console", next))
    set_session_cookie(request, response, got.token)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _sign_out(request: Request, to: str) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        db.run_in_transaction(lambda s: security.sign_out(s, token))
    response = RedirectResponse(f"{to}?notice=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/login")
def get_login(request: Request, next: str = "") -> Response:
    return _login_page(request, "portal", next_url=next)


@router.post("/login")
def post_login(request: Request, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
               next: Annotated[str, Form()] = "") -> Response:
    return _sign_in(request, "portal", username, password, next)


@router.get("/console/login")
def get_console_login(request: Request, next: str = "") -> Response:
    return _login_page(request, "console", next_url=next)


@router.post("/console/login")
def post_console_login(request: Request, username: Annotated[str, Form()] = "",
                       password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    return _sign_in(request, "console", username, password, next)


@router.post("/logout")
def post_logout(request: Request) -> Response:
    return _sign_out(request, "/login")


@router.post("/console/logout")
def post_console_logout(request: Request) -> Response:
    return _sign_out(request, "/console/login")


SIGNUP_FIELDS = ("name", "id_number", "phone", "email", "username")


@router.get("/signup")
def get_signup(request: Request) -> Response:
    return render(request, "auth/signup.html", area="portal", values=dict.fromkeys(SIGNUP_FIELDS, ""))


@router.post("/signup")
def post_signup(request: Request, name: Annotated[str, Form()] = "", id_number: Annotated[str, Form()] = "",
                phone: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                password2: Annotated[str, Form()] = "") -> Response:
    values = {"name": name, "id_number": id_number, "phone": phone, "email": email, "username": username}
    lang = lang_of(request)

    def again(error: str, status_code: int = 422) -> Response:
        return render(request, "auth/signup.html", status_code=status_code, area="portal", values=values,
                      error=error)

    if password != password2:
        return again(translate(lang, "signup.password_mismatch"))
    cmd = Signup(name=name, id_number=id_number, phone=phone, username=username.strip(), password=password,
                 email=email.strip() or None)
    try:
        db.run_in_transaction(lambda s: sign_up(s, cmd))
        token = login(cmd.username, password, staff=False, address=client_address(request),
                      agent=user_agent(request)).token
    except SmartbankError as exc:
        return again(error_text(exc, lang), exc.status_code)
    response = RedirectResponse("/?notice=welcome", status_code=303)
    set_session_cookie(request, response, token)
    return response
