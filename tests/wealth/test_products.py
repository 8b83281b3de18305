"""The catalogue: seeding from the real price data (and without it), NAV reads, the daily publication, the
product page figures and staff management (product managers and admins, audited)."""

from __future__ import annotations

import gzip
from datetime import date, timedelta
from pathlib import Path

import pytest

from smartbank import db
from smartbank.config import get_settings
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.security.service import Principal
from smartbank.wealth import products, seed

UNTIL = date(2026, 2, 27)  # a Friday
DATA = Path(get_settings().datasets_dir) / "sp500_skfolio"


def _index_closes() -> list[float]:
    with gzip.open(DATA / "sp500_index.csv.gz", "rt") as f:
        return [float(line.split(",")[1]) for line in list(f)[1:]]


@pytest.mark.skipif(not DATA.is_dir(), reason="the sp500_skfolio data set is not here")
def test_index_fund_follows_the_real_index_net_of_fees(session):
    with db.session_scope(session.get_bind()) as s:
        out = seed.seed(s, until=UNTIL, codes=["F-SP500", "TD1Y", "F-MMF"])
        assert out["real_data"] and sorted(out["products"]) == ["F-MMF", "F-SP500", "TD1Y"]
        p = products.get_product(s, "F-SP500")
        navs = products.nav_history(s, p.id)
    days = seed.weekdays(date(2023, 2, 27), UNTIL)
    assert [d for d, _ in navs] == days and navs[0][1] == 1_000_000
    closes = _index_closes()[-len(days):]
    drag = (1 - 60 / 10_000 / 252) ** (len(days) - 1)
    assert navs[-1][1] / 1e6 == pytest.approx(closes[-1] / closes[0] * drag, rel=1e-5)
    assert navs[10][1] / navs[9][1] == pytest.approx(closes[10] / closes[9] * (1 - 60 / 10_000 / 252), rel=1e-5)


def test_seed_is_deterministic_and_rerunnable_and_has_a_fallback(engine, tmp_path):
    item = next(i for i in seed.CATALOGUE if i["code"] == "F-TECH")
    days = seed.weekdays(date(2025, 1, 1), date(2025, 12, 31))
    assert seed.nav_path(item, days, tmp_path) == seed.nav_path(item, days, tmp_path)  # no data: generated
    bond = next(i for i in seed.CATALOGUE if i["code"] == "F-BOND")
    path = seed.nav_path(bond, days, None)
    assert path[0] == 1_000_000 and 0.9 < path[-1] / 1e6 < 1.12
    with db.session_scope(engine) as s:
        first = seed.seed(s, until=UNTIL, codes=["F-BOND", "TD3M"])
    with db.session_scope(engine) as s:
        again = seed.seed(s, until=UNTIL)
    assert first["navs"] > 1500 and "F-BOND" not in again["products"] and len(again["products"]) == 20
    with db.session_scope(engine) as s:
        cat = products.list_products(s)
        assert len(cat) == 22 and {p["kind"] for p in cat} == {"time_deposit", "wmp", "fund", "insurance"}
        assert all(p["custody_account_id"] and p["nav_micro"] for p in cat)
        assert [p["code"] for p in products.list_products(s, kind="fund", risk_level="R5")] == [
            "F-ENERGY", "F-HEALTH", "F-TECH"]
        with pytest.raises(ValidationFailed):
            products.list_products(s, kind="crypto")


