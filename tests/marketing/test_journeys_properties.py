"""Properties of journey definitions: any list of steps is either refused with a ValidationFailed or accepted,
and an accepted one has every step reachable and no loop that avoids a wait."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smartbank.errors import ValidationFailed
from smartbank.marketing import service as marketing

IDS = ["a", "b", "c", "d", "e"]
_target = st.sampled_from([*IDS, "zz"])
_step = st.one_of(
    st.builds(lambda t: {"type": "send", "channel": "inapp", "content": {"zh": {"body": "x"}}, "next": t}, _target),
    st.builds(lambda t, d: {"type": "wait", "days": d, "next": t}, _target, st.integers(-1, 3)),
    st.builds(lambda a, b: {"type": "branch", "condition": {"kind": "opened"}, "then": a, "else": b}, _target,
              _target),
    st.builds(lambda t: {"type": "suppress", "days": 1, "next": t}, _target),
    st.just({"type": "exit"}),
)


def _edges(steps):
    out = {}
    for s in steps:
        out[s["id"]] = [s[k] for k in ("next", "then", "else") if s.get(k)]
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, min_size=1, max_size=5))
def test_accepted_definitions_are_reachable_and_loop_only_through_waits(raw):
    steps = [{"id": IDS[i], **s} for i, s in enumerate(raw)]
    try:
        checked = marketing.validate_definition("account_opened", steps)
    except ValidationFailed as exc:
        assert exc.reason.startswith("marketing.journey_")
        return
    edges = _edges(checked)
    seen, todo = {"a"}, ["a"]
    while todo:
        for t in edges[todo.pop()]:
            if t not in seen:
                seen.add(t)
                todo.append(t)
    assert seen == set(edges)
    waits = {s["id"] for s in checked if s["type"] == "wait"}
    # walking from any step without passing a wait ends within len(steps) moves
    for start in edges:
        frontier = {start}
        for _ in range(len(edges) + 1):
            frontier = {t for n in frontier if n not in waits for t in edges[n]}
        assert frontier <= waits or not frontier
