"""Risk control: point-in-time fraud features, the fraud model and its time-split evaluation."""

from smartbank.risk.features import FEATURE_NAMES, FEATURES, build_features, features_for_payment, load_transactions

__all__ = ["FEATURES", "FEATURE_NAMES", "build_features", "features_for_payment", "load_transactions"]
