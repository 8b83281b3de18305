"""Personalised recommendation follows the customer's consent at once (PIPL Art. 24)."""

from __future__ import annotations

from smartbank import db
from smartbank.customers import service as customers
from smartbank.recommend import events
from tests.recommend.test_items import _fresh_engine, customer_actor, grade  # noqa: F401
from tests.recommend.test_service import _bank_with_behaviour, serve


def _set(engine, actor, cid, granted):
    db.run_in_transaction(lambda s: customers.set_consent(s, actor, cid, purpose="personalised_recommendation",
                                                          granted=granted, given_via="web"), engine=engine)


def test_switching_personalisation_off_and_on_takes_effect_at_once(engine, bank):
    _bank_with_behaviour(engine, bank)
    cid = bank.customer()
    grade(engine, cid, "C2")
    actor = customer_actor(cid, bank.user("rec_me", customer_id=cid))
    first = serve(engine, actor)
    db.run_in_transaction(lambda s: events.record(s, actor, event="click", item_key="wealth:BOND1",
                                                  served_id=first["served_id"]), engine=engine)
    personal = serve(engine, actor)
    assert personal["personalised"] is True
    assert any(i["reason"]["code"] != "REC-NOT-PERSONALISED" for i in personal["items"])

    _set(engine, actor, cid, False)
    off = serve(engine, actor)
    assert off["personalised"] is False and off["model_version"] == "non-personalised-popularity"
    assert off["items"] and all(i["reason"]["code"] == "REC-NOT-PERSONALISED" for i in off["items"])
    assert all("not personalised" in i["reason"]["en"].lower() and "非个性化" in i["reason"]["zh"]
               for i in off["items"])
    # suitability still applies: a C2 customer sees nothing above R2
    assert all(i["risk_level"] in (None, "R1", "R2") for i in off["items"] if i["item_type"] == "wealth")
    # the same list as a stranger with the same grade and no behaviour (nothing of the customer is used)
    stranger = bank.customer()
    grade(engine, stranger, "C2")
    other = customer_actor(stranger, bank.user("rec_other", customer_id=stranger))
    _set(engine, other, stranger, False)
    assert [i["item_key"] for i in serve(engine, other)["items"]] == \
        [i["item_key"] for i in off["items"]]

    _set(engine, actor, cid, True)
    again = serve(engine, actor)
    assert again["personalised"] is True
    assert [i["item_key"] for i in again["items"]] == [i["item_key"] for i in personal["items"]]
