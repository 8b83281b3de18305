"""``smartbank demo`` seeds a bank, its sign-ins, the insight models and every profile (first run only)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from smartbank.cli import app


@pytest.mark.commits  # the synthetic bank loads through an engine of its own
def test_demo_seeds_bank_users_models_and_profiles(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / "models"))
    from smartbank import config

    config.reset_settings()
    r = CliRunner().invoke(app, ["demo", "--no-serve", "--customers", "40", "--months", "4", "--seed", "3"])
    assert r.exit_code == 0, r.output
    with engine.connect() as c:
        customers = c.execute(text("SELECT count(*) FROM customers WHERE kind IN ('individual', 'business')")).scalar()
        profiles = c.execute(text("SELECT count(*) FROM customer_profiles")).scalar()
        users = c.execute(text("SELECT count(*) FROM users WHERE username IN ('demo', 'demo2', 'admin')")).scalar()
        segments = c.execute(text("SELECT count(*) FROM segments")).scalar()
        products = c.execute(text("SELECT count(*) FROM loan_products")).scalar()
        decided = c.execute(text("SELECT count(*) FROM credit_decisions WHERE model_version <> 'none'")).scalar()
        loans = c.execute(text("SELECT count(*) FROM loans")).scalar()
        queue = c.execute(text("SELECT count(*) FROM loan_applications WHERE status = 'manual_review'")).scalar()
        wealth = c.execute(text("SELECT count(*) FROM wealth_products")).scalar()
        held = c.execute(text("SELECT count(DISTINCT customer_id) FROM holdings WHERE units_micro > 0")).scalar()
        assessed = c.execute(text("SELECT count(*) FROM risk_assessments")).scalar()
        faqs = c.execute(text("SELECT count(*) FROM faq_entries WHERE active")).scalar()
        demo_held = c.execute(text("SELECT count(*) FROM holdings h JOIN users u ON u.customer_id = h.customer_id"
                                   " WHERE u.username = 'demo' AND h.units_micro > 0")).scalar()
    assert users == 3
    assert "skipped" not in r.output, r.output
    assert demo_held >= 1  # the demo customer is assessed (age as on the ID) and holds products
    # lending: products, a trained credit model deciding every application, a loan book, an officer's queue
    assert products >= 4 and decided > 0 and loans > 0 and queue >= 1
    # wealth: a catalogue, assessed customers holding settled products (the recommender's feedback)
    assert wealth >= 10 and assessed > 0 and held > 0
    assert faqs >= 20  # the assistant's knowledge base
    assert profiles == customers > 0
    assert segments > 0  # the trained segmentation is published for the segment explorer
    assert {p.name for p in (tmp_path / "models").iterdir()} >= {"rfm", "segments", "churn", "credit", "rec_hybrid"}
    assert CliRunner().invoke(app, ["ledger", "verify"]).exit_code == 0
