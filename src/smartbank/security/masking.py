"""The one masking policy of the platform: for each kind of personal field, each role and each purpose, whether
the value is shown in full, masked or not at all (JR/T 0171-2020 section 6.1.4.3, display of C2 information).

The policy is data (:data:`POLICY`); the API, the web pages, the command line, the logs and the exports ask
:func:`rule` / :func:`present` / :func:`present_record` instead of deciding themselves. A role or purpose that is
not in the table sees nothing (least privilege by default).

Purposes
- ``self``: a customer reading their own data;
- ``service``: a staff member serving one customer (the customer record, the counter);
- ``case``: an officer's case (loan review, risk alert, the assistant's hand-off);
- ``search``: a list of customers (search results, queues);
- ``marketing``: analytics and marketing views of one customer (insight 360, segments);
- ``export``: a file leaving the platform (CSV/JSON extracts, reports);
- ``log``: a log line.

A field that the policy masks can be revealed, one field of one customer at a time, by the roles in
:data:`REVEAL_ROLES` with a stated reason (break-glass, audited by the customers domain).

Formats: ID ``110***********123X`` (first 3, last 4), mobile ``138****5678`` (a ``+86`` prefix is dropped),
name ``张*`` / ``Z*** L***`` (the first character of each part), e-mail ``z***@example.cn``, card
``622202******1234`` (first 6, last 4), account ``****1234``, birth date ``1985-**-**``, address: the first
six characters.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final, Literal

from smartbank.security.permissions import PERMISSIONS

__all__ = [
    "FIELDS", "FULL", "HIDDEN", "MASKED", "POLICY", "PURPOSES", "REVEAL_FIELDS", "REVEAL_ROLES", "Show",
    "mask_account_number", "mask_address", "mask_birth_date", "mask_card_number", "mask_email", "mask_id_number",
    "mask_name", "mask_phone", "mask_value", "may_reveal", "present", "present_record", "rule",
]

Show = Literal["full", "masked", "hidden"]
FULL: Final = "full"
MASKED: Final = "masked"
HIDDEN: Final = "hidden"

FIELDS = ("name", "id_number", "phone", "email", "address", "birth_date", "income", "account_number",
          "card_number")
PURPOSES = ("self", "service", "case", "search", "marketing", "export", "log")

# --------------------------------------------------------------------------------------------------------
# masking formats, one per kind of field


def mask_id_number(value: str | None) -> str | None:
    """``11010119900307123X`` -> ``110***********123X`` (first 3, last 4); a short document number keeps its
    first and last two."""
    if not value:
        return value
    keep = (3, 4) if len(value) >= 12 else (1, 2)
    if len(value) <= sum(keep):
        return "*" * len(value)
    return value[:keep[0]] + "*" * (len(value) - sum(keep)) + value[-keep[1]:]


_PHONE_PREFIX = re.compile(r"^(?:\+|00)?86[ -]?(?=1\d{10}$)")


def mask_phone(value: str | None) -> str | None:
    """``+8613812345678`` / ``13812345678`` -> ``138****5678``: a ``+86`` prefix is dropped, the first three and
    the last four digits are kept; any other number keeps its last four."""
    if not value:
        return value
    v = _PHONE_PREFIX.sub("", re.sub(r"[\s-]", "", value))
    if len(v) == 11 and v.isdigit():
        return v[:3] + "****" + v[-4:]
    if len(v) <= 4:
        return "*" * len(v)
    return "*" * (len(v) - 4) + v[-4:]


def mask_email(value: str | None) -> str | None:
    """``zhao.liu@example.cn`` -> ``z***@example.cn``."""
    if not value:
        return value
    local, at, domain = value.partition("@")
    return (local[:1] + "***" + at + domain) if at else "***"


def _is_cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003ffff"


def mask_name(value: str | None) -> str | None:
    """``张三`` -> ``张*``, ``欧阳娜娜`` -> ``欧***``; ``Zhao Liu`` -> ``Z*** L***`` (the first character of each
    part of a Latin name)."""
    if not value:
        return value
    v = value.strip()
    if any(_is_cjk(ch) for ch in v):
        v = v.replace(" ", "").replace("·", "")
        return v[:1] + "*" * max(1, len(v) - 1)
    return " ".join(p[:1] + "***" for p in v.split())


def mask_address(value: str | None) -> str | None:
    """The first six characters (province and city), then ``****``."""
    if not value:
        return value
    return value[:6] + "****" if len(value) > 6 else "****"


def mask_birth_date(value: date | str | None) -> str | None:
    """``1985-03-07`` -> ``1985-**-**``."""
    if not value:
        return None
    return str(value)[:4] + "-**-**"


def mask_card_number(value: str | None) -> str | None:
    """A bank card: the first six (the issuer) and the last four digits, ``622202******1234``."""
    if not value:
        return value
    v = re.sub(r"[\s-]", "", value)
    if len(v) <= 10:
        return "*" * max(0, len(v) - 4) + v[-4:]
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_account_number(value: str | None) -> str | None:
    """An account number: the last four, ``****1234``."""
    if not value:
        return value
    v = re.sub(r"[\s-]", "", value)
    return "****" + v[-4:] if len(v) > 4 else "*" * len(v)


_MASKERS: dict[str, Any] = {
    "name": mask_name, "id_number": mask_id_number, "phone": mask_phone, "email": mask_email,
    "address": mask_address, "birth_date": mask_birth_date, "income": lambda _v: None,
    "account_number": mask_account_number, "card_number": mask_card_number,
}


def mask_value(field: str, value: Any) -> Any:
    """``value`` in the masked format of ``field`` (one of :data:`FIELDS`)."""
    if field not in _MASKERS:
        raise KeyError(f"no masking format for {field!r}")
    return _MASKERS[field](value)


# --------------------------------------------------------------------------------------------------------
# the policy: role -> purpose -> field -> full / masked / hidden

F: Show = "full"
M: Show = "masked"
H: Show = "hidden"


def _row(*shows: Show) -> dict[str, Show]:
    """One row of the table: a show per field, in the order of :data:`FIELDS`."""
    assert len(shows) == len(FIELDS)
    return dict(zip(FIELDS, shows, strict=True))


#                      name id  phone email addr birth income acct card
_SELF = _row(F, F, F, F, F, F, F, F, M)
# identity numbers are masked for every staff role by default: the full value is a break-glass reveal
_DETAILS = _row(F, M, M, M, F, F, F, F, M)  # roles whose job reads a customer's circumstances (teller, officers)
_RECORD = _row(F, M, M, M, H, H, H, F, M)  # a staff record view without the circumstances
_LIST = _row(F, M, M, M, H, H, H, F, M)
_ANALYTICS = _row(M, H, H, H, H, H, H, M, H)  # marketing and analytics: never a raw identity field
_EXPORT = _row(M, M, M, M, H, H, H, M, M)
_LOG = _row(M, M, M, M, H, H, H, M, M)

POLICY: dict[str, dict[str, dict[str, Show]]] = {
    "customer": {"self": _SELF, "export": _SELF, "log": _LOG},
    "teller": {"service": _DETAILS, "case": _DETAILS, "search": _LIST, "marketing": _ANALYTICS,
               "export": _EXPORT, "log": _LOG},
    "risk_officer": {"service": _DETAILS, "case": _DETAILS, "search": _LIST, "marketing": _ANALYTICS,
                     "export": _EXPORT, "log": _LOG},
    "loan_officer": {"service": _RECORD, "case": _DETAILS, "search": _LIST, "marketing": _ANALYTICS,
                     "export": _EXPORT, "log": _LOG},
    "service_agent": {"service": _RECORD, "case": _RECORD, "search": _LIST, "marketing": _ANALYTICS,
                      "export": _EXPORT, "log": _LOG},
    "admin": {"service": _RECORD, "case": _RECORD, "search": _LIST, "marketing": _ANALYTICS,
              "export": _EXPORT, "log": _LOG},
    # a marketer works on segments and tags: names masked, identity fields never
    "marketer": {"marketing": _ANALYTICS, "search": _ANALYTICS, "export": _ANALYTICS, "log": _LOG},
}

# break-glass: who may reveal one field of one customer, with a stated reason (audited)
REVEAL_ROLES = tuple(sorted(PERMISSIONS["customer.pii.reveal"]))  # teller, loan_officer, risk_officer
REVEAL_FIELDS = ("id_number", "phone", "email", "address", "birth_date", "name")


def rule(role: str, purpose: str, field: str) -> Show:
    """How ``role`` sees ``field`` for ``purpose``: ``"full"``, ``"masked"`` or ``"hidden"`` (anything not in
    the table is hidden)."""
    if field not in FIELDS:
        raise KeyError(f"unknown personal field {field!r}")
    return POLICY.get(role, {}).get(purpose, {}).get(field, HIDDEN)


def present(role: str, purpose: str, field: str, value: Any) -> Any:
    """``value`` as ``role`` may see it for ``purpose``: itself, masked, or None."""
    show = rule(role, purpose, field)
    if show == FULL or value is None:
        return value
    return mask_value(field, value) if show == MASKED else None


def present_record(role: str, purpose: str, record: dict[str, Any],
                   fields: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy of ``record`` with each personal field presented by :func:`present`. ``fields`` maps a key of the
    record to its kind when the key is not the kind's own name (``{"annual_income_minor": "income"}``); keys
    that are neither are copied as they are."""
    kinds = {k: k for k in FIELDS} | (fields or {})
    return {k: (present(role, purpose, kinds[k], v) if k in kinds else v) for k, v in record.items()}


def may_reveal(role: str, field: str) -> bool:
    """Whether ``role`` may reveal ``field`` (break-glass, with a reason)."""
    return role in REVEAL_ROLES and field in REVEAL_FIELDS
