"""Settings, read from ``SMARTBANK_*`` environment variables (lazily, never at import time)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMARTBANK_", extra="ignore")

    database_url: str = "sqlite:///./var/smartbank.db"
    secret_key: str = "dev-only-change-me"
    host: str = "127.0.0.1"
    port: int = 8000
    session_minutes: int = 30
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    default_daily_limit_minor: int = 50_000_00  # CNY 50,000.00 per customer per day
    default_currency: str = "CNY"
    seal_interval_seconds: float = 1.0
    log_json: bool = True
    var_dir: Path = Path("./var")
    # the journal's chain key (HMAC-SHA256), never stored in the database and not the web secret: the key
    # itself, or a file holding it; with neither set, ``<var_dir>/ledger.key`` (made on first use, mode 0600)
    ledger_key: str | None = None
    ledger_key_file: Path | None = None
    # signed checkpoints of the journal's head, appended after every seal, outside the database; default: next
    # to a SQLite database file (``<db>.checkpoints.jsonl``), else ``<var_dir>/ledger-checkpoints.jsonl``
    ledger_checkpoint_file: Path | None = None
    # trained models (each with its meta.json), and the public datasets used by evals and examples
    model_dir: Path = Path("./var/models")
    datasets_dir: Path = Path("../shared/datasets")
    # how often the server folds new transactions into customer profiles and tags (0 = never)
    insight_refresh_seconds: float = 5.0
    # risk decisions: fraud-score bands of the model (a rule or limit may ask for more), label delay of the
    # online features, and the step-up one-time code
    risk_challenge_score: float = 0.5
    risk_review_score: float = 0.8
    risk_block_score: float = 0.97
    risk_label_delay_days: int = 7
    risk_otp_seconds: int = 300
    risk_otp_attempts: int = 3


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
