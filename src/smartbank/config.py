"""Settings, read from ``SMARTBANK_*`` environment variables (lazily, never at import time)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

# the secret key a fresh checkout ships with: fine on a developer's machine, never on a served bank
DEV_SECRET_KEY = "dev-only-change-me"
MIN_SECRET_KEY_CHARS = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMARTBANK_", extra="ignore")

    database_url: str = "sqlite:///./var/smartbank.db"
    # keys the web forms' CSRF tokens, the payment one-time codes' hashes and the credit blacklist's hashes
    secret_key: str = DEV_SECRET_KEY
    # development mode: the server may run with the development secret key (``smartbank demo`` sets it)
    dev_mode: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    session_minutes: int = 30
    # the largest request body the server reads (413 beyond it); no route takes file uploads
    max_body_bytes: int = 1_048_576
    # a bearer token a Prometheus scraper may present at /metrics (empty: only signed-in administrators)
    metrics_token: str = ""
    # sign-in throttling: failures per (username, client address), per client address and bank-wide within a
    # window of login_lock_minutes; a key at its limit is refused for the next login_lock_minutes. While the
    # bank-wide count is over its limit, a pair gets login_alert_max_failures and an address login_max_failures.
    login_max_failures: int = 5
    login_address_max_failures: int = 20
    login_global_max_failures: int = 1000
    login_alert_max_failures: int = 2
    login_lock_minutes: int = 15
    default_daily_limit_minor: int = 50_000_00  # CNY 50,000.00 per customer per day
    default_currency: str = "CNY"
    # the background worker (``smartbank worker``): how often it chains new transfers into the journal
    seal_interval_seconds: float = 1.0
    log_json: bool = True
    var_dir: Path = Path("./var")
    # the journal's chain key (HMAC-SHA256), never stored in the database and not the web secret: the key
    # itself, or a file holding it; with neither set, ``<var_dir>/ledger.key`` (made on first use, mode 0600)
    ledger_key: str | None = None
    ledger_key_file: Path | None = None
    # the master key of the personal-data encryption (it wraps the data keys in ``data_keys`` and keys the blind
    # indexes), never stored in the database: 32 random bytes in base64, or a file holding them; with neither
    # set, ``<var_dir>/master.key`` (made on first use, mode 0600: development and the demo; production sets one)
    master_key: str | None = None
    master_key_file: Path | None = None
    # signed checkpoints of the journal's head, appended after every seal, outside the database; default: next
    # to a SQLite database file (``<db>.checkpoints.jsonl``), else ``<var_dir>/ledger-checkpoints.jsonl``
    ledger_checkpoint_file: Path | None = None
    # trained models (each with its meta.json), and the public datasets used by evals and examples
    model_dir: Path = Path("./var/models")
    datasets_dir: Path = Path("../shared/datasets")
    # how often the worker folds new transactions into customer profiles and tags (0 = never)
    insight_refresh_seconds: float = 5.0
    # how often the worker runs marketing's due work: campaign sends, journey steps, attribution, points expiry,
    # opinion spikes (0 = never)
    marketing_interval_seconds: float = 60.0
    # the margin rules of attribution, per goal, over the defaults (marketing.measure.DEFAULT_MARGIN_RULES), e.g.
    # {"wealth_purchase": {"rate_bp": 60, "months": 9}}
    marketing_margin_rules: dict[str, dict[str, int]] = {}
    # the shared secret of the public-opinion webhook (HMAC-SHA256 of the body); unset: the webhook refuses all
    opinion_webhook_secret: str | None = None
    # how often the worker looks for a finished business day to close, and closes every one not yet closed
    # (interest, scheduled transfers, bills, loans, risk indicators, wealth settlement; 0 = never: run
    # ``smartbank close-of-day`` yourself)
    close_of_day_check_seconds: float = 300.0
    # risk decisions: fraud-score bands of the model (a rule or limit may ask for more), label delay of the
    # online features, and the step-up one-time code
    risk_challenge_score: float = 0.5
    risk_review_score: float = 0.8
    risk_block_score: float = 0.97
    risk_label_delay_days: int = 7
    risk_otp_seconds: int = 300
    risk_otp_attempts: int = 3
    # step-up: a payment of at least this much to a payee saved less than 24 hours ago needs a second factor
    # (the customer's TOTP code when enrolled, else a one-time code by text message)
    step_up_new_payee_minor: int = 5_000_00
    # where the development text-message sink writes one-time codes (default: <var_dir>/sms-outbox.jsonl)
    sms_outbox: Path | None = None
    # marketing e-mail goes out through this SMTP server (username and password only when it asks for them)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "marketing@smartbank.example"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0
    # the address customers reach the portal at, for the links in marketing e-mail and text messages
    public_base_url: str = "http://127.0.0.1:8000"


class InsecureSecretKey(RuntimeError):
    """The server was asked to serve with a secret key anyone can know, outside development mode."""


def secret_key_problem(settings: Settings) -> str | None:
    """Why ``settings.secret_key`` must not key a served bank, or None when it may."""
    key = settings.secret_key
    if key == DEV_SECRET_KEY:
        return f"SMARTBANK_SECRET_KEY is the published development default ({DEV_SECRET_KEY!r})"
    if len(key) < MIN_SECRET_KEY_CHARS:
        return f"SMARTBANK_SECRET_KEY is shorter than {MIN_SECRET_KEY_CHARS} characters"
    return None


def require_serving_secret(settings: Settings | None = None) -> None:
    """Refuse to serve with a guessable secret key unless development mode (``SMARTBANK_DEV_MODE=1``) is on."""
    s = settings or get_settings()
    problem = secret_key_problem(s)
    if problem and not s.dev_mode:
        raise InsecureSecretKey(
            f"refusing to serve: {problem}. Set SMARTBANK_SECRET_KEY to a random value of at least "
            f"{MIN_SECRET_KEY_CHARS} characters (python -c 'import secrets; print(secrets.token_hex(32))'), "
            "or, on a development machine only, set SMARTBANK_DEV_MODE=1.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()


def key_file_text(path: Path, *, must_exist: bool, make: Callable[[], str], what: str) -> str:
    """The text of a key kept in a file outside the database (the ledger's chain key, the master key). A file
    named in the settings must exist (``FileNotFoundError``); the default one is made on first use with
    ``make()``, readable by its owner only (two processes starting at once make it once)."""
    if not path.exists():
        if must_exist:
            raise FileNotFoundError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made by another process just now
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(make() + "\n")
            logging.getLogger("smartbank.config").warning(
                "made a new %s in %s: keep it, and keep it out of the database's backups", what, path)
    return path.read_text().strip()
