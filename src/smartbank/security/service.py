"""Identity and access: users, sign-in with throttling, expiring sessions, authorisation, audit.

The front door of the security domain: other domains and the entry points import only this module
(:data:`__all__`), which also re-exports the permission table (:mod:`.permissions`), the masking policy
(:mod:`.masking`) and the ``User`` model outsiders look users up with."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Boolean, DateTime, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.db import aware as _aware
from smartbank.errors import (
    Conflict,
    Forbidden,
    NotAuthenticated,
    NotFound,
    SecondFactorFailed,
    TooManyAttempts,
    ValidationFailed,
    WrongCode,
)
from smartbank.logs import request_id_var  # the request being served: an audit record names it
from smartbank.security import mfa, permissions
from smartbank.security.keyring import (
    DecryptionError,
    EncryptedColumnCompared,
    EncryptedText,
    KeyProvider,
    KeyRingError,
    LocalKeyProvider,
    blind_index,
    create_data_key,
    data_keys,
    decrypt_bytes,
    decrypt_standalone,
    decrypt_text,
    encrypt_bytes,
    encrypt_standalone,
    encrypt_text,
    key_provider,
    keys_of,
    normalise_for_index,
    reset_key_cache,
    use_key_provider,
)
from smartbank.security.masking import FIELDS as PII_FIELDS
from smartbank.security.masking import PURPOSES as MASKING_PURPOSES
from smartbank.security.masking import (
    REVEAL_FIELDS,
    REVEAL_ROLES,
    mask_account_number,
    mask_address,
    mask_birth_date,
    mask_card_number,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_value,
    may_reveal,
    present,
    present_record,
)
from smartbank.security.masking import rule as masking_rule
from smartbank.security.models import (
    ROLES,
    STAFF_ROLES,
    AuditLog,
    AuthSession,
    DataKey,
    LoginThrottle,
    OtpChallenge,
    User,
)
from smartbank.security.password_policy import check_password_policy
from smartbank.security.passwords import dummy_verify, hash_password, verify_password
from smartbank.security.permissions import (
    PERMISSIONS,
    PUBLIC,
    ROUTES,
    SIGNED_IN,
    STAFF,
    allows,
    roles_for,
    route_access,
    route_roles,
)
from smartbank.security.rotation import RotationReport, encrypted_columns, reencrypt, rotate, rows_per_version

__all__ = [
    # who is acting
    "SYSTEM", "Principal", "ROLES", "STAFF_ROLES", "User",
    # users, sign-in, sessions
    "GLOBAL_THROTTLE_KEY", "authenticate", "check_password_strength", "client_key", "count_users", "create_user",
    "display_names", "expire_token_now", "find_user", "find_user_by_name", "hash_password", "sign_in", "sign_out",
    "principal_of", "user_of_customer",
    # a customer whose relationship ended (privacy: a deletion request)
    "disable_customer_users",
    # staff roles and activation (changed only through the back office's maker-checker)
    "set_user_active", "set_user_role", "staff_state",
    # the permission table
    "PERMISSIONS", "PUBLIC", "ROUTES", "SIGNED_IN", "STAFF", "allows", "roles_for", "route_access", "route_roles",
    # strong identity: second factor, step-up, passwords, sessions and devices
    "LAST_SEEN_EVERY", "OTP_MINUTES", "PENDING_MINUTES", "RESET_PURPOSE", "MfaStatus", "SessionInfo", "SignIn",
    "begin_mfa", "check_password_policy", "check_step_up", "check_totp", "coarse_address", "change_password",
    "complete_sign_in", "confirm_enrolment_at_sign_in", "has_second_factor", "confirm_mfa", "demo_totp_code",
    "disable_mfa", "enrol_demo_mfa",
    "enrolment_at_sign_in", "finish_password_reset", "issue_sms_code", "list_sessions", "mfa_status",
    "new_recovery_codes", "pending_mfa", "reset_mfa", "revoke_other_sessions", "revoke_session",
    "start_password_reset", "step_up_method", "verify_second_factor",
    # audit
    "audit", "audit_reads", "audit_trail", "recently_opened", "request_id_var",
    # the masking policy (role x purpose x field) and break-glass reveal rights
    "MASKING_PURPOSES", "PII_FIELDS", "REVEAL_FIELDS", "REVEAL_ROLES", "mask_account_number", "mask_address",
    "mask_birth_date", "mask_card_number", "mask_email", "mask_id_number", "mask_name", "mask_phone", "mask_value",
    "masking_rule", "may_reveal", "present", "present_record",
    # encryption at rest: the key ring (master key behind a KeyProvider, versioned data keys), AES-GCM, blind index
    "DataKey", "DecryptionError", "EncryptedColumnCompared", "EncryptedText", "KeyProvider", "KeyRingError",
    "LocalKeyProvider", "blind_index",
    "create_data_key", "data_keys", "decrypt_bytes", "decrypt_text", "encrypt_bytes", "encrypt_text",
    "decrypt_standalone", "encrypt_standalone",
    "key_provider", "keys_of", "normalise_for_index", "reset_key_cache", "use_key_provider",
    # data-key rotation, online and resumable
    "RotationReport", "encrypted_columns", "reencrypt", "rotate_data_key", "rows_per_version",
]

rotate_data_key = rotate

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")


def _now() -> datetime:
    return clock.now()


PENDING_MINUTES = 5  # a password checked, a second factor owed: this long to give it
LAST_SEEN_EVERY = timedelta(minutes=5)


class SignIn(NamedTuple):
    """A sign-in: ``pending`` None is a session; ``"mfa"`` / ``"enrol"`` a token that can only finish it."""

    token: str
    user: User
    pending: str | None


@dataclass(frozen=True)
class Principal:
    """Who is acting: resolved from a session token by the entry point."""

    user_id: int
    username: str
    role: str
    customer_id: int | None
    display_name: str = ""

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def can(self, permission: str) -> bool:
        """Whether this principal's role holds ``permission`` in the permission table."""
        return permissions.allows(self.role, permission)

    def require(self, permission: str) -> None:
        if not permissions.allows(self.role, permission):
            raise Forbidden("your role may not do this",
                            details={"role": self.role, "needs": list(permissions.roles_for(permission))})

    def require_role(self, *roles: str) -> None:
        """``roles``: a permission's roles from the table (``permissions.roles_for``), which lists ``admin``
        wherever an administrator may act; an administrator passes no other check."""
        if self.role not in roles:
            raise Forbidden("your role may not do this", details={"role": self.role, "needs": list(roles)})

    def require_staff(self) -> None:
        if not self.is_staff:
            raise Forbidden("staff only")


