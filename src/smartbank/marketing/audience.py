"""A campaign's audience: who it is for, chosen from the insight profiles.

An audience is a small document (``Campaign.audience``)::

    {"expression": "age >= 30 and txn_count_90d > 5",   # the tag language of smartbank.insight (optional)
     "segments": ["S2", "S3"],                          # the profile's segment label is one of these (optional)
     "tags": ["salary_customer"],                       # the customer carries one of these tags (optional)
     "model": {"name": "propensity_wealth", "min_score": 0.3}}   # an audience scorer (optional)

The parts are ANDed: a customer is in the audience when every given part holds. The expression is the tag
language the marketers already write their tags in (``insight.service.expression_matches``: the same words, the
same refusals), not a language of its own. A model keeps the customers whose score (``marketing.scores``) is at
least ``min_score``; the score is kept with the customer's assignment.

Being in the audience is not being reachable: marketing needs the customer's consent on a channel, so a preview
counts those who consent to at least one of the campaign's channels separately.

This module registers the insight propensity scores (loan, savings, wealth) as the audience scorers
``propensity_loan``, ``propensity_savings`` and ``propensity_wealth``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.customers import service as customers
from smartbank.errors import ValidationFailed
from smartbank.insight import service as insight
from smartbank.marketing.models import CHANNELS
from smartbank.marketing.scores import AudienceScores, register_scorer, score_audience, scorer_names
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["AUDIENCE_KEYS", "CONSENT_CHANNEL", "PROPENSITY_PRODUCTS", "Audience", "build_audience",
           "check_audience", "consenting_channels", "preview_audience"]

AUDIENCE_KEYS = ("expression", "segments", "tags", "model")
PROPENSITY_PRODUCTS = ("loan", "savings", "wealth")
# the consent registry's channel for each marketing channel (as marketing.contact sends them)
CONSENT_CHANNEL = {"inapp": "push", "banner": "push", "sms": "sms", "email": "email"}
SAMPLE = 10
_CHUNK = 1000


@dataclass
class Audience:
    """The customers an audience selects (ascending ids), their model scores, and the profiles' segments."""

    customer_ids: list[int]
    scores: dict[int, float] = field(default_factory=dict)
    model: str | None = None
    model_version: str | None = None
    segments: dict[int, str | None] = field(default_factory=dict)
    profiles: int = 0


def _text_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 40 for v in value):
        raise ValidationFailed("the audience's list is not right", reason="marketing.audience_list",
                               details={"key": key})
    return sorted(set(value))


def check_audience(audience: Any) -> dict[str, Any]:
    """``audience`` checked and normalised (the expression compiled against the tag language, the model known);
    raises ``ValidationFailed`` with a ``marketing.*`` (or the tag language's ``expr.*``) reason."""
    if audience is None:
        audience = {}
    if not isinstance(audience, dict):
        raise ValidationFailed("an audience is an object", reason="marketing.audience_shape")
    unknown = sorted(set(audience) - set(AUDIENCE_KEYS))
    if unknown:
        raise ValidationFailed("unknown audience keys", reason="marketing.audience_keys",
                               details={"keys": ", ".join(unknown)})
    out: dict[str, Any] = {}
    expression = audience.get("expression")
    if expression not in (None, ""):
        if not isinstance(expression, str):
            raise ValidationFailed("the audience's rule is text", reason="marketing.audience_expression")
        insight.check_expression(expression)  # the tag language's own refusals
        out["expression"] = expression.strip()
    for key in ("segments", "tags"):
        values = _text_list(audience.get(key), key)
        if values:
            out[key] = values
    model = audience.get("model")
    if model not in (None, {}):
        if not isinstance(model, dict) or not isinstance(model.get("name"), str):
            raise ValidationFailed("an audience model needs a name", reason="marketing.audience_model")
        if model["name"] not in scorer_names():
            raise ValidationFailed("unknown audience model", reason="marketing.unknown_model",
                                   details={"model": model["name"], "models": ", ".join(scorer_names())})
        raw = model.get("min_score", 0.0)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(float(raw)) \
                or not -1.0 <= float(raw) <= 1.0:
            raise ValidationFailed("a model's minimum score is a number from -1 to 1",
                                   reason="marketing.min_score")
        out["model"] = {"name": model["name"], "min_score": float(raw)}
    return out


