"""Moved to :mod:`smartbank.insight.report` (the insight models' report). This name stays only until the
command line imports the report through ``smartbank.insight.service``."""

from smartbank.insight.report import build_report

__all__ = ["build_report"]