SYSTEM = Principal(user_id=0, username="system", role="admin", customer_id=None, display_name="system")


def check_password_strength(password: str) -> None:
    if len(password) < 8 or len(password) > 128:
        raise ValidationFailed("a password needs 8-128 characters")
    if password.isdigit() or password.isalpha():
        raise ValidationFailed("a password needs both letters and digits")


def create_user(session: Session, *, username: str, password: str, role: str, customer_id: int | None = None,
                display_name: str = "", check_strength: bool = True, password_hash: str | None = None) -> User:
    if not _USERNAME.match(username or ""):
        raise ValidationFailed("a username has 3-64 letters, digits or . _ @ -", details={"username": username})
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}", reason="security.unknown_role", details={"roles": list(ROLES)})
    if role == "customer" and customer_id is None:
        raise ValidationFailed("a customer user must belong to a customer")
    if role != "customer" and customer_id is not None:
        raise ValidationFailed("staff users do not belong to a customer")
    if check_strength:
        check_password_strength(password)
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict("that username is taken", details={"username": username})
    u = User(username=username, password_hash=password_hash or hash_password(password), role=role,
             customer_id=customer_id, display_name=display_name or username, is_active=True, failed_logins=0)
    session.add(u)
    try:
        session.flush()
    except IntegrityError as exc:  # the same username created concurrently, after the check above
        raise Conflict("that username is taken", details={"username": username}) from exc
    return u


def find_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def find_user_by_name(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def user_of_customer(session: Session, customer_id: int) -> User | None:
    """The customer's first user (the one sign-up created)."""
    return session.scalars(select(User).where(User.customer_id == customer_id).order_by(User.id)).first()


def display_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Each user's display name (or username), for staff pages that show who did what."""
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username, User.display_name).where(User.id.in_(ids)))
    return {r.id: (r.display_name or r.username) for r in rows}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


GLOBAL_THROTTLE_KEY = "*"


def client_key(address: str | None) -> str:
    """The client address as throttling sees it: an IPv6 address by its /64 (one subscriber's block, which
    its owner can fill with as many addresses as it likes), anything else as given."""
    addr = (address or "unknown").strip()[:64] or "unknown"
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _pair_key(username: str, address: str) -> str:
    # an HMAC of the typed name: unknown names (and passwords typed into the name field) are not stored
    name = hmac.new(get_settings().secret_key.encode(), username.encode(), hashlib.sha256).hexdigest()[:32]
    return f"u:{name}@{address}"[:100]


def _throttle(session: Session, key: str, now: datetime, *, lock: bool) -> LoginThrottle | None:
    """The throttle row of ``key``; with ``lock``, created when missing and locked (FOR UPDATE) until commit."""
    if not lock:
        return session.get(LoginThrottle, key)
    dialect = session.get_bind().dialect.name
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(ins(LoginThrottle).values(key=key, failures=0, window_start=now).on_conflict_do_nothing())
    return session.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
                           .execution_options(populate_existing=True)).one()


def _blocked(row: LoginThrottle | None, now: datetime) -> datetime | None:
    until = _aware(row.blocked_until) if row is not None else None
    return until if until is not None and until > now else None


def _count_failure(row: LoginThrottle, now: datetime, window: timedelta, limit: int) -> None:
    """One more failure in the row's window (a fixed window from its first failure); at ``limit`` the key is
    blocked for one window and its count starts again."""
    if _aware(row.window_start) + window <= now:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures >= limit:
        row.blocked_until = now + window
        row.failures, row.window_start = 0, now


