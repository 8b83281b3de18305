"""Audience scorers: the models a campaign's audience can be chosen by (``audience.model.name`` above a
``min_score``). A part of the domain that owns a model registers it here; the audience builder asks by name.

A scorer takes the session and customer ids and answers ``{customer_id: score}`` (a probability or an uplift,
higher = more worth contacting) with the model version that produced it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

__all__ = ["AudienceScores", "Scorer", "register_scorer", "scorer_names", "score_audience"]


@dataclass(frozen=True)
class AudienceScores:
    model: str
    model_version: str
    scores: dict[int, float]


Scorer = Callable[[Session, Sequence[int]], AudienceScores]
_scorers: dict[str, Scorer] = {}


def register_scorer(name: str, scorer: Scorer) -> None:
    _scorers[name] = scorer


def scorer_names() -> list[str]:
    return sorted(_scorers)


def score_audience(session: Session, name: str, customer_ids: Sequence[int]) -> AudienceScores:
    from smartbank.errors import ValidationFailed

    fn = _scorers.get(name)
    if fn is None:
        raise ValidationFailed("unknown audience model", reason="marketing.unknown_model",
                               details={"model": name, "models": scorer_names()})
    return fn(session, customer_ids)
