"""Data integration and cleaning: ``smartbank import customers|accounts|transactions``."""

from smartbank.insight.importing.mapping import Mapping, MappingError, load_mapping
from smartbank.insight.importing.rules import RULES
from smartbank.insight.importing.service import ImportFileError, ImportResult, run_import

__all__ = ["RULES", "ImportFileError", "ImportResult", "Mapping", "MappingError", "load_mapping", "run_import"]