def _purge_throttle(session: Session, now: datetime, window: timedelta) -> None:
    """Forget keys whose window and block have both passed (run when the global window starts again)."""
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.key != GLOBAL_THROTTLE_KEY, LoginThrottle.window_start < now - window,
        (LoginThrottle.blocked_until.is_(None)) | (LoginThrottle.blocked_until < now)))


def sign_in(session: Session, *, username: str, password: str, staff: bool | None = None,
            address: str | None = None, user_agent: str | None = None) -> SignIn:
    """Check the password and open a session, throttling failed attempts.

    Failures are counted per (typed username, client address), per client address and for the whole bank,
    never per user alone: a stranger who types a customer's name with wrong passwords blocks only their own
    address, and the customer still signs in from theirs. A blocked key answers 429 before any password is
    checked, identically for known and unknown names. While the whole bank sees an unusual number of
    failures (the global key is blocked), each pair and address gets fewer attempts.

    The counters are written even when the sign-in fails, so the caller must commit on
    :class:`NotAuthenticated` too (see the API and web entry points).

    A right password opens a session only for a customer without a second factor. Otherwise the answer's
    ``pending`` is ``"mfa"`` (a TOTP or recovery code is owed: :func:`complete_sign_in`) or, for a staff member
    who has none yet, ``"enrol"`` (:func:`enrolment_at_sign_in`, :func:`confirm_enrolment_at_sign_in`), and its
    token - valid for :data:`PENDING_MINUTES` - can do nothing else.
    """
    s = get_settings()
    now = _now()
    window = timedelta(minutes=s.login_lock_minutes)
    addr = client_key(address)
    # FOR UPDATE on the pair: concurrent attempts on one name from one address take turns, so each sees the
    # failures counted before it (otherwise parallel guesses all read the same counter and outrun the limit)
    pair = _throttle(session, _pair_key(username, addr), now, lock=True)
    assert pair is not None
    per_address = _throttle(session, "a:" + addr, now, lock=False)
    under_attack = _blocked(_throttle(session, GLOBAL_THROTTLE_KEY, now, lock=False), now) is not None
    until = max((u for u in (_blocked(pair, now), _blocked(per_address, now)) if u is not None), default=None)
    if until is not None:
        raise TooManyAttempts("too many failed sign-ins; try again later",
                              details={"retry_after_seconds": max(1, int((until - now).total_seconds()))})
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        dummy_verify(password)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        _count_failure(pair, now, window, s.login_alert_max_failures if under_attack else s.login_max_failures)
        per_address = _throttle(session, "a:" + addr, now, lock=True)
        assert per_address is not None
        _count_failure(per_address, now, window,
                       s.login_max_failures if under_attack else s.login_address_max_failures)
        bank = _throttle(session, GLOBAL_THROTTLE_KEY, now, lock=True)
        assert bank is not None
        if _aware(bank.window_start) + window <= now:
            _purge_throttle(session, now, window)
        _count_failure(bank, now, window, s.login_global_max_failures)
        session.flush()
        raise NotAuthenticated("wrong username or password")
    if staff is True and user.role not in STAFF_ROLES:
        raise NotAuthenticated("this sign-in is for bank staff")
    if staff is False and user.role != "customer":
        raise NotAuthenticated("staff sign in at the operator console")
    pair.failures = 0
    area = None if staff is None else ("console" if staff else "portal")
    pending = "mfa" if mfa.is_enrolled(session, user.id) else ("enrol" if user.role in STAFF_ROLES else None)
    if pending is not None:
        # the password was right; the second factor is still owed: a short-lived token that can do nothing but
        # finish this sign-in (or enrol the factor a staff member must have)
        token = _open_session(session, user, now=now, minutes=PENDING_MINUTES, pending=pending, address=addr,
                              user_agent=user_agent)
        return SignIn(token, user, pending)
    token = _open_session(session, user, now=now, minutes=s.session_minutes, pending=None, address=addr,
                          user_agent=user_agent, area=area)
    return SignIn(token, user, None)


def _open_session(session: Session, user: User, *, now: datetime, minutes: int, pending: str | None,
                  address: str, user_agent: str | None, area: str | None = None,
                  second_factor: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=minutes)
    session.add(AuthSession(token_hash=_token_hash(token), user_id=user.id, created_at=now, expires_at=expires,
                            revoked=False, pending=pending, address=coarse_address(address),
                            user_agent=(user_agent or "")[:200] or None, last_seen_at=now))
    session.flush()
    if pending is None:
        # a new session is a new way to act as this person: on record, with where it came from (a refused
        # sign-in is counted by the throttle, not recorded here)
        audit(session, principal_of(user), action="auth.sign_in", object_type="user", object_id=user.id,
              after={"session": _session_ref(token), "expires_at": expires.isoformat(), "address": address,
                     "area": area, "second_factor": second_factor})
    return token


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=user.role, customer_id=user.customer_id,
                     display_name=user.display_name)


