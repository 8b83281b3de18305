"""smartbank: an open-source intelligent digital-banking platform."""

__version__ = "0.1.0"
