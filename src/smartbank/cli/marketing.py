"""``smartbank marketing ...``: campaigns, the contact policy, experiments, uplift, attribution and ROI,
journeys, loyalty and public-opinion monitoring. Each part is a command group of its own module."""

from __future__ import annotations

import typer

from smartbank.cli import (
    loyalty,
    marketing_campaigns,
    marketing_contact,
    marketing_experiments,
    marketing_journeys,
    marketing_measure,
    marketing_uplift,
    opinion,
)

app = typer.Typer(no_args_is_help=True, help="Digital marketing: campaigns, contact policy, experiments, uplift, "
                                             "ROI, journeys, loyalty and public opinion.")
app.add_typer(marketing_campaigns.app, name="campaign", help="Campaigns: draft, audience preview, approve, run.")
app.add_typer(marketing_contact.app, name="contact", help="The contact policy, deliveries and do-not-disturb.")
app.add_typer(marketing_experiments.app, name="experiment", help="Experiments: arms, sequential tests, winners.")
app.add_typer(marketing_uplift.app, name="uplift", help="Uplift models: train, Qini and AUUC reports.")
app.add_typer(marketing_measure.app, name="report", help="Attribution, ROI per campaign, channel and segment.")
app.add_typer(marketing_journeys.app, name="journey", help="Event-triggered journeys.")
app.add_typer(loyalty.app, name="loyalty", help="The loyalty programme: points, rules, rewards, liability.")
app.add_typer(opinion.app, name="opinion", help="Public-opinion monitoring: feeds, mentions, spikes, alerts.")
