"""The in-process engine: rows keep the strongest feedback, refreshes are idempotent, a trained artefact
is picked up, popularity per segment follows the rows."""

from __future__ import annotations

from typer.testing import CliRunner

from smartbank import db
from smartbank.recommend import engine as rec_engine
from smartbank.recommend.models import RecEvent, RecItem
from tests.recommend.test_items import _fresh_engine, hold, make_products  # noqa: F401


def _engine(engine) -> rec_engine.RecEngine:
    with db.session_scope(engine) as s:
        return rec_engine.get(s)


def _item_id(engine, key: str) -> int:
    from sqlalchemy import select

    with db.session_scope(engine) as s:
        return s.scalar(select(RecItem.id).where(RecItem.item_key == key))


def test_rows_keep_the_strongest_weight_and_refresh_is_idempotent(engine, bank):
    make_products(engine, loans=False)
    c = bank.customer()
    bond = _item_id(engine, "wealth:BOND1")
    with db.session_scope(engine) as s:
        for ev in ("view", "click", "view"):
            s.add(RecEvent(customer_id=c, item_id=bond, event=ev))
    eng = _engine(engine)
    idx = eng.items.by_key["wealth:BOND1"]
    assert eng.rows[c] == {idx: rec_engine.WEIGHTS["click"]}
    assert eng.pop["all"][idx] == rec_engine.WEIGHTS["click"]
    # reading the same events again (the overlap of a refresh) changes nothing
    eng._checked["events"] -= rec_engine.REFRESH_SECONDS
    with db.session_scope(engine) as s:
        eng.refresh(s)
    assert eng.rows[c] == {idx: rec_engine.WEIGHTS["click"]} and eng.pop["all"][idx] == rec_engine.WEIGHTS["click"]
    eng.observe([(c, bond, "purchase")])
    assert eng.rows[c][idx] == 1.0 and eng.pop["all"][idx] == 1.0


def test_holdings_count_as_feedback_and_the_model_is_fitted_at_warm_up(engine, bank):
    ids = make_products(engine, loans=False)
    for _ in range(4):
        c = bank.customer()
        hold(engine, c, ids["EQ1"])
        hold(engine, c, ids["EQ2"])
    eng = _engine(engine)
    assert eng.B is not None and eng.model_version.startswith("hybrid1-ease")
    ranked = eng.rank(10**9, "C5")  # a stranger: no row, so popularity and grade only
    assert {ranked[0].item_id, ranked[1].item_id} == {_item_id(engine, "wealth:EQ1"), _item_id(engine, "wealth:EQ2")}
    assert ranked[0].parts["cf"] == 0.0


def test_train_saves_an_artefact_that_serving_loads(engine, bank, database_url):
    from smartbank.cli import app

    ids = make_products(engine, loans=False)
    for _ in range(3):
        c = bank.customer()
        hold(engine, c, ids["BOND1"])
        hold(engine, c, ids["BOND2"])
    r = CliRunner().invoke(app, ["recommend", "train", "--database-url", database_url])
    assert r.exit_code == 0, r.output
    import json

    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["saved"] and res["interactions"] == 6 and res["feedback"]["holds"] == 6
    eng = _engine(engine)
    assert eng.artefact == res["version"] and eng.model_version.endswith(res["version"])
