"""The password policy: what a person may choose as a password (sign-up, change, reset, a new user).

- 10 to 128 characters, with letters and digits;
- not the user name, nor containing it (nor the name containing the password);
- not a common or breached password: not in the 30,000 most common passwords of the ``zxcvbn`` package's
  frequency list (passwords leaked in public breaches, ranked by frequency), compared without case and with
  trailing digits and punctuation removed too ("Password123!" is "password"), and not one ``zxcvbn``'s
  estimator finds guessable in under 10^8 guesses (score below 3: dictionary words with substitutions,
  keyboard walks, dates, repeats, sequences), with the user name as an extra dictionary word.

The list is local data shipped inside the package: no password, or hash of one, leaves the bank (an online
k-anonymity check against a breach corpus such as Have I Been Pwned is not done).
"""

from __future__ import annotations

from functools import lru_cache

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from smartbank.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_SCORE = 3


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    p = password.lower()
    base = p.rstrip("0123456789!@#$%^&*()_-+=.?~ ")
    return p in _common() or (len(base) >= 4 and base in _common())


def check_password_policy(password: str, *, username: str | None = None) -> None:
    """Raise :class:`ValidationFailed` (with a ``rule``) when ``password`` breaks the policy."""
    pw = password or ""
    if len(pw) < MIN_LENGTH or len(pw) > MAX_LENGTH:
        raise ValidationFailed(f"a password needs {MIN_LENGTH}-{MAX_LENGTH} characters",
                               reason="security.password_length",
                               details={"rule": "length", "min": MIN_LENGTH, "max": MAX_LENGTH})
    if not any(c.isalpha() for c in pw) or not any(c.isdigit() for c in pw):
        raise ValidationFailed("a password needs both letters and digits",
                               details={"rule": "letters_and_digits"})
    name = (username or "").lower()
    if name and (name in pw.lower() or pw.lower() in name):
        raise ValidationFailed("a password must not contain the user name",
                               details={"rule": "user_name"})
    if is_common(pw):
        raise ValidationFailed("that password is one of the most common (breached) passwords",
                               details={"rule": "common"})
    if zxcvbn(pw[:100], user_inputs=[name] if name else [])["score"] < MIN_SCORE:
        raise ValidationFailed("that password is too easy to guess; use a longer phrase",
                               details={"rule": "guessable"})