def _session_ref(token: str) -> str:
    """How the audit log names a session: the start of its token's SHA-256 (never the token)."""
    return _token_hash(token)[:16]


# every request runs this: a plain statement, compiled once (no ORM query building per call)
_AUTHENTICATE = text(
    "SELECT s.token_hash, s.expires_at, s.revoked, s.pending, s.last_seen_at, u.id, u.username, u.role,"
    " u.customer_id, u.display_name, u.is_active FROM auth_sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.token_hash = :h"
).columns(expires_at=DateTime(timezone=True), last_seen_at=DateTime(timezone=True), revoked=Boolean(),
          is_active=Boolean())


def authenticate(session: Session, token: str | None, *, touch: bool = True) -> Principal:
    """Resolve a session token to its principal (one query; a write only to slide the expiry)."""
    if not token:
        raise NotAuthenticated("sign in first")
    row = session.execute(_AUTHENTICATE, {"h": _token_hash(token)}).first()
    now = _now()
    if row is None or row.revoked or row.pending is not None:
        raise NotAuthenticated("your session is not valid; sign in again")
    exp = _aware(row.expires_at)
    if exp is None or exp <= now:
        raise NotAuthenticated("your session has expired; sign in again", code="session_expired")
    if not row.is_active:
        raise NotAuthenticated("your account is disabled")
    seen = _aware(row.last_seen_at)
    slide = exp - now < timedelta(minutes=get_settings().session_minutes) / 2
    if touch and (slide or seen is None or now - seen > LAST_SEEN_EVERY):
        # sliding expiry (at most twice per session lifetime) and the sessions page's "last seen" (at most
        # every few minutes per session)
        values: dict[str, Any] = {"last_seen_at": now}
        if slide:
            values["expires_at"] = now + timedelta(minutes=get_settings().session_minutes)
        session.execute(update(AuthSession).where(AuthSession.token_hash == row.token_hash).values(**values))
    return Principal(user_id=row.id, username=row.username, role=row.role, customer_id=row.customer_id,
                     display_name=row.display_name)


def sign_out(session: Session, token: str) -> None:
    """End the session of ``token`` (audited as its user's action; a session already ended changes nothing)."""
    row = session.execute(select(AuthSession.revoked, User).join(User, User.id == AuthSession.user_id)
                          .where(AuthSession.token_hash == _token_hash(token))).first()
    if row is None or row.revoked:
        return
    session.execute(update(AuthSession).where(AuthSession.token_hash == _token_hash(token)).values(revoked=True))
    ref = _session_ref(token)
    audit(session, principal_of(row.User), action="auth.sign_out", object_type="user", object_id=row.User.id,
          before={"session": ref, "revoked": False}, after={"session": ref, "revoked": True})


def expire_token_now(session: Session, token: str) -> None:
    """For tests and for forced sign-out by an administrator."""
    session.execute(update(AuthSession).where(AuthSession.token_hash == _token_hash(token))
                    .values(expires_at=_now() - timedelta(seconds=1)))




def audit(session: Session, actor: Principal, *, action: str, object_type: str, object_id: Any,
          before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
          request_id: str | None = None, note: str | None = None) -> AuditLog:
    entry = AuditLog(actor_user_id=actor.user_id or None, actor_role=actor.role, action=action,
                     object_type=object_type, object_id=None if object_id is None else str(object_id),
                     before=before, after=after, request_id=request_id or request_id_var.get(), note=note, at=_now())
    session.add(entry)
    session.flush()
    return entry


def audit_reads(session: Session, actor: Principal, *, action: str, customer_ids: Iterable[int | None],
                shown: dict[str, Any] | None = None, request_id: str | None = None) -> int:
    """A staff member was shown customers' personal data: one record per customer (who, what, when), so
    ``audit_trail(object_type="customer", object_id=...)`` answers "who looked at this customer". ``shown``
    says what was disclosed (e.g. ``{"masked": true}`` or the account whose history it was). Customers reading
    their own data are not recorded. Returns the number of records written."""
    if not actor.is_staff:
        return 0
    ids = [c for c in dict.fromkeys(customer_ids) if c is not None]
    rid, at = request_id or request_id_var.get(), _now()
    session.add_all([AuditLog(actor_user_id=actor.user_id or None, actor_role=actor.role, action=action,
                              object_type="customer", object_id=str(cid), after=shown, request_id=rid, at=at)
                     for cid in ids])
    if ids:
        session.flush()
    return len(ids)


def audit_trail(session: Session, *, object_type: str | None = None, object_id: str | None = None,
                limit: int = 200) -> list[AuditLog]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if object_type:
        stmt = stmt.where(AuditLog.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditLog.object_id == str(object_id))
    return list(session.scalars(stmt))


