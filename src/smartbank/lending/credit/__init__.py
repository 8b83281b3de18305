"""Credit scoring for the lending module.

- :mod:`.data`: reading any tabular file, coercing the target (1 = default / bad), dropping identifiers,
  string columns as categories.
- :mod:`.model`: :class:`~.model.CreditModel`, a WoE scorecard (optbinning binning + logistic regression,
  PDO-scaled points) blended with a conservative LightGBM; the number of trees and the blend weight are
  chosen by stratified K-fold cross-validation inside the training data.
- :mod:`.evaluate`: AUC, KS, Gini, curves, calibration, score bands, PSI; ``smartbank eval credit``.
- :mod:`.scorer`: the production model (Give Me Some Credit features), training, loading, scoring with
  adverse-action reasons (:mod:`.reasons`).
- :mod:`.report`: the HTML model report; :mod:`.monitor`: recent decisions' scores for PSI.

See docs/LENDING_MODELS.md.
"""