def build_audience(session: Session, audience: dict[str, Any]) -> Audience:
    """The customers ``audience`` selects now (no permission check: the callers check theirs)."""
    aud = check_audience(audience)
    profiles = insight.load_profiles(session)
    ids = profiles["customer_id"].to_list() if profiles.height else []
    segments = dict(zip(ids, profiles["segment"].to_list(), strict=True)) if profiles.height else {}
    chosen = set(int(i) for i in ids)
    if "expression" in aud and chosen:
        chosen &= {int(i) for i in insight.expression_matches(profiles, aud["expression"]).to_list()}
    if "segments" in aud:
        wanted = set(aud["segments"])
        chosen = {c for c in chosen if segments.get(c) in wanted}
    if "tags" in aud:
        chosen &= insight.tagged_customers(session, aud["tags"])
    out = Audience(customer_ids=sorted(chosen), segments={int(k): v for k, v in segments.items()},
                   profiles=len(ids))
    if "model" in aud:
        scored = score_audience(session, aud["model"]["name"], out.customer_ids)
        floor = aud["model"]["min_score"]
        out.scores = {c: float(s) for c, s in scored.scores.items() if s is not None and s >= floor}
        out.customer_ids = [c for c in out.customer_ids if c in out.scores]
        out.model, out.model_version = scored.model, scored.model_version
    return out


def consenting_channels(session: Session, customer_ids: Sequence[int], channels: Sequence[str]
                        ) -> dict[int, list[str]]:
    """For each customer, the ``channels`` (in their order) they consent to marketing on now: the newest
    record of each consent purpose, else its default (off for marketing). Read in bulk; ``contact.send`` asks
    again at send time."""
    purposes = {f"marketing_{CONSENT_CHANNEL[c]}" for c in channels if c in CONSENT_CHANNEL}
    granted: dict[tuple[int, str], bool] = {}
    ids = [int(i) for i in customer_ids]
    rec = customers.ConsentRecord
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k:k + _CHUNK]
        for cid, purpose, ok in session.execute(
                select(rec.customer_id, rec.purpose, rec.granted)
                .where(rec.customer_id.in_(chunk), rec.purpose.in_(sorted(purposes))).order_by(rec.id)):
            granted[(int(cid), purpose)] = bool(ok)  # ascending ids: the newest wins
    return {c: [ch for ch in channels if granted.get((c, f"marketing_{CONSENT_CHANNEL.get(ch, '')}"), False)]
            for c in ids}


def preview_audience(session: Session, actor: Principal, audience: dict[str, Any],
                     channels: Sequence[str] | None = None, *, sample: int = SAMPLE) -> dict[str, Any]:
    """The live preview of an audience: how many customers it selects now, how many of them can be reached
    (consent on at least one of ``channels``), and a sample (customer number, name masked for the viewer's
    role, segment, score). Nothing is written but the audit record."""
    actor.require("marketing.campaigns.manage")
    chans = [c for c in (channels or CHANNELS) if c in CHANNELS]
    aud = build_audience(session, audience)
    consent = consenting_channels(session, aud.customer_ids, chans)
    reachable = sum(1 for c in aud.customer_ids if consent.get(c))
    picked = aud.customer_ids[:max(0, min(sample, 50))]
    rows: dict[int, tuple[str, str]] = {}
    if picked:
        cust = customers.Customer
        rows = {int(i): (n, nm) for i, n, nm in session.execute(
            select(cust.id, cust.number, cust.name).where(cust.id.in_(picked)))}
    out = {"audience": check_audience(audience), "channels": chans, "profiles": aud.profiles,
           "in_audience": len(aud.customer_ids), "reachable": reachable,
           "unreachable": len(aud.customer_ids) - reachable, "model": aud.model, "model_version": aud.model_version,
           "sample": [{"customer_number": rows.get(c, ("", ""))[0],
                       "name": security.present(actor.role, "marketing", "name", rows.get(c, ("", ""))[1]),
                       "segment": aud.segments.get(c), "score": aud.scores.get(c),
                       "channels": consent.get(c, [])} for c in picked]}
    security.audit(session, actor, action="marketing.audience.preview", object_type="audience", object_id=None,
                   after={"audience": out["audience"], "in_audience": out["in_audience"],
                          "reachable": reachable})
    return out


# ------------------------------------------------------------------------------------------------
# the insight propensity scores as audience scorers


def _propensity_scorer(product: str) -> Any:
    def score(session: Session, customer_ids: Sequence[int]) -> AudienceScores:
        prof = insight.CustomerProfile
        out: dict[int, float] = {}
        versions: set[str] = set()
        ids = [int(i) for i in customer_ids]
        for k in range(0, len(ids), _CHUNK):
            for cid, prop, mv in session.execute(select(prof.customer_id, prof.propensity, prof.model_versions)
                                                 .where(prof.customer_id.in_(ids[k:k + _CHUNK]))):
                v = (prop or {}).get(product)
                if isinstance(v, dict):
                    v = v.get("score")
                if isinstance(v, int | float) and math.isfinite(float(v)):
                    out[int(cid)] = float(v)
                    versions.add(str((mv or {}).get("propensity", "rules")))
        return AudienceScores(model=f"propensity_{product}", model_version=",".join(sorted(versions)) or "none",
                              scores=out)

    return score


for _product in PROPENSITY_PRODUCTS:
    register_scorer(f"propensity_{_product}", _propensity_scorer(_product))