def recently_opened(session: Session, actor: Principal, *, action: str = "customer.read",
                    object_type: str = "customer", limit: int = 8) -> list[tuple[str, datetime]]:
    """The objects ``actor`` opened most recently (their own read records in the audit trail: ``action`` on
    ``object_type``), newest first, each once, with when it was last opened: a staff member's "recent
    customers"."""
    last = func.max(AuditLog.at).label("last")
    rows = session.execute(
        select(AuditLog.object_id, last)
        .where(AuditLog.actor_user_id == actor.user_id, AuditLog.action == action,
               AuditLog.object_type == object_type, AuditLog.object_id.is_not(None))
        .group_by(AuditLog.object_id).order_by(last.desc()).limit(max(1, min(limit, 50))))
    return [(str(r.object_id), _aware(r.last)) for r in rows]


def disable_customer_users(session: Session, customer_id: int) -> int:
    """The customer's users can no longer sign in and their sessions end (the relationship ended). Returns
    the number of users disabled."""
    ids = list(session.scalars(select(User.id).where(User.customer_id == customer_id)))
    if ids:
        session.execute(update(User).where(User.id.in_(ids)).values(is_active=False))
        session.execute(update(AuthSession).where(AuthSession.user_id.in_(ids)).values(revoked=True))
        session.flush()
    return len(ids)


def _staff_user(session: Session, user_id: int) -> User:
    u = session.get(User, user_id)
    if u is None or u.role not in STAFF_ROLES:
        raise NotFound("no such staff user", details={"user_id": user_id})
    return u


def staff_state(session: Session, user_id: int) -> dict[str, Any]:
    """A staff user's role and activation, as a change request records them."""
    u = _staff_user(session, user_id)
    return {"username": u.username, "role": u.role, "is_active": bool(u.is_active)}


def set_user_role(session: Session, user_id: int, role: str) -> User:
    """A staff user's new role (a staff role: a customer's sign-in never becomes staff, nor the reverse)."""
    u = _staff_user(session, user_id)
    if role not in STAFF_ROLES:
        raise ValidationFailed(f"unknown staff role {role!r}", reason="security.unknown_staff_role",
                               details={"roles": list(STAFF_ROLES)})
    u.role = role
    session.flush()
    return u


def set_user_active(session: Session, user_id: int, active: bool) -> User:
    """Activate or deactivate a staff user; a deactivated user's sessions end at once (authenticate refuses)."""
    u = _staff_user(session, user_id)
    if not isinstance(active, bool):
        raise ValidationFailed("active is true or false")
    u.is_active = active
    session.flush()
    return u
# ---------------------------------------------------------------------------------------------------------
# strong identity: the second factor, step-up, password change and reset, sessions and devices


