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
from typing import Any

from sqlalchemy import Boolean, DateTime, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.db import aware as _aware
from smartbank.errors import Conflict, Forbidden, NotAuthenticated, NotFound, TooManyAttempts, ValidationFailed
from smartbank.logs import request_id_var  # the request being served: an audit record names it
from smartbank.security import permissions
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
from smartbank.security.models import ROLES, STAFF_ROLES, AuditLog, AuthSession, DataKey, LoginThrottle, User
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
    # audit
    "audit", "audit_reads", "audit_trail", "request_id_var",
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
        raise ValidationFailed(f"unknown role {role!r}", details={"roles": list(ROLES)})
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
            address: str | None = None) -> tuple[str, User]:
    """Check the password and open a session, throttling failed attempts.

    Failures are counted per (typed username, client address), per client address and for the whole bank,
    never per user alone: a stranger who types a customer's name with wrong passwords blocks only their own
    address, and the customer still signs in from theirs. A blocked key answers 429 before any password is
    checked, identically for known and unknown names. While the whole bank sees an unusual number of
    failures (the global key is blocked), each pair and address gets fewer attempts.

    The counters are written even when the sign-in fails, so the caller must commit on
    :class:`NotAuthenticated` too (see the API and web entry points).
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
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=s.session_minutes)
    session.add(AuthSession(token_hash=_token_hash(token), user_id=user.id, created_at=now, expires_at=expires,
                            revoked=False))
    session.flush()
    # a new session is a new way to act as this person: on record, with where it came from (a refused sign-in
    # is counted by the throttle above, not recorded here)
    audit(session, principal_of(user), action="auth.sign_in", object_type="user", object_id=user.id,
          after={"session": _session_ref(token), "expires_at": expires.isoformat(), "address": addr,
                 "area": None if staff is None else ("console" if staff else "portal")})
    return token, user


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=user.role, customer_id=user.customer_id,
                     display_name=user.display_name)


def _session_ref(token: str) -> str:
    """How the audit log names a session: the start of its token's SHA-256 (never the token)."""
    return _token_hash(token)[:16]


# every request runs this: a plain statement, compiled once (no ORM query building per call)
_AUTHENTICATE = text(
    "SELECT s.token_hash, s.expires_at, s.revoked, u.id, u.username, u.role, u.customer_id, u.display_name,"
    " u.is_active FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = :h"
).columns(expires_at=DateTime(timezone=True), revoked=Boolean(), is_active=Boolean())


def authenticate(session: Session, token: str | None, *, touch: bool = True) -> Principal:
    """Resolve a session token to its principal (one query; a write only to slide the expiry)."""
    if not token:
        raise NotAuthenticated("sign in first")
    row = session.execute(_AUTHENTICATE, {"h": _token_hash(token)}).first()
    now = _now()
    if row is None or row.revoked:
        raise NotAuthenticated("your session is not valid; sign in again")
    exp = _aware(row.expires_at)
    if exp is None or exp <= now:
        raise NotAuthenticated("your session has expired; sign in again", code="session_expired")
    if not row.is_active:
        raise NotAuthenticated("your account is disabled")
    if touch and exp - now < timedelta(minutes=get_settings().session_minutes) / 2:
        # sliding expiry, written at most twice per session lifetime
        session.execute(update(AuthSession).where(AuthSession.token_hash == row.token_hash)
                        .values(expires_at=now + timedelta(minutes=get_settings().session_minutes)))
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
        raise ValidationFailed(f"unknown staff role {role!r}", details={"roles": list(STAFF_ROLES)})
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
