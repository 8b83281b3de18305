"""Text messages to a customer's phone: the channel of payment one-time codes.

A one-time code must travel outside the session that asks for it - a code shown in the app (the
notification feed, ``GET /api/v1/notifications``) is read by whoever holds the session token, so it proves
nothing. Codes go through an :class:`SmsGateway` only, never into the notification feed.

The gateway in force is process-wide: :func:`gateway` returns it, :func:`set_gateway` installs a real
operator's client at start-up, :func:`use` swaps one in for a block (the tests' in-memory sink). Without one,
:class:`FileSmsSink` - the development sink - appends each message as one JSON line to
``SMARTBANK_SMS_OUTBOX`` (default ``<var_dir>/sms-outbox.jsonl``, readable by its owner only).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from smartbank import clock
from smartbank.config import get_settings
from smartbank.security import service as security

__all__ = ["FileSmsSink", "MemorySmsSink", "SmsGateway", "SmsMessage", "gateway", "mask_phone", "set_gateway", "use"]


@dataclass(frozen=True, slots=True)
class SmsMessage:
    phone: str
    text: str
    ref: str | None = None


class SmsGateway(Protocol):
    """Delivers one text message to one phone number (raises on a failure it knows of)."""

    def send(self, message: SmsMessage) -> None: ...


class FileSmsSink:
    """The development gateway: each message is a JSON line in a file that only the server's user can read."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> None:
        line = json.dumps({"at": clock.now().isoformat(), "phone": message.phone, "text": message.text,
                           "ref": message.ref}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def __repr__(self) -> str:
        return f"FileSmsSink({str(self.path)!r})"


@dataclass
class MemorySmsSink:
    """Keeps the messages in a list (tests, and a process that wants to look at what it sent)."""

    sent: list[SmsMessage] = field(default_factory=list)

    def send(self, message: SmsMessage) -> None:
        self.sent.append(message)

    def last(self, phone: str | None = None) -> SmsMessage:
        for m in reversed(self.sent):
            if phone is None or m.phone == phone:
                return m
        raise LookupError(f"no text message sent{' to ' + phone if phone else ''}")


_installed: SmsGateway | None = None


def gateway() -> SmsGateway:
    """The gateway in force: the installed one, else the file sink at the configured outbox."""
    if _installed is not None:
        return _installed
    s = get_settings()
    return FileSmsSink(s.sms_outbox or s.var_dir / "sms-outbox.jsonl")


def set_gateway(gw: SmsGateway | None) -> None:
    global _installed
    _installed = gw


@contextmanager
def use(gw: SmsGateway) -> Iterator[SmsGateway]:
    """Install ``gw`` for the duration of the block."""
    global _installed
    before = _installed
    _installed = gw
    try:
        yield gw
    finally:
        _installed = before


def mask_phone(phone: str) -> str:
    """A phone number as a message to the customer may show it: ``138****0001`` (the masking policy's format,
    :func:`smartbank.security.service.mask_phone`)."""
    return security.mask_phone(phone.strip()) or "****"
