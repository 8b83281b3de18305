"""The front door of the machine-learning plumbing the domains share (:data:`__all__`): the model
registry (:mod:`.registry`: save and load artefacts with ``meta.json``, refusing a mismatched one), the
helpers over the activity frame (:mod:`.frames`: its schema, time windows, the card-fraud data set), the
behaviour features several insight models use (:mod:`.activity_features`) and what the gradient-boosted
models share (:mod:`.boosted`).

The models themselves live with the domain that owns the decision (insight, risk, lending, recommend,
assistant); this package knows none of them."""

from __future__ import annotations

from smartbank.ml.activity_features import BEHAVIOUR_FEATURES, RECENCY_CAP_DAYS, behaviour, customer_ids
from smartbank.ml.boosted import BoostedModel
from smartbank.ml.frames import (
    ACTIVITY_SCHEMA,
    NIGHT_HOURS,
    PASSIVE_KINDS,
    add_months,
    at_midnight,
    before,
    card_fraud_path,
    data_hash,
    initiated,
    load_card_fraud,
    major_to_minor,
    month_start,
    normalise,
    window,
)
from smartbank.ml.registry import (
    TRACKED_LIBRARIES,
    ArtefactMismatch,
    ArtefactNotFound,
    LoadedModel,
    RegistryError,
    default_model_dir,
    latest_version,
    library_versions,
    load_model,
    save_model,
)

__all__ = [
    # the model registry
    "ArtefactMismatch", "ArtefactNotFound", "LoadedModel", "RegistryError", "TRACKED_LIBRARIES", "default_model_dir",
    "latest_version", "library_versions", "load_model", "save_model",
    # the activity frame
    "ACTIVITY_SCHEMA", "NIGHT_HOURS", "PASSIVE_KINDS", "add_months", "at_midnight", "before", "card_fraud_path",
    "data_hash", "initiated", "load_card_fraud", "major_to_minor", "month_start", "normalise", "window",
    # shared model parts
    "BEHAVIOUR_FEATURES", "BoostedModel", "RECENCY_CAP_DAYS", "behaviour", "customer_ids",
]
