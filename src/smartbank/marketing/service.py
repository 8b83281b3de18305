"""The front door of the marketing domain: campaigns and journeys, the contact policy and its channels,
experiments, uplift targeting, attribution and ROI.

Each part keeps its public names in its own module's ``__all__``; this module re-exports them all, and is the
only module of the domain that outsiders import.
"""

from __future__ import annotations

from smartbank.marketing import assignment as _assignment
from smartbank.marketing import audience as _audience
from smartbank.marketing import campaigns as _campaigns
from smartbank.marketing import contact as _contact
from smartbank.marketing import experiments as _experiments
from smartbank.marketing import jobs as _jobs
from smartbank.marketing import journeys as _journeys
from smartbank.marketing import measure as _measure
from smartbank.marketing import response as _response
from smartbank.marketing import scores as _scores
from smartbank.marketing import uplift as _uplift
from smartbank.marketing.assignment import *  # noqa: F403
from smartbank.marketing.audience import *  # noqa: F403
from smartbank.marketing.campaigns import *  # noqa: F403
from smartbank.marketing.contact import *  # noqa: F403
from smartbank.marketing.experiments import *  # noqa: F403
from smartbank.marketing.jobs import *  # noqa: F403
from smartbank.marketing.journeys import *  # noqa: F403
from smartbank.marketing.measure import *  # noqa: F403
from smartbank.marketing.models import (
    CAMPAIGN_STATUSES,
    CHANNELS,
    GOALS,
    MESSAGE_STATUSES,
    Campaign,
    CampaignArm,
    CampaignAssignment,
    Conversion,
    MarketingMessage,
)
from smartbank.marketing.response import *  # noqa: F403
from smartbank.marketing.scores import *  # noqa: F403
from smartbank.marketing.sequential import simulate as simulate_sequential
from smartbank.marketing.uplift import *  # noqa: F403

__all__ = [
    "CAMPAIGN_STATUSES", "CHANNELS", "GOALS", "MESSAGE_STATUSES",
    "Campaign", "CampaignArm", "CampaignAssignment", "Conversion", "MarketingMessage", "simulate_sequential",
    *_assignment.__all__, *_scores.__all__, *_contact.__all__, *_audience.__all__, *_campaigns.__all__,
    *_experiments.__all__, *_uplift.__all__, *_measure.__all__, *_journeys.__all__, *_jobs.__all__,
    *_response.__all__,
]
