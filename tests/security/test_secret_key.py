"""The server refuses to serve with the published development secret key unless development mode is on."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from smartbank import config, db
from smartbank.api.app import create_app
from smartbank.cli import app as cli_app
from smartbank.config import DEV_SECRET_KEY, InsecureSecretKey
from tests.web.conftest import make_user


@pytest.fixture
def settings_env(monkeypatch):
    monkeypatch.setenv("SMARTBANK_DEV_MODE", "0")  # recorded, so what the demo sets is undone after the test
    yield monkeypatch
    config.reset_settings()


@pytest.mark.parametrize("key", [None, DEV_SECRET_KEY, "short-key"])
def test_app_refuses_a_guessable_secret_key(settings_env, key):
    if key is None:
        settings_env.delenv("SMARTBANK_SECRET_KEY", raising=False)
    else:
        settings_env.setenv("SMARTBANK_SECRET_KEY", key)
    config.reset_settings()
    with pytest.raises(InsecureSecretKey, match="SMARTBANK_SECRET_KEY"):
        create_app()


def test_serve_refuses_the_default_key_with_a_clear_message(settings_env):
    settings_env.setenv("SMARTBANK_SECRET_KEY", DEV_SECRET_KEY)
    config.reset_settings()
    r = CliRunner().invoke(cli_app, ["serve", "--port", "1"])
    assert r.exit_code == 2
    assert "SMARTBANK_SECRET_KEY" in r.output and "SMARTBANK_DEV_MODE" in r.output


def test_development_mode_allows_the_default_key(settings_env):
    settings_env.setenv("SMARTBANK_SECRET_KEY", DEV_SECRET_KEY)
    settings_env.setenv("SMARTBANK_DEV_MODE", "1")
    config.reset_settings()
    assert create_app() is not None


def test_a_real_key_serves(settings_env):
    settings_env.setenv("SMARTBANK_SECRET_KEY", "k" * 40)
    config.reset_settings()
    assert create_app() is not None


@pytest.mark.commits  # the demo migrates through an engine of its own
def test_demo_turns_development_mode_on_and_says_so(settings_env, database_url, monkeypatch):
    """``smartbank demo`` (``make run``) still starts with the default key: it sets the development flag."""
    from smartbank.cli import demo as demo_cli

    settings_env.setenv("SMARTBANK_SECRET_KEY", DEV_SECRET_KEY)
    config.reset_settings()
    served = {}
    monkeypatch.setattr(demo_cli, "serve", lambda **kw: served.setdefault("dev", config.get_settings().dev_mode))
    # an already seeded bank: the demo skips seeding and goes straight to serving
    make_user(db.get_engine(database_url), "admin", role="admin")
    r = CliRunner().invoke(cli_app, ["demo"])
    assert r.exit_code == 0, r.output
    assert served == {"dev": True}
    assert "development mode" in r.output
