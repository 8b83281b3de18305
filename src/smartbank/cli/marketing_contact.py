"""`smartbank marketing contact ...`: the contact policy (caps, quiet hours, costs), why a customer was (not)
contacted, the do-not-disturb list and a campaign's contact summary. Changes act as the named staff user
(``--as``; default the system administrator) and are audited. The last line of each is one JSON object."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Any

import typer

from smartbank.cli.common import DbUrl, emit

app = typer.Typer(no_args_is_help=True)
dnd_app = typer.Typer(no_args_is_help=True, help="The do-not-disturb list.")
app.add_typer(dnd_app, name="dnd")

AsUser = Annotated[str | None, typer.Option("--as", help="the acting staff user (default: the system administrator)")]


def _actor(session: Any, username: str | None) -> Any:
    from smartbank.security import service as security
    from smartbank.security.service import SYSTEM, Principal

    if not username:
        return SYSTEM
    user = security.find_user_by_name(session, username)
    if user is None or not user.is_active or user.role == "customer":
        raise typer.BadParameter(f"no active staff user {username!r}", param_hint="--as")
    return Principal(user_id=user.id, username=user.username, role=user.role, customer_id=None,
                     display_name=user.display_name or user.username)


def _run(database_url: str | None, username: str | None, work: Callable[[Any, Any], Any]) -> Any:
    """One transaction; a refusal is exit 2 with its reason."""
    from smartbank import db
    from smartbank.errors import SmartbankError

    try:
        return db.run_in_transaction(lambda s: work(s, _actor(s, username)), engine=db.get_engine(database_url))
    except SmartbankError as exc:
        typer.echo(f"refused ({exc.status_code} {exc.reason}): {exc.message}", err=True)
        raise typer.Exit(2) from None


@app.command("policy")
def policy(database_url: DbUrl = None) -> None:
    """The policy in force: cap per period, quiet hours and cost per message, per channel and for all."""
    from smartbank.marketing import service as marketing

    pol = _run(database_url, None, lambda s, a: marketing.contact_policy(s))
    for p in pol.values():
        cap = "no cap" if p["max_count"] is None else f"{p['max_count']} per {p['period_days']} days"
        quiet = f"{p['quiet_start']}-{p['quiet_end']}" if p["quiet_start"] else "none"
        print(f"{p['channel']:<7} {cap:<18} quiet {quiet:<12} cost {p['cost_micro'] / 1e6:.3f} CNY")
    emit({"policy": pol})


@app.command("set-cap")
def set_cap(channel: Annotated[str, typer.Argument(help="inapp, banner, sms, email or all")],
            max_count: Annotated[int | None, typer.Option("--max", help="messages per period (omit: keep)")] = None,
            no_cap: Annotated[bool, typer.Option("--no-cap", help="remove the cap")] = False,
            period_days: Annotated[int | None, typer.Option("--days", help="the period in days")] = None,
            quiet: Annotated[str | None, typer.Option("--quiet", help="quiet hours HH:MM-HH:MM, or 'none'")] = None,
            cost_micro: Annotated[int | None, typer.Option("--cost-micro", help="cost per message, 1e-6 yuan")] = None,
            as_user: AsUser = None, database_url: DbUrl = None) -> None:
    """Change a channel's cap, period, quiet hours or cost (marketing.policy.manage; audited)."""
    from smartbank.marketing import service as marketing

    changes: dict[str, Any] = {}
    if no_cap:
        changes["max_count"] = None
    elif max_count is not None:
        changes["max_count"] = max_count
    if period_days is not None:
        changes["period_days"] = period_days
    if cost_micro is not None:
        changes["cost_micro"] = cost_micro
    if quiet is not None:
        if quiet.strip().lower() == "none":
            changes["quiet_start"] = changes["quiet_end"] = None
        else:
            start, _, end = quiet.partition("-")
            changes["quiet_start"], changes["quiet_end"] = start.strip(), end.strip()
    out = _run(database_url, as_user, lambda s, a: marketing.set_contact_policy(s, a, channel, **changes))
    emit(out)


@app.command("why")
def why(customer_number: Annotated[str, typer.Argument(help="the customer number")],
        as_user: AsUser = None, database_url: DbUrl = None) -> None:
    """Each contact attempt of a customer with the reason it was not sent, and what the policy says now."""
    from smartbank.marketing import service as marketing

    out = _run(database_url, as_user, lambda s, a: marketing.why_not_contacted(s, a, customer_number))
    for a in out["attempts"]:
        print(f"{a['created_at']:%Y-%m-%d %H:%M}  {a['channel']:<6} {a['status']:<10} {a['reason'] or ''}")
    print("now: " + ", ".join(f"{ch}={d['reason'] or 'may send'}" for ch, d in out["now"].items()))
    emit(out)


@app.command("summary")
def summary(campaign_id: Annotated[int, typer.Argument(help="the campaign id")],
            as_user: AsUser = None, database_url: DbUrl = None) -> None:
    """A campaign's attempts per status, suppression reason and channel, opens, clicks and cost."""
    from smartbank.marketing import service as marketing

    emit(_run(database_url, as_user, lambda s, a: marketing.contact_report(s, a, campaign_id)))


def _customer_id(session: Any, actor: Any, number: str) -> int:
    from smartbank.marketing import service as marketing

    return int(marketing.why_not_contacted(session, actor, number)["customer"]["id"])


@dnd_app.command("add")
def dnd_add(customer_number: Annotated[str, typer.Argument(help="the customer number")],
            reason: Annotated[str, typer.Option("--reason", help="why (required)")],
            channel: Annotated[str, typer.Option("--channel", help="inapp, banner, sms, email or all")] = "all",
            until: Annotated[str | None, typer.Option("--until", help="last day, YYYY-MM-DD (omit: until removed)")]
            = None,
            as_user: AsUser = None, database_url: DbUrl = None) -> None:
    """Put a customer on do-not-disturb (marketing.suppress; audited)."""
    from smartbank.clock import BANK_TZ
    from smartbank.marketing import service as marketing

    when = None
    if until:
        try:
            when = datetime.combine(date.fromisoformat(until), time(23, 59, 59), tzinfo=BANK_TZ)
        except ValueError:
            raise typer.BadParameter("not a date (YYYY-MM-DD)", param_hint="--until") from None
    emit(_run(database_url, as_user, lambda s, a: marketing.add_do_not_disturb(
        s, a, _customer_id(s, a, customer_number), channel=channel, reason=reason, until=when)))


@dnd_app.command("remove")
def dnd_remove(dnd_id: Annotated[int, typer.Argument(help="the entry's id")],
               as_user: AsUser = None, database_url: DbUrl = None) -> None:
    """Take an entry off the do-not-disturb list (audited)."""
    from smartbank.marketing import service as marketing

    emit(_run(database_url, as_user, lambda s, a: marketing.remove_do_not_disturb(s, a, dnd_id)))


@dnd_app.command("list")
def dnd_list(customer_number: Annotated[str | None, typer.Argument(help="only this customer")] = None,
             database_url: DbUrl = None) -> None:
    """The entries in force."""
    from smartbank.marketing import service as marketing

    def work(s: Any, a: Any) -> list[dict[str, Any]]:
        cid = _customer_id(s, a, customer_number) if customer_number else None
        return marketing.list_do_not_disturb(s, a, cid)

    items = _run(database_url, None, work)
    for d in items:
        until = d["until"] or "removed"
        print(f"{d['id']:>6} customer {d['customer_id']} {d['channel']:<6} until {until}  {d['reason']}")
    emit({"items": items})
