from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

ROLES = ("customer", "teller", "loan_officer", "risk_officer", "marketer", "service_agent", "admin")
STAFF_ROLES = ROLES[1:]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class AuthSession(Base):
    """A sign-in: the bearer token (API) or cookie (web). Only the token's SHA-256 is stored."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: a full session. "mfa": the password was right, the second factor is still owed; "enrol": a staff
    # member without a second factor, who must enrol one before this becomes a session. Neither acts.
    pending: Mapped[str | None] = mapped_column(String(8))
    # the device as the sessions page shows it: the browser's user agent and a coarse address (IPv4 /24,
    # IPv6 /48), when it was last seen (refreshed at most every few minutes)
    user_agent: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(64))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserMfa(Base):
    """A user's TOTP second factor (RFC 6238). The shared secret is C3 authentication data: stored encrypted
    (AES-GCM under the key ring, the column as associated data). ``confirmed_at`` is set when the first code
    was accepted; until then the factor is being enrolled and does not count. ``last_step`` is the time step
    of the last accepted code: a code of that step or an earlier one is never accepted again."""

    __tablename__ = "user_mfa"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # encrypted by security.mfa (AES-GCM, context "user_mfa.secret"); `smartbank keys rotate` re-encrypts it
    secret_enc: Mapped[str] = mapped_column(Text, info={"encrypted": "user_mfa.secret"})
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """One single-use recovery code of a user (shown once; only its keyed hash is kept)."""

    __tablename__ = "user_recovery_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OtpChallenge(Base):
    """A one-time code sent by text message: a password reset, or the step-up of a high-risk action by a
    customer without TOTP. Only its keyed hash is kept; it expires, allows a few attempts and is used once."""

    __tablename__ = "otp_challenges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed sign-ins counted per key: one (username, client address) pair, one client address, or the whole
    bank. A key with ``blocked_until`` in the future refuses sign-ins (for the global key: tightens the limits).
    The username part of a pair key is an HMAC of what was typed, for known and unknown names alike."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Every staff write: who, what, when, before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)


class DataKey(Base):
    """A data-encryption key (AES-256) of the personal-data encryption, stored only WRAPPED by the master key
    (which the database never holds). One version is ``active`` (new ciphertexts); ``retired`` ones still
    decrypt what was written under them until ``smartbank keys rotate`` has re-encrypted it."""

    __tablename__ = "data_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[str] = mapped_column(Text)  # base64 of what the key provider's wrap() returned
    master_key_id: Mapped[str] = mapped_column(String(64))  # which master key wrapped it (a public name)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "users": {"*": "C1", "username": "C2", "display_name": "C2", "password_hash": "C3"},
    "auth_sessions": {"*": "C1", "token_hash": "C3", "user_agent": "C2", "address": "C2"},
    "user_mfa": {"*": "C1", "secret_enc": "C3"},  # the TOTP secret: authentication information
    "user_recovery_codes": {"*": "C1", "code_hash": "C3"},
    "otp_challenges": {"*": "C1", "code_hash": "C3"},
    "login_throttle": {"*": "C1", "key": "C2"},  # an HMAC of the typed name and the client address
    "audit_log": {"*": "C1", "before": "C2", "after": "C2", "note": "C2"},
    "data_keys": {"*": "none", "wrapped_key": "C3"},  # wrapped keys: key material, not personal data
}
