"""Alembic, driven programmatically so the installed package migrates from any directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from smartbank.config import get_settings
from smartbank.db import normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def revision(message: str, url: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)


def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str | None:
    """The newest revision of this code's migrations."""
    return _scripts().get_current_head()


def known_revision(rev: str) -> bool:
    """Is ``rev`` exactly one of this code's migrations (no prefix matching)?"""
    return rev in {s.revision for s in _scripts().walk_revisions()}
