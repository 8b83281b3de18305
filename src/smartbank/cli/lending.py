"""``smartbank lending ...``: seed products and the LPR, list products, rates and applications, keep the
credit blacklist; loans after disbursement (``loans``, ``book``, ``write-off``, ``collect``); the production
credit model (``train``, ``report``). Commands act as the system user (an administrator) - a write-off or a
recovery as the named staff user, ``--as``. The last line of each is one JSON object."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from smartbank.cli.common import DbUrl, emit, json_safe_rounded
from smartbank.money import format_minor

app = typer.Typer(help="Lending: products, applications, credit models, loans.", no_args_is_help=True)
blacklist_app = typer.Typer(help="The credit blacklist (keyed hashes of resident ID numbers).",
                            no_args_is_help=True)
app.add_typer(blacklist_app, name="blacklist")


@app.command("seed")
def seed_cmd(database_url: DbUrl = None) -> None:
    """Add the default loan products and the LPR history (idempotent)."""
    from smartbank import db
    from smartbank.lending import service as lending

    out = db.run_in_transaction(lending.seed_products, engine=db.get_engine(database_url))
    print(f"added {out['products']} products and {out['rates']} reference rates")
    emit(out)


@app.command("products")
def products_cmd(retired: Annotated[bool, typer.Option("--retired", help="include retired products")] = False,
                 database_url: DbUrl = None) -> None:
    """The loan products."""
    from smartbank import db
    from smartbank.lending import service as lending

    items = db.run_in_transaction(lambda s: [lending.product_dict(p) for p in lending.list_products(
        s, include_retired=retired)], engine=db.get_engine(database_url))
    for p in items:
        lo = format_minor(p["min_amount_minor"], grouping=True, drop_zero_fraction=True)
        hi = format_minor(p["max_amount_minor"], grouping=True, drop_zero_fraction=True)
        print(f"{p['code']:<10} {p['name_zh']:<10} {p['kind']:<9} {lo:>12}"
              f" - {hi:<14} {p['min_term_months']}-{p['max_term_months']} months"
              f"  {p['reference_rate']} + {p['spreads_bps']}")
    emit({"products": items})


@app.command("rates")
def rates_cmd(
    set_: Annotated[tuple[str, int] | None, typer.Option(
        "--set", help="publish NAME RATE_BPS, e.g. --set LPR1Y 290")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="effective date of --set, YYYY-MM-DD")] = None,
    as_user: Annotated[str | None, typer.Option(  # noqa: UP007
        "--as", help="with --set: the administrator proposing it (a second one approves: smartbank changes)")] = None,
    reason: Annotated[str, typer.Option("--reason", help="with --set: why (shown to the checker)")] = "",
    database_url: DbUrl = None,
) -> None:
    """The reference rates by effective date; --set NAME RATE_BPS --from DATE --as ADMIN proposes one, published
    once a second administrator approves it (``smartbank changes approve``)."""
    from smartbank import db
    from smartbank.backoffice import service as backoffice
    from smartbank.cli.changes import run_as_staff, staff_principal
    from smartbank.lending import service as lending

    engine = db.get_engine(database_url)
    cid = None
    if set_ is not None:
        if not from_:
            raise typer.BadParameter("--set needs --from DATE")
        if not as_user:
            raise typer.BadParameter("--set needs --as USER: a rate is proposed by one administrator and approved"
                                     " by another")
        try:
            day = date.fromisoformat(from_)
        except ValueError as exc:
            raise typer.BadParameter("--from is YYYY-MM-DD") from exc
        name, bps = set_
        cid = run_as_staff(lambda s: backoffice.propose_change(
            s, staff_principal(s, as_user), kind="lending.rate.set", target=name.upper(),
            payload={"rate_bps": bps, "effective_date": day.isoformat()}, reason=reason).id, engine=engine)
        print(f"proposed as change request #{cid}: published once a second administrator approves it")
    items = db.run_in_transaction(lambda s: lending.list_rates(s), engine=engine)
    for r in items:
        print(f"{r['name']:<6} {r['effective_date']}  {r['rate_bps'] / 100:.2f}%")
    emit({"rates": items} | ({"proposed_change": cid} if cid else {}))


@app.command("applications")
def applications_cmd(status: Annotated[str | None, typer.Option("--status", help="only this status")] = None,
                     limit: Annotated[int, typer.Option(help="at most this many")] = 50,
                     database_url: DbUrl = None) -> None:
    """Loan applications, newest first."""
    from smartbank import db
    from smartbank.lending import service as lending
    from smartbank.security.service import SYSTEM

    def work(s):
        return [{"id": a.id, "number": a.number, "customer_id": a.customer_id, "status": a.status,
                 "amount_minor": a.amount_minor, "term_months": a.term_months, "grade": a.grade,
                 "approved_amount_minor": a.approved_amount_minor, "rate_bps": a.rate_bps,
                 "created_at": a.created_at}
                for a in lending.list_applications(s, SYSTEM, status=status, limit=limit)]

    items = db.run_in_transaction(work, engine=db.get_engine(database_url))
    for a in items:
        print(f"{a['id']:>6} {a['number']:<20} {a['status']:<14} {format_minor(a['amount_minor'], grouping=True):>14}"
              f" {a['term_months']:>3}m grade {a['grade'] or '-'}")
    emit({"applications": items})


@app.command("loans")
def loans_cmd(
    customer_id: Annotated[int, typer.Option("--customer-id", min=1, help="whose loans")],
) -> None:
    """A customer's loans: outstanding principal, next payment, days past due, classification."""
    from rich.console import Console
    from rich.table import Table

    from smartbank import db
    from smartbank.lending import service as lending
    from smartbank.security.service import SYSTEM

    rows = db.run_in_transaction(lambda s: lending.list_loans(s, SYSTEM, customer_id))
    table = Table(title=f"Loans of customer {customer_id}")
    for col in ("loan", "status", "outstanding", "next due", "dpd", "classification"):
        table.add_column(col)
    for r in rows:
        nxt = r["next_due"]
        owed = r.get("still_owed_minor")
        table.add_row(r["number"], r["status"], format_minor(r["outstanding_minor"], r["currency"])
                      + (f" (still owed {format_minor(owed, r['currency'])})" if owed else ""),
                      f"{format_minor(nxt['amount_minor'], r['currency'])} on {nxt['due_date']}" if nxt else "-",
                      str(r["days_past_due"]), r["classification"])
    Console(stderr=True).print(table)
    typer.echo(json.dumps({"customer_id": customer_id, "loans": rows}, default=str))


