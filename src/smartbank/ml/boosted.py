"""What the gradient-boosted models share: their constructor parameters by name, and rebuilding one
from a saved booster (see :mod:`smartbank.ml.registry`)."""

from __future__ import annotations

from typing import Any, ClassVar, Self


class BoostedModel:
    """Mixin: ``PARAMS`` names the constructor arguments saved with the model; the fitted state is
    ``booster_`` (a LightGBM booster), ``features_`` and ``evaluation_``."""

    PARAMS: ClassVar[tuple[str, ...]] = ()
    booster_: Any
    features_: list[str]
    evaluation_: dict[str, Any]

    def params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.PARAMS}

    @classmethod
    def from_saved(cls, booster: Any, params: dict[str, Any], features: list[str],
                   evaluation: dict[str, Any] | None = None) -> Self:
        m = cls(**params)
        m.booster_ = booster
        m.features_ = list(features)
        m.evaluation_ = evaluation or {}
        return m
