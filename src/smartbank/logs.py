"""The platform's logs: one JSON line per event on stderr, written by a background thread.

A request (or a job) only puts its record on an in-memory queue (:class:`logging.handlers.QueueHandler`);
a :class:`logging.handlers.QueueListener` thread formats the JSON and writes it, so a slow terminal, pipe or
log collector never holds up an answer. What must be read in the emitting thread is read there before the
record is queued: the message with its arguments, the exception's traceback and the request id (a context
variable the listener thread cannot see).

- :func:`configure` installs the handler on the ``smartbank`` logger (once per process).
- :func:`start` / :func:`stop` start and stop the listener thread (counted: the app's lifespan, the worker
  and the CLI commands that serve each start it and stop it); :func:`stop` writes what is still queued.
  While no listener runs, records are written at once, in the emitting thread, as before.
- :class:`RedactingFilter` (installed on the handler by :func:`configure`) replaces the personal information
  that :mod:`smartbank.pii` recognises (ID numbers, mobiles, bank cards, e-mails, credit codes) in every
  record's message, arguments, structured fields and traceback before it is queued: logs carry no personal data.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from logging.handlers import QueueHandler, QueueListener
from typing import IO

from smartbank import pii

LOGGER = "smartbank"
LISTENER_THREAD = "smartbank-log-writer"

# the request being served, set by the API's request middleware: a log line and an audit record name it
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class RedactingFilter(logging.Filter):
    """Redacts personal information in a record (message with its arguments, ``fields``, exception text); the
    record is kept, never dropped. Installed on the platform's handler; can be added to any other handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: logged as it is, its arguments left out
            message = str(record.msg)
        record.msg, record.args = pii.redact(message), None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = pii.redact_value(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = pii.redact(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = pii.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage()}
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            out["request_id"] = rid
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # formatted before the record was queued
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def plain_formatter() -> logging.Formatter:
    return logging.Formatter("%(levelname)s %(name)s %(message)s")


class _Stderr(logging.StreamHandler):
    """Writes to the process's stderr as it is at each write (a test runner or a command may swap it), or to a
    stream given for good."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        logging.Handler.__init__(self)
        self._fixed = stream

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: IO[str] | None) -> None:
        self._fixed = value


class _Handoff(QueueHandler):
    """Queues a record for the listener while it runs; writes it at once otherwise."""

    def __init__(self, q: queue.SimpleQueue, target: logging.Handler) -> None:
        super().__init__(q)
        self.target = target
        self.listening = False

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # everything that depends on the emitting thread, or on objects it may change later, is read now;
        # the JSON formatting is left to the listener
        r = copy.copy(record)
        r.msg, r.args = record.getMessage(), None
        r.message = r.msg
        if record.exc_info:
            r.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            r.exc_info = None
        if getattr(record, "request_id", None) is None:
            r.request_id = request_id_var.get()
        return r

    def emit(self, record: logging.LogRecord) -> None:
        if self.listening:
            super().emit(record)
        else:
            self.target.handle(self.prepare(record))


_guard = threading.Lock()
_handoff: _Handoff | None = None
_listener: QueueListener | None = None
_users = 0


def configure(json_logs: bool = True, level: int = logging.INFO, *, stream: IO[str] | None = None) -> None:
    """Install the queue handler on the ``smartbank`` logger (once per process; later calls do nothing)."""
    global _handoff
    with _guard:
        if _handoff is not None:
            return
        target = _Stderr(stream)
        target.setFormatter(JsonFormatter() if json_logs else plain_formatter())
        _handoff = _Handoff(queue.SimpleQueue(), target)
        _handoff.addFilter(RedactingFilter())
        root = logging.getLogger(LOGGER)
        root.addHandler(_handoff)
        root.setLevel(level)
        root.propagate = False


def start() -> None:
    """Start the listener thread (counted: it runs until as many :func:`stop` calls)."""
    global _listener, _users
    with _guard:
        _users += 1
        if _handoff is None or _listener is not None:
            return
        _listener = QueueListener(_handoff.queue, _handoff.target, respect_handler_level=True)
        _listener.start()
        if _listener._thread is not None:  # a name to recognise it by in thread dumps and tests
            _listener._thread.name = LISTENER_THREAD
        _handoff.listening = True


def stop() -> None:
    """Stop the listener once its last user stopped; what is still queued is written first."""
    global _listener, _users
    with _guard:
        _users = max(0, _users - 1)
        if _users or _listener is None or _handoff is None:
            return
        _handoff.listening = False  # from now on records are written at once
        _listener.stop()  # writes what was queued before, then ends the thread
        _listener = None
        pending: queue.SimpleQueue = _handoff.queue  # type: ignore[assignment]
        while True:  # a record queued while the listener was being stopped
            try:
                record = pending.get_nowait()
            except queue.Empty:
                break
            if record is not None:
                _handoff.target.handle(record)


@contextmanager
def running() -> Iterator[None]:
    start()
    try:
        yield
    finally:
        stop()


@contextmanager
def writing_to(stream: IO[str], formatter: logging.Formatter | None = None) -> Iterator[None]:
    """The lines go to ``stream`` (with ``formatter``) while the block runs (tests)."""
    target = _handoff.target if _handoff is not None else None
    if not isinstance(target, _Stderr):
        raise RuntimeError("logging is not configured")
    old_stream, old_formatter = target._fixed, target.formatter
    target.stream, target.formatter = stream, formatter or old_formatter
    try:
        yield
    finally:
        target.stream, target.formatter = old_stream, old_formatter


def is_listening() -> bool:
    return _handoff is not None and _handoff.listening


__all__ = ["JsonFormatter", "LISTENER_THREAD", "RedactingFilter", "configure", "is_listening", "plain_formatter",
           "request_id_var", "running", "start", "stop", "writing_to"]
