"""The second factor: TOTP (RFC 6238, through ``pyotp``) and single-use recovery codes.

- Time comes from :mod:`smartbank.clock` (``for_time=``), so the bank's injected clock drives codes too.
- A code is accepted in its own 30-second step and one step either side (a phone whose clock drifts a little),
  and each step at most once: the last accepted step is remembered, and a code of that step or an earlier
  one is refused (RFC 6238 section 5.2), so a code read over a shoulder or replayed is worthless.
- The shared secret is C3 authentication data (JR/T 0171-2020): it is stored encrypted with the key ring
  (:mod:`smartbank.security.keyring`), the column's name as associated data.
- Ten recovery codes are made when a factor is confirmed (and on request), shown once, kept as keyed hashes
  (HMAC-SHA256 under the platform's secret key: the codes are random, 50 bits each), each usable once.

Nothing here commits or audits: :mod:`smartbank.security.service` composes these steps into sign-in,
enrolment and step-up, and writes the audit records.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.security import keyring
from smartbank.security.models import RecoveryCode, User, UserMfa

ISSUER = "smartbank"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by hand


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What a person needs to add the factor to an authenticator app: the secret (base32) and its URI."""

    secret: str
    uri: str

    def qr_svg(self) -> str:
        """The URI as an inline SVG QR code (``segno``), for the page that shows it once."""
        return segno.make(self.uri, error="m").svg_inline(scale=4, dark="#111", light="#fff")


SECRET_CONTEXT = "user_mfa.secret"  # the associated data of the secret's encryption (the column)


def _seal(secret: str) -> str:
    out = keyring.encrypt_text(secret, context=SECRET_CONTEXT)
    assert out is not None
    return out


def _open(row: UserMfa) -> str:
    out = keyring.decrypt_text(row.secret_enc, context=SECRET_CONTEXT)
    assert out is not None
    return out


def _step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def get(session: Session, user_id: int, *, lock: bool = False) -> UserMfa | None:
    stmt = select(UserMfa).where(UserMfa.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).first()


def is_enrolled(session: Session, user_id: int) -> bool:
    row = get(session, user_id)
    return row is not None and row.confirmed_at is not None


def begin(session: Session, user: User) -> Enrolment:
    """A new secret for ``user`` (replacing one not yet confirmed; a confirmed factor must be removed first)."""
    secret = pyotp.random_base32()
    row = get(session, user.id, lock=True)
    if row is None:
        session.add(UserMfa(user_id=user.id, secret_enc=_seal(secret), created_at=clock.now()))
    else:
        row.secret_enc, row.confirmed_at, row.last_step = _seal(secret), None, None
        row.created_at = clock.now()
    session.flush()
    return Enrolment(secret=secret, uri=pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER))


def pending_enrolment(session: Session, user: User) -> Enrolment | None:
    """The secret being enrolled (not yet confirmed), to show it again on the enrolment page."""
    row = get(session, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    secret = _open(row)
    return Enrolment(secret=secret, uri=pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER))


def check(session: Session, user_id: int, code: str, *, confirming: bool = False) -> bool:
    """Whether ``code`` is a fresh TOTP code of the user's factor (confirmed, or being confirmed when
    ``confirming``); an accepted code's step is remembered, so it is never accepted again."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    row = get(session, user_id, lock=True)
    if row is None or (row.confirmed_at is None) != confirming:
        return False
    totp = pyotp.TOTP(_open(row))
    now_step = _step(clock.now())
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if row.last_step is not None and step <= row.last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            row.last_step = step
            if confirming:
                row.confirmed_at = clock.now()
            session.flush()
            return True
    return False


def current_code(session: Session, user_id: int) -> str | None:
    """The code of the current step (the demo's ``smartbank users totp``); None without a factor."""
    row = get(session, user_id)
    if row is None:
        return None
    return pyotp.TOTP(_open(row)).at(clock.now())


def remove(session: Session, user_id: int) -> bool:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    res = session.execute(delete(UserMfa).where(UserMfa.user_id == user_id))
    return int(getattr(res, "rowcount", 0) or 0) > 0


def _code_hash(user_id: int, code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"recovery:{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def new_recovery_codes(session: Session, user_id: int) -> list[str]:
    """Ten new codes, replacing the old ones (shown once: only their hashes are kept)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    now = clock.now()
    session.add_all([RecoveryCode(user_id=user_id, code_hash=_code_hash(user_id, c), created_at=now) for c in codes])
    session.flush()
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def use_recovery_code(session: Session, user_id: int, code: str) -> bool:
    """Spend one unused recovery code; False when it is not one (or was used already)."""
    norm = _normalise(code)
    if len(norm) != 10:
        return False
    res = session.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _code_hash(user_id, norm),
        RecoveryCode.used_at.is_(None)).values(used_at=clock.now()))
    return int(getattr(res, "rowcount", 0) or 0) == 1


def recovery_codes_left(session: Session, user_id: int) -> int:
    return len(session.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user_id,
                                                             RecoveryCode.used_at.is_(None))).all())