def test_fixed_nav_and_daily_publication(engine):
    assert products.fixed_nav(95, date(2026, 1, 1), date(2026, 1, 1)) == 1_000_000
    assert products.fixed_nav(365, date(2026, 1, 1), date(2026, 1, 2)) == 1_000_100  # 3.65% / 365 = 0.01% a day
    with db.session_scope(engine) as s:
        seed.seed(s, until=UNTIL, codes=["F-BOND", "TD1Y"])
    mon = UNTIL + timedelta(days=3)
    with db.session_scope(engine) as s:
        assert products.publish_day(s, UNTIL + timedelta(days=1)) == {"navs_published": 0}  # Saturday
        assert products.publish_day(s, mon) == {"navs_published": 2}
        bond = products.get_product(s, "F-BOND")
        td = products.get_product(s, "TD1Y")
        a = products.nav_on(s, bond.id, mon)
        assert products.nav_on(s, td.id, mon) == products.fixed_nav(95, td.launched_on, mon)
        assert products.nav_on(s, bond.id, mon - timedelta(days=1)) == products.nav_on(s, bond.id, UNTIL)
        assert products.publish_day(s, mon) == {"navs_published": 0}
        prev = products.nav_on(s, bond.id, UNTIL)
        assert a is not None and prev is not None and abs(a / prev - 1) < 0.01
        step = products._step_params(s, bond, mon)
        assert products.next_nav(bond, prev, step, mon) == a  # the same day always publishes the same NAV


def test_product_page_figures(engine):
    with db.session_scope(engine) as s:
        seed.seed(s, until=UNTIL, codes=["F-BAL", "TD1Y"])
        page = products.product_page(s, "f-bal")
    assert page["code"] == "F-BAL" and page["metrics"]["risk_free"] == pytest.approx(0.0095)
    m = page["metrics"]
    assert 0 < m["annualised_volatility"] < 0.4 and 0 <= m["max_drawdown"] < 0.6
    assert set(page["returns"]) == {"1m", "3m", "1y", "since_launch"} and page["returns"]["1y"] is not None
    assert 100 < len(page["chart"]) <= 160


def test_staff_manage_the_catalogue_audited(bank, engine):
    admin = Principal(user_id=bank.user("admin1", role="admin"), username="admin1", role="admin", customer_id=None)
    mk = Principal(user_id=bank.user("mark1", role="marketer"), username="mark1", role="marketer", customer_id=None)
    teller = Principal(user_id=bank.user("teller1", role="teller"), username="teller1", role="teller", customer_id=None)
    fields = {"code": "F-NEW", "name_en": "New fund", "name_zh": "新基金", "kind": "fund", "risk_level": "R3",
              "asset_class": "mixed", "min_amount_minor": 1_000}
    with pytest.raises(Forbidden), db.session_scope(engine) as s:
        products.create_product(s, teller, fields)
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        products.create_product(s, mk, fields | {"risk_level": "R9"})
    with db.session_scope(engine) as s:
        p = products.create_product(s, mk, fields)
        assert p.custody_account_id is not None
    with pytest.raises(Conflict), db.session_scope(engine) as s:
        products.create_product(s, mk, fields)
    with db.session_scope(engine) as s:
        products.update_product(s, admin, "F-NEW", {"subscription_fee_bps": 100})
        with pytest.raises(ValidationFailed):
            products.update_product(s, admin, "F-NEW", {"code": "X"})
        products.publish_nav(s, mk, "F-NEW", day=UNTIL, nav_micro=1_001_000)
        products.publish_nav(s, mk, "F-NEW", day=UNTIL, nav_micro=1_001_000)  # same again: no-op
        with pytest.raises(Conflict):
            products.publish_nav(s, mk, "F-NEW", day=UNTIL, nav_micro=1_002_000)
        products.close_product(s, mk, "F-NEW")
        assert products.list_products(s) == [] and len(products.list_products(s, status=None)) == 1
        with pytest.raises(NotFound):
            products.get_product(s, "NOPE")
    assert bank.count("audit_log") == 4


def test_cli_seed_products_navs_settle(database_url):
    import json

    from typer.testing import CliRunner

    from smartbank.cli import app

    run = CliRunner()
    r = run.invoke(app, ["wealth", "seed", "--until", "2026-02-27", "--years", "1"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout.strip().splitlines()[-1])["products"]) == 22
    r = run.invoke(app, ["wealth", "products", "--kind", "fund"])
    assert r.exit_code == 0 and len(json.loads(r.stdout.strip().splitlines()[-1])) == 10
    r = run.invoke(app, ["wealth", "navs", "F-SP500", "--start", "2026-02-23"])
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "day,nav_micro" and len(r.stdout.splitlines()) == 6
    r = run.invoke(app, ["wealth", "settle", "--day", "2026-03-02"])
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["navs_published"] == 22
