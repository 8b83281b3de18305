"""``smartbank marketing experiment ...``: a campaign read as an experiment. Commands act as the system user;
the last line of each is one JSON object."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from smartbank.cli.common import DbUrl, emit

app = typer.Typer(help="Experiments: arms, sequential tests, winners.", no_args_is_help=True)

Code = Annotated[str, typer.Option("--campaign", help="the campaign's code")]


def _print(read: dict[str, Any] | None) -> None:
    if not read:
        print("no evaluation yet", file=sys.stderr)
        return
    for a in read["arms"]:
        rate = "-" if a["rate"] is None else f"{a['rate']:.4f}"
        print(f"{a['arm']:<10} n {a['n']:>8} conversions {a['conversions']:>7} rate {rate}"
              f"{'  (control)' if a['is_control'] else ''}", file=sys.stderr)
    for c in read["comparisons"]:
        lift = "-" if c["lift"] is None else f"{c['lift']:+.1%}"
        print(f"{c['arm']} vs {c['control']}: effect {c['effect']:+.4f} lift {lift} "
              f"CI [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] p {c['p_value']:.4f} (alpha {c['alpha']:.4f})",
              file=sys.stderr)
    print(f"decision: {read['decision']}" + (f", winner {read['winner']}" if read["winner"] else ""),
          file=sys.stderr)


def _run(fn: Any, database_url: str | None) -> Any:
    from smartbank import db
    from smartbank.errors import SmartbankError

    try:
        return db.run_in_transaction(fn, engine=db.get_engine(database_url))
    except SmartbankError as exc:
        emit({"error": exc.code, "reason": getattr(exc, "reason", None), "message": str(exc)})
        raise typer.Exit(1) from exc


@app.command("show")
def show(campaign: Code, database_url: DbUrl = None) -> None:
    """The campaign's counts per arm now and its last evaluation."""
    from smartbank.marketing import service as marketing
    from smartbank.security.service import SYSTEM

    out = _run(lambda s: marketing.experiment_report(s, SYSTEM, campaign), database_url)
    _print(out["last"])
    out.pop("history", None)
    emit(out)


@app.command("evaluate")
def evaluate(campaign: Code, alpha: Annotated[float, typer.Option(min=0.0001, max=0.5)] = 0.05,
             database_url: DbUrl = None) -> None:
    """Evaluate the experiment now and store the read (a significantly worse guardrail pauses the campaign)."""
    from smartbank.marketing import service as marketing
    from smartbank.security.service import SYSTEM

    out = _run(lambda s: marketing.evaluate_experiment(s, campaign, actor=SYSTEM, alpha=alpha), database_url)
    _print(out)
    emit(out)


@app.command("simulate")
def simulate(experiments: Annotated[int, typer.Option(min=10, max=100_000)] = 400,
             looks: Annotated[int, typer.Option(min=1, max=1000)] = 20,
             step: Annotated[int, typer.Option(min=1, max=1_000_000, help="customers added per arm per look")] = 250,
             p_control: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.10,
             p_arm: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.10,
             alpha: Annotated[float, typer.Option(min=0.0001, max=0.5)] = 0.05,
             seed: int = 0) -> None:
    """Simulated experiments (no database): how often the sequential test and the naive repeated z-test
    declare a difference when looked at repeatedly (equal rates: the false-positive rate), and the coverage of
    the confidence sequence."""
    from smartbank.marketing import service as marketing

    out = marketing.simulate_sequential(experiments=experiments, looks=looks, step=step, p_control=p_control,
                                        p_arm=p_arm, alpha=alpha, seed=seed)
    print(f"declared: sequential {out['msprt_declared']:.3f}, naive repeated z-test {out['naive_declared']:.3f}; "
          f"coverage {out['coverage']:.3f}", file=sys.stderr)
    emit(out)