@app.command("book")
def book_cmd() -> None:
    """The loan book: outstanding and provisions by classification, by delinquency bucket, the
    delinquency rate, the loan loss allowance and how often early warnings were right."""
    from rich.console import Console
    from rich.table import Table

    from smartbank import db
    from smartbank.lending import service as lending
    from smartbank.security.service import SYSTEM

    def work(s: Any) -> dict[str, Any]:
        out = lending.portfolio_summary(s, SYSTEM)
        out["warnings"] = lending.warning_hit_rate(s)
        return out

    res = db.run_in_transaction(work)
    console = Console(stderr=True)
    table = Table(title="Loan book by classification")
    for col in ("classification", "loans", "outstanding", "provision rate", "provision"):
        table.add_column(col)
    for name, v in res["by_classification"].items():
        table.add_row(name, str(v["loans"]), format_minor(v["outstanding_minor"]),
                      f"{v['provision_rate_bps'] / 100:g}%", format_minor(v["provision_minor"]))
    console.print(table)
    table = Table(title="By delinquency bucket")
    for col in ("bucket", "loans", "outstanding", "share"):
        table.add_column(col)
    for name, v in res["by_bucket"].items():
        table.add_row(name, str(v["loans"]), format_minor(v["outstanding_minor"]),
                      "-" if v["share"] is None else f"{v['share']:.2%}")
    console.print(table)
    rate = res["delinquency_rate"]
    console.print(f"delinquency rate: {'-' if rate is None else f'{rate:.2%}'}; allowance "
                  f"{format_minor(res['allowance_balance_minor'])}")
    wo = res["written_off"]
    console.print(f"written off: {wo['loans']} loans, {format_minor(wo['principal_minor'])} of principal; "
                  f"recovered since {format_minor(wo['recovered_minor'])}"
                  + ("" if wo["recovery_rate"] is None else f" ({wo['recovery_rate']:.2%} of the principal)"))
    typer.echo(json.dumps(res, default=str))


