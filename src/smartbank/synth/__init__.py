"""A deterministic synthetic bank: realistic customers, accounts, bills and a history of transactions
that obeys every ledger rule. See docs/SYNTH.md."""

from smartbank.synth.catalog import Catalog, seed_catalog
from smartbank.synth.service import run

__all__ = ["Catalog", "run", "seed_catalog"]
