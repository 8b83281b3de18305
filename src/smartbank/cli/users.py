"""``smartbank user ...``: staff and customer sign-ins."""

from __future__ import annotations

from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(help="Users: staff and customer sign-ins.", no_args_is_help=True)


@app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="customer, teller, loan_officer, risk_officer, marketer, "
                                           "service_agent or admin")] = "teller",
    password: Annotated[str | None, typer.Option(help="prompted when omitted")] = None,  # noqa: UP007
    customer_id: Annotated[int | None, typer.Option(help="for role=customer")] = None,  # noqa: UP007
    database_url: DbUrl = None,
) -> None:
    """Create a sign-in (the audit log records it as done by the command line)."""
    import smartbank.models  # noqa: F401 - every table registered (users.customer_id refers to customers)
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.security import service as security

    use_database(database_url)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    def work(s):
        u = security.create_user(s, username=username, password=password, role=role, customer_id=customer_id)
        security.audit(s, security.SYSTEM, action="user.create", object_type="user", object_id=u.id,
                       after={"username": username, "role": role}, note="smartbank user create")
        return u.id

    try:
        uid = db.run_in_transaction(work)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/] {exc.details or ''}")
        raise typer.Exit(2) from None
    emit({"user_id": uid, "username": username, "role": role})


@app.command("totp")
def user_totp(username: str, database_url: DbUrl = None) -> None:
    """FOR THE DEMO ONLY: print the current code of a user's second factor (TOTP), as an authenticator app on
    that person's phone would show it. A real bank never reads a secret back; this exists so that the demo's
    staff sign-ins work without a phone."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.security import service as security

    use_database(database_url)
    try:
        code = db.run_read(lambda s: security.demo_totp_code(s, username))
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/] {exc.details or ''}")
        raise typer.Exit(2) from None
    emit({"username": username, "code": code, "note": "demo only: the code an authenticator app would show now"})


@app.command("reset-mfa")
def user_reset_mfa(username: str, database_url: DbUrl = None) -> None:
    """Remove a user's second factor (a lost phone; identity checked out of band). A staff member enrols a new
    one at their next sign-in. Audited as done by the command line."""
    from smartbank import db
    from smartbank.errors import NotFound, SmartbankError
    from smartbank.security import service as security

    use_database(database_url)

    def work(s):
        u = security.find_user_by_name(s, username)
        if u is None:
            raise NotFound("no such user", details={"username": username})
        security.reset_mfa(s, security.SYSTEM, user_id=u.id)
        return u.id

    try:
        uid = db.run_in_transaction(work)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/] {exc.details or ''}")
        raise typer.Exit(2) from None
    emit({"user_id": uid, "username": username, "second_factor": "removed"})