@app.command("write-off")
def write_off_cmd(
    loan_id: Annotated[int, typer.Argument(min=1, help="the loan to write off")],
    reason: Annotated[str, typer.Option("--reason", help="why (1-200 characters; audited)")],
    as_user: Annotated[str, typer.Option("--as", help="the acting staff user (a risk officer or an admin)")],
) -> None:
    """Write off an active loan classified loss, as a named staff user: the provision is brought to 100 %,
    the allowance is used up against the loan's account, the write-off is audited under that user."""
    from smartbank.lending import service as lending

    def work(s: Any) -> dict[str, Any]:
        return lending.write_off(s, _staff_user(s, as_user), loan_id, reason=reason)

    _run_as_staff(work)


@app.command("collect")
def collect_cmd(
    loan_id: Annotated[int, typer.Argument(min=1, help="the written-off loan")],
    amount: Annotated[str, typer.Option("--amount", help="yuan received, e.g. 1200 or 1,200.50")],
    reference: Annotated[str, typer.Option("--reference", help="the incoming payment's reference")],
    as_user: Annotated[str, typer.Option("--as", help="the acting staff user (a risk officer or an admin)")],
    key: Annotated[str | None, typer.Option("--key", help="idempotency key (default: from the reference)")]  # noqa: UP007
    = None,
) -> None:
    """Record money received for a written-off loan outside the customer's accounts (a collection agency's
    or a court's payment, through settlement), as a named staff user; audited. Last line: JSON."""
    from smartbank.errors import ValidationFailed
    from smartbank.lending import service as lending
    from smartbank.money import parse_major

    try:
        minor = parse_major(amount)
    except ValidationFailed as exc:
        raise typer.BadParameter(exc.message, param_hint="--amount") from None

    def work(s: Any) -> dict[str, Any]:
        return lending.record_collection(s, _staff_user(s, as_user), loan_id, amount_minor=minor,
                                          reference=reference, key=key or f"collect:{loan_id}:{reference}")

    _run_as_staff(work)


@app.command("train")
def lending_train(
    data: Annotated[Path | None, typer.Option("--data", dir_okay=False, help=(
        "Give-Me-Some-Credit style file (default: datasets_dir/give_me_some_credit/train.csv)"))] = None,
    fast: Annotated[bool, typer.Option("--fast", help="subsample and fewer trees: seconds (demo bank)")] = False,
    seed: Annotated[int, typer.Option(help="random seed")] = 42,
    model_dir: Annotated[Path | None, typer.Option(help="model registry folder (default: settings)")] = None,
) -> None:
    """Train, measure on a held-out 20% and save the production credit model; last line JSON."""
    from rich.console import Console

    from smartbank.lending.service import default_credit_data_path as default_data_path
    from smartbank.lending.service import train_credit_model as train_production

    console = Console(stderr=True)
    path = data or default_data_path()
    if not path.is_file():
        raise typer.BadParameter(f"no such file: {path}", param_hint="--data")
    with console.status(f"training the credit model on {path.name}" + (" (fast)" if fast else "")):
        res = train_production(path, model_dir=model_dir, fast=fast, seed=seed)
    console.print(f"credit {res['version']}: {res['model']}")
    console.print(f"held out ({res['n_holdout']:,} rows): AUC {res['auc']:.4f}  KS {res['ks']:.4f}  "
                  f"Gini {res['gini']:.4f}; challenger (scorecard) AUC {res['challenger_auc']:.4f}"
                  + (f"; default LightGBM AUC {res['lgbm_default_auc']:.4f}" if "lgbm_default_auc" in res else ""))
    console.print(f"trained in {res['train_seconds']:.1f} s; saved to {res['path']}")
    print(json.dumps(json_safe_rounded(res), default=str))