def coarse_address(address: str | None) -> str | None:
    """An address as the sessions page shows it: IPv4 by its /24, IPv6 by its /48 (where, not who)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("/")[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/48", strict=False))
    v4 = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip
    return str(ipaddress.ip_network(f"{v4}/24", strict=False))


def _code_throttle(session: Session, key: str) -> LoginThrottle:
    """The throttle of codes typed for one user (second factor, reset, step-up): blocked -> 429."""
    now = _now()
    row = _throttle(session, key, now, lock=True)
    assert row is not None
    until = _blocked(row, now)
    if until is not None:
        raise TooManyAttempts("too many wrong codes; try again later",
                              details={"retry_after_seconds": max(1, int((until - now).total_seconds()))})
    return row


def _code_failed(session: Session, row: LoginThrottle) -> None:
    s = get_settings()
    _count_failure(row, _now(), timedelta(minutes=s.login_lock_minutes), s.login_max_failures)
    session.flush()


def _pending_session(session: Session, token: str, pending: str) -> tuple[AuthSession, User]:
    row = session.get(AuthSession, _token_hash(token or ""), with_for_update=True)
    if (row is None or row.revoked or row.pending != pending or _aware(row.expires_at) <= _now()):
        raise NotAuthenticated("this sign-in has expired; sign in again", code="sign_in_expired")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("your account is disabled")
    return row, user


def complete_sign_in(session: Session, *, pending_token: str, code: str, area: str | None = None) -> SignIn:
    """The second step of a sign-in: a fresh TOTP code or an unused recovery code turns the pending token into
    a session (a new token; the pending one is spent). Wrong codes count towards the user's code throttle,
    so the caller must commit on :class:`NotAuthenticated` too."""
    row, user = _pending_session(session, pending_token, "mfa")
    throttle = _code_throttle(session, f"m:{user.id}")
    factor = "totp" if mfa.check(session, user.id, code) else (
        "recovery_code" if mfa.use_recovery_code(session, user.id, code) else None)
    if factor is None:
        _code_failed(session, throttle)
        raise SecondFactorFailed("that code is not right")
    throttle.failures = 0
    row.revoked = True
    token = _open_session(session, user, now=_now(), minutes=get_settings().session_minutes, pending=None,
                          address=row.address or "unknown", user_agent=row.user_agent, area=area,
                          second_factor=factor)
    if factor == "recovery_code":
        audit(session, principal_of(user), action="auth.recovery_code_used", object_type="user", object_id=user.id,
              after={"left": mfa.recovery_codes_left(session, user.id)})
    return SignIn(token, user, None)


def enrolment_at_sign_in(session: Session, *, pending_token: str) -> mfa.Enrolment:
    """The secret a staff member who has no second factor yet must add to an authenticator app (the same
    secret until it is confirmed or the pending sign-in expires)."""
    _row, user = _pending_session(session, pending_token, "enrol")
    return mfa.pending_enrolment(session, user) or mfa.begin(session, user)


def confirm_enrolment_at_sign_in(session: Session, *, pending_token: str, code: str,
                                 area: str | None = None) -> tuple[SignIn, list[str]]:
    """A staff member's first code confirms the factor: the session opens and ten recovery codes are made
    (returned once). Throttled like every code; commit on :class:`NotAuthenticated`."""
    row, user = _pending_session(session, pending_token, "enrol")
    throttle = _code_throttle(session, f"m:{user.id}")
    if not mfa.check(session, user.id, code, confirming=True):
        _code_failed(session, throttle)
        raise SecondFactorFailed("that code is not right")
    throttle.failures = 0
    codes = mfa.new_recovery_codes(session, user.id)
    audit(session, principal_of(user), action="auth.mfa_enrolled", object_type="user", object_id=user.id,
          after={"method": "totp", "at_sign_in": True})
    row.revoked = True
    token = _open_session(session, user, now=_now(), minutes=get_settings().session_minutes, pending=None,
                          address=row.address or "unknown", user_agent=row.user_agent, area=area,
                          second_factor="totp")
    return SignIn(token, user, None), codes


@dataclass(frozen=True)
class MfaStatus:
    enrolled: bool
    required: bool  # staff must keep a second factor
    recovery_codes_left: int


def mfa_status(session: Session, actor: Principal) -> MfaStatus:
    return MfaStatus(enrolled=mfa.is_enrolled(session, actor.user_id), required=actor.is_staff,
                     recovery_codes_left=mfa.recovery_codes_left(session, actor.user_id))


def _user(session: Session, actor: Principal) -> User:
    user = session.get(User, actor.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("your account is disabled")
    return user


def begin_mfa(session: Session, actor: Principal) -> mfa.Enrolment:
    """Start enrolling a TOTP factor (a customer's choice; staff enrol at sign-in)."""
    if mfa.is_enrolled(session, actor.user_id):
        raise Conflict("a second factor is already set up; remove it first", code="mfa_enrolled")
    return mfa.begin(session, _user(session, actor))


def pending_mfa(session: Session, actor: Principal) -> mfa.Enrolment | None:
    return mfa.pending_enrolment(session, _user(session, actor))


def confirm_mfa(session: Session, actor: Principal, *, code: str) -> list[str]:
    """The first code confirms the factor; returns the ten recovery codes (shown once)."""
    throttle = _code_throttle(session, f"m:{actor.user_id}")
    if not mfa.check(session, actor.user_id, code, confirming=True):
        _code_failed(session, throttle)
        raise WrongCode("that code is not right")
    codes = mfa.new_recovery_codes(session, actor.user_id)
    audit(session, actor, action="auth.mfa_enrolled", object_type="user", object_id=actor.user_id,
          after={"method": "totp"})
    return codes


def has_second_factor(session: Session, user_id: int) -> bool:
    """Whether the user has a confirmed TOTP factor (the step-up of a payment then asks for its code)."""
    return mfa.is_enrolled(session, user_id)


def check_totp(session: Session, user_id: int, code: str) -> bool:
    """A fresh TOTP code of the user (each 30-second step accepted once); the caller counts the attempts."""
    return mfa.check(session, user_id, code)


def verify_second_factor(session: Session, actor: Principal, code: str) -> str:
    """A fresh TOTP code (or an unused recovery code) of ``actor``: the factor's name, or raises (throttled;
    the caller commits on the error so that the failure counts)."""
    throttle = _code_throttle(session, f"m:{actor.user_id}")
    if mfa.check(session, actor.user_id, code):
        throttle.failures = 0
        return "totp"
    if mfa.use_recovery_code(session, actor.user_id, code):
        throttle.failures = 0
        return "recovery_code"
    _code_failed(session, throttle)
    raise WrongCode("that code is not right", details={"method": "totp"})


def disable_mfa(session: Session, actor: Principal, *, password: str, code: str) -> None:
    """A customer removes their second factor (password and a current code); staff cannot (it is mandatory)."""
    if actor.is_staff:
        raise Forbidden("bank staff must keep a second factor", code="mfa_required")
    user = _user(session, actor)
    if not mfa.is_enrolled(session, actor.user_id):
        raise Conflict("no second factor is set up", code="mfa_not_enrolled")
    if not verify_password(user.password_hash, password):
        raise ValidationFailed("your password is not right", code="password_invalid")
    verify_second_factor(session, actor, code)
    mfa.remove(session, actor.user_id)
    audit(session, actor, action="auth.mfa_removed", object_type="user", object_id=actor.user_id,
          before={"method": "totp"})


def new_recovery_codes(session: Session, actor: Principal, *, code: str) -> list[str]:
    """Ten new recovery codes (the old ones stop working), against a current TOTP code."""
    if not mfa.is_enrolled(session, actor.user_id):
        raise Conflict("no second factor is set up", code="mfa_not_enrolled")
    verify_second_factor(session, actor, code)
    codes = mfa.new_recovery_codes(session, actor.user_id)
    audit(session, actor, action="auth.recovery_codes_renewed", object_type="user", object_id=actor.user_id)
    return codes


def reset_mfa(session: Session, actor: Principal, *, user_id: int) -> None:
    """An administrator removes a user's factor (a lost phone): staff then enrol again at their next sign-in."""
    actor.require("user.manage")
    if mfa.remove(session, user_id):
        audit(session, actor, action="auth.mfa_reset", object_type="user", object_id=user_id, before={"method": "totp"})


def demo_totp_code(session: Session, username: str) -> str:
    """The current code of a user's factor - for the demonstration bank and the tests only (a real
    authenticator app computes it on the person's phone)."""
    user = find_user_by_name(session, username)
    code = None if user is None else mfa.current_code(session, user.id)
    if code is None:
        raise ValidationFailed("that user has no second factor", details={"username": username})
    return code


def enrol_demo_mfa(session: Session, user: User) -> None:
    """The demonstration bank's staff get a confirmed factor at once (the demo only: a real one is enrolled by
    its holder, who is the only one to see the secret)."""
    mfa.begin(session, user)
    row = mfa.get(session, user.id)
    assert row is not None
    row.confirmed_at = _now()
    session.flush()


# --- one-time codes by text message: password reset and step-up --------------------------------------

OTP_MINUTES = 10
OTP_ATTEMPTS = 5


def _otp_hash(challenge_id: int, code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"otp:{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_sms_code(session: Session, *, user_id: int, purpose: str) -> tuple[OtpChallenge, str]:
    """A new six-digit code for ``purpose`` (stored hashed; earlier open codes of the purpose end). The caller
    sends it through the SMS gateway (a layer above this one)."""
    now = _now()
    session.execute(update(OtpChallenge).where(OtpChallenge.user_id == user_id, OtpChallenge.purpose == purpose,
                                               OtpChallenge.used_at.is_(None)).values(used_at=now))
    ch = OtpChallenge(user_id=user_id, purpose=purpose, code_hash="", attempts=0, created_at=now,
                      expires_at=now + timedelta(minutes=OTP_MINUTES))
    session.add(ch)
    session.flush()
    code = f"{secrets.randbelow(1_000_000):06d}"
    ch.code_hash = _otp_hash(ch.id, code)
    session.flush()
    return ch, code


def check_sms_code(session: Session, *, user_id: int, purpose: str, code: str) -> bool:
    """Spend the user's open code of ``purpose`` if ``code`` is it (five attempts, ten minutes, once)."""
    now = _now()
    ch = session.scalars(select(OtpChallenge).where(
        OtpChallenge.user_id == user_id, OtpChallenge.purpose == purpose, OtpChallenge.used_at.is_(None))
        .order_by(OtpChallenge.id.desc()).with_for_update()).first()
    if ch is None or _aware(ch.expires_at) <= now or ch.attempts >= OTP_ATTEMPTS:
        return False
    if not hmac.compare_digest(_otp_hash(ch.id, (code or "").strip()), ch.code_hash):
        ch.attempts += 1
        session.flush()
        return False
    ch.used_at = now
    session.flush()
    return True


def step_up_method(session: Session, actor: Principal) -> str:
    """How ``actor`` proves presence for a high-risk action: ``"totp"`` when enrolled, else ``"sms"``."""
    return "totp" if mfa.is_enrolled(session, actor.user_id) else "sms"


def check_step_up(session: Session, actor: Principal, *, purpose: str, code: str) -> str:
    """The step-up answer of a high-risk action: a fresh TOTP code, or the text-message code issued for
    ``purpose``. Returns the method; raises :class:`WrongCode` (throttled, and persisted)."""
    if step_up_method(session, actor) == "totp":
        return verify_second_factor(session, actor, code)
    throttle = _code_throttle(session, f"m:{actor.user_id}")
    if check_sms_code(session, user_id=actor.user_id, purpose=purpose, code=code):
        throttle.failures = 0
        return "sms"
    _code_failed(session, throttle)
    raise WrongCode("that one-time code is not right", details={"method": "sms"})


# --- passwords ------------------------------------------------------------------------------------------


def change_password(session: Session, actor: Principal, *, current: str, new: str,
                    keep_token: str | None = None) -> int:
    """Change one's own password (the current one needed); every other session of the user ends. Returns the
    number of sessions ended."""
    user = _user(session, actor)
    throttle = _code_throttle(session, f"p:{actor.user_id}")
    if not verify_password(user.password_hash, current):
        _code_failed(session, throttle)
        raise WrongCode("your current password is not right", code="password_invalid")
    check_password_policy(new, username=user.username)
    if verify_password(user.password_hash, new):
        raise ValidationFailed("the new password is the same as the current one", code="password_same")
    user.password_hash = hash_password(new)
    ended = _revoke_sessions(session, user.id, keep=None if keep_token is None else _token_hash(keep_token))
    audit(session, actor, action="auth.password_changed", object_type="user", object_id=user.id,
          after={"sessions_ended": ended})
    return ended


def _revoke_sessions(session: Session, user_id: int, *, keep: str | None = None) -> int:
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked.is_(False),
                                     AuthSession.expires_at > _now())
    if keep is not None:
        stmt = stmt.where(AuthSession.token_hash != keep)
    res = session.execute(stmt.values(revoked=True))
    return int(getattr(res, "rowcount", 0) or 0)


RESET_PURPOSE = "password_reset"


def start_password_reset(session: Session, *, username: str, address: str | None) -> tuple[User, str] | None:
    """A reset code for ``username`` if it is an active customer's sign-in (whose phone the caller texts it
    to); None otherwise. Throttled per address and per typed name, the same way for unknown names, so the
    answer (and its timing, apart from the text message) says nothing about who exists."""
    now = _now()
    s = get_settings()
    window = timedelta(minutes=s.login_lock_minutes)
    addr = client_key(address)
    for key, limit in ((f"r:{_pair_key(username, addr)}"[:100], s.login_max_failures),
                       (f"ra:{addr}"[:100], s.login_address_max_failures)):
        row = _throttle(session, key, now, lock=True)
        assert row is not None
        until = _blocked(row, now)
        if until is not None:
            raise TooManyAttempts("too many reset requests; try again later",
                                  details={"retry_after_seconds": max(1, int((until - now).total_seconds()))})
        _count_failure(row, now, window, limit)  # every request counts: a reset is rare
    session.flush()
    user = find_user_by_name(session, username)
    if user is None or not user.is_active or user.customer_id is None:
        return None
    _ch, code = issue_sms_code(session, user_id=user.id, purpose=RESET_PURPOSE)
    audit(session, principal_of(user), action="auth.password_reset_requested", object_type="user",
          object_id=user.id, after={"address": addr})
    return user, code


def finish_password_reset(session: Session, *, username: str, code: str, new_password: str) -> None:
    """Set a new password with the code sent to the phone on file; every session of the user ends. A wrong
    code, an unknown name and an expired code get the same answer (commit on it: attempts count)."""
    user = find_user_by_name(session, username)
    if user is None or not user.is_active or user.customer_id is None:
        raise ValidationFailed("that code is not right or has expired", code="reset_invalid")
    throttle = _code_throttle(session, f"p:{user.id}")
    check_password_policy(new_password, username=user.username)
    if not check_sms_code(session, user_id=user.id, purpose=RESET_PURPOSE, code=code):
        _code_failed(session, throttle)
        raise WrongCode("that code is not right or has expired", code="reset_invalid")
    user.password_hash = hash_password(new_password)
    ended = _revoke_sessions(session, user.id)
    audit(session, principal_of(user), action="auth.password_reset", object_type="user", object_id=user.id,
          after={"sessions_ended": ended, "channel": "sms"})


# --- sessions and devices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    id: str  # the start of the token's hash: names a session without revealing it
    created_at: datetime
    last_seen_at: datetime | None
    expires_at: datetime
    user_agent: str | None
    address: str | None
    current: bool


def list_sessions(session: Session, actor: Principal, *, current_token: str | None = None) -> list[SessionInfo]:
    """The actor's own live sessions (newest first), the current one marked."""
    now = _now()
    cur = _token_hash(current_token) if current_token else None
    rows = session.scalars(select(AuthSession).where(
        AuthSession.user_id == actor.user_id, AuthSession.revoked.is_(False), AuthSession.pending.is_(None),
        AuthSession.expires_at > now).order_by(AuthSession.created_at.desc())).all()
    return [SessionInfo(id=r.token_hash[:16], created_at=_aware(r.created_at), last_seen_at=_aware(r.last_seen_at),
                        expires_at=_aware(r.expires_at), user_agent=r.user_agent, address=r.address,
                        current=r.token_hash == cur) for r in rows]


def revoke_session(session: Session, actor: Principal, *, session_id: str) -> None:
    """End one of the actor's own sessions (another's, or an unknown id, is "not found")."""
    sid = (session_id or "").lower()
    if not re.fullmatch(r"[0-9a-f]{16}", sid):
        raise NotFound("no such session", details={"session_id": session_id})
    row = session.scalars(select(AuthSession).where(
        AuthSession.user_id == actor.user_id, AuthSession.token_hash.startswith(sid),
        AuthSession.revoked.is_(False), AuthSession.pending.is_(None))).first()
    if row is None:
        raise NotFound("no such session", details={"session_id": session_id})
    row.revoked = True
    session.flush()
    audit(session, actor, action="auth.session_revoked", object_type="user", object_id=actor.user_id,
          before={"session": sid, "revoked": False}, after={"session": sid, "revoked": True})


def revoke_other_sessions(session: Session, actor: Principal, *, current_token: str | None) -> int:
    ended = _revoke_sessions(session, actor.user_id, keep=_token_hash(current_token) if current_token else None)
    audit(session, actor, action="auth.sessions_revoked", object_type="user", object_id=actor.user_id,
          after={"sessions_ended": ended})
    return ended
