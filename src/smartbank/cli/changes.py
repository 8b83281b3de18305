"""``smartbank changes ...``: maker-checker for sensitive configuration from the command line.

The command line acts as a *named staff user* (``--as USERNAME``), never as the system: a change to risk rules
and limits, reference rates, products, daily limits or staff roles needs two different people, so each step is
attributed to (and audited under) the user named, who must be an active staff member holding the kind's
permission. ``propose`` makes a change request, ``list`` shows the queue, ``approve`` applies a request
proposed by someone else, ``reject`` turns it down with a note, ``withdraw`` takes one's own back. Initial
seeding (``smartbank demo``, ``... seed``, ``smartbank db upgrade``) is not a change request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(help="Change requests: propose, approve, reject sensitive configuration (maker-checker).",
                  no_args_is_help=True)

AsUser = Annotated[str, typer.Option("--as", help="the acting staff user (audited under this name)")]


def staff_principal(session: Any, username: str) -> Any:
    """The named active staff user as the acting principal (the one audited)."""
    import smartbank.models  # noqa: F401 - every table registered: a write resolves foreign keys across domains
    from smartbank.security import service as security

    user = security.find_user_by_name(session, username)
    if user is None or not user.is_active or user.role not in security.STAFF_ROLES:
        raise typer.BadParameter(f"no active staff user {username!r}", param_hint="--as")
    return security.principal_of(user)


def run_as_staff(work: Callable[[Any], Any], *, engine: Any = None) -> Any:
    """One transaction; a refusal is exit 2 with its reason."""
    from smartbank import db
    from smartbank.errors import SmartbankError

    try:
        return db.run_in_transaction(work, engine=engine)
    except SmartbankError as exc:
        typer.echo(f"refused ({exc.status_code} {exc.code}): {exc.message} {exc.details or ''}", err=True)
        raise typer.Exit(2) from None


def _show(c: dict[str, Any]) -> None:
    console.print(f"#{c['id']} {c['kind']} {c['target']} [{c['status']}] by {c['requested_by_name'] or '-'}"
                  f"{': ' + c['reason'] if c['reason'] else ''}")
    for r in c["changes"]:
        before = "(new)" if c["before"] is None else json.dumps(r["before"], ensure_ascii=False, default=str)
        console.print(f"    {r['field']}: {before} -> {json.dumps(r['after'], ensure_ascii=False, default=str)}")


@app.command("propose")
def propose_cmd(
    kind: Annotated[str, typer.Argument(help="e.g. lending.rate.set, risk.rule.mode, user.role")],
    target: Annotated[str, typer.Argument(help="the object: a rule or product code, a limit, customer or user id")],
    as_user: AsUser,
    payload: Annotated[str, typer.Option("--payload", help='the new value as JSON, e.g. \'{"mode": "retired"}\'')]
    = "{}",
    reason: Annotated[str, typer.Option("--reason", help="why (shown to the checker, audited)")] = "",
    database_url: DbUrl = None,
) -> None:
    """Propose a change; it applies when a different staff member approves it. Last line: JSON."""
    from smartbank.backoffice import service as backoffice

    use_database(database_url)
    try:
        value = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter("--payload is a JSON object") from exc
    if not isinstance(value, dict):
        raise typer.BadParameter("--payload is a JSON object")

    def work(s: Any) -> dict[str, Any]:
        req = backoffice.propose_change(s, staff_principal(s, as_user), kind=kind, target=target, payload=value,
                                        reason=reason)
        return backoffice.change_as_dict(s, req)

    c = run_as_staff(work)
    _show(c)
    emit({"change": c})


@app.command("list")
def list_cmd(
    as_user: AsUser,
    status: Annotated[str, typer.Option("--status", help="pending, applied, rejected, withdrawn or all")]
    = "pending",
    database_url: DbUrl = None,
) -> None:
    """The change requests of the kinds the named user decides (pending: oldest first). Last line: JSON."""
    from smartbank.backoffice import service as backoffice

    use_database(database_url)
    items = run_as_staff(lambda s: [backoffice.change_as_dict(s, r) for r in backoffice.list_changes(
        s, staff_principal(s, as_user), status=None if status == "all" else status, limit=500)])
    for c in items:
        _show(c)
    if not items:
        console.print("no change requests")
    emit({"changes": items})


@app.command("approve")
def approve_cmd(change_id: Annotated[int, typer.Argument(min=1)], as_user: AsUser,
                note: Annotated[str, typer.Option("--note")] = "", database_url: DbUrl = None) -> None:
    """Approve a change someone else proposed: it applies now. Last line: JSON."""
    from smartbank.backoffice import service as backoffice

    use_database(database_url)
    c = run_as_staff(lambda s: backoffice.change_as_dict(
        s, backoffice.approve_change(s, staff_principal(s, as_user), change_id, note=note)))
    _show(c)
    emit({"change": c})


@app.command("reject")
def reject_cmd(change_id: Annotated[int, typer.Argument(min=1)], as_user: AsUser,
               note: Annotated[str, typer.Option("--note", help="why (required)")], database_url: DbUrl = None
               ) -> None:
    """Turn a change down; nothing changes. Last line: JSON."""
    from smartbank.backoffice import service as backoffice

    use_database(database_url)
    c = run_as_staff(lambda s: backoffice.change_as_dict(
        s, backoffice.reject_change(s, staff_principal(s, as_user), change_id, note=note)))
    _show(c)
    emit({"change": c})


@app.command("withdraw")
def withdraw_cmd(change_id: Annotated[int, typer.Argument(min=1)], as_user: AsUser,
                 note: Annotated[str, typer.Option("--note")] = "", database_url: DbUrl = None) -> None:
    """Take back a change one proposed. Last line: JSON."""
    from smartbank.backoffice import service as backoffice

    use_database(database_url)
    c = run_as_staff(lambda s: backoffice.change_as_dict(
        s, backoffice.withdraw_change(s, staff_principal(s, as_user), change_id, note=note)))
    _show(c)
    emit({"change": c})