@app.command("report")
def lending_report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("credit_model_report.html"),
    days: Annotated[int, typer.Option(help="recent applications window for PSI, days", min=1)] = 30,
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
    model_dir: Annotated[Path | None, typer.Option(help="model registry folder (default: settings)")] = None,
) -> None:
    """Write the credit model report (metrics, curves, calibration, bands, PSI, champion vs challenger)."""
    from smartbank.lending.service import build_credit_report as build_report

    recent = _recent(days)
    path = build_report(out, model_dir=model_dir, recent=recent, lang=lang)
    typer.echo(str(path))


@blacklist_app.command("add")
def blacklist_add(id_number: Annotated[str, typer.Argument(help="the resident ID number")],
                  reason: Annotated[str, typer.Option("--reason", help="why")] = "",
                  database_url: DbUrl = None) -> None:
    """Put a person on the blacklist (audited)."""
    from smartbank import db
    from smartbank.lending import service as lending
    from smartbank.security.service import SYSTEM

    out = db.run_in_transaction(lambda s: lending.add_to_blacklist(s, SYSTEM, id_number, reason),
                                engine=db.get_engine(database_url))
    print(f"added ****{out['last4']}")
    emit(out)


@blacklist_app.command("remove")
def blacklist_remove(id_number: Annotated[str, typer.Argument(help="the resident ID number")],
                     reason: Annotated[str, typer.Option("--reason", help="why")] = "",
                     database_url: DbUrl = None) -> None:
    """Take a person off the blacklist (audited)."""
    from smartbank import db
    from smartbank.lending import service as lending
    from smartbank.security.service import SYSTEM

    out = db.run_in_transaction(lambda s: lending.remove_from_blacklist(s, SYSTEM, id_number, reason),
                                engine=db.get_engine(database_url))
    print(f"removed ****{out['last4']}")
    emit(out)


@blacklist_app.command("list")
def blacklist_list(removed: Annotated[bool, typer.Option("--removed", help="include removed entries")] = False,
                   database_url: DbUrl = None) -> None:
    """The blacklist (last four characters and reason only)."""
    from smartbank import db
    from smartbank.lending import service as lending
    from smartbank.security.service import SYSTEM

    items = db.run_in_transaction(lambda s: lending.list_blacklist(s, SYSTEM, include_removed=removed),
                                  engine=db.get_engine(database_url))
    for e in items:
        print(f"****{e['last4']}  {'active' if e['active'] else 'removed':<8} {e['reason']}")
    emit({"blacklist": items})


def _staff_user(session: Any, username: str) -> Any:
    """The named active staff user as the acting principal (the one audited)."""
    from smartbank.security import service as security
    from smartbank.security.service import Principal

    user = security.find_user_by_name(session, username)
    if user is None or not user.is_active or user.role == "customer":
        raise typer.BadParameter(f"no active staff user {username!r}", param_hint="--as")
    return Principal(user_id=user.id, username=user.username, role=user.role, customer_id=None,
                     display_name=user.display_name or user.username)


def _run_as_staff(work: Any) -> None:
    """One transaction; a refusal is exit 2 with its reason, success prints the result as JSON."""
    from smartbank import db
    from smartbank.errors import SmartbankError

    try:
        res = db.run_in_transaction(work)
    except SmartbankError as exc:
        typer.echo(f"refused ({exc.status_code} {exc.code}): {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(res, default=str))


def _recent(days: int) -> dict[str, Any] | None:
    """Recent decisions' scores, or None when the database cannot be read (e.g. not migrated yet)."""
    from smartbank import db
    from smartbank.lending.service import recent_credit_scores as recent_scores

    try:
        return db.run_read(lambda s: recent_scores(s, days=days))  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - the report is still useful without the stability section
        return None
