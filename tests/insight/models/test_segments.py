from __future__ import annotations

import polars as pl

from smartbank.insight.segments import SegmentModel, segment_chart_svg
from tests.insight.models.synthetic import AS_OF, group_of


def _fit(frames, random_state: int, shuffle_seed: int | None = None, previous=None) -> SegmentModel:
    act, cust = frames
    if shuffle_seed is not None:
        act = act.sample(fraction=1.0, shuffle=True, seed=shuffle_seed)
    return SegmentModel(k_range=(2, 5), random_state=random_state).fit(act, AS_OF, previous=previous)


def test_segments_recover_the_generated_groups(frames) -> None:
    m = _fit(frames, 0)
    pred = m.predict(frames[0], AS_OF)
    active = pred.filter(pl.col("segment") != "S0")
    by_group = active.with_columns(pl.col("customer_id").map_elements(group_of, return_dtype=pl.Utf8).alias("g"))
    # every generated group lands (almost) entirely in one segment
    purity = by_group.group_by("g").agg((pl.col("segment").mode().first() == pl.col("segment")).mean().alias("p"))
    assert purity["p"].min() >= 0.9


def test_labels_stable_across_reruns_with_other_seed_and_row_order(frames) -> None:
    first = _fit(frames, 0)
    second = _fit(frames, 123, shuffle_seed=5, previous=first)
    a = first.predict(frames[0], AS_OF).sort("customer_id")
    b = second.predict(frames[0], AS_OF).sort("customer_id")
    assert a["segment"].to_list() == b["segment"].to_list()
    assert sorted(first.labels_) == sorted(second.labels_)


def test_new_cluster_gets_a_new_label(frames) -> None:
    first = _fit(frames, 0)
    first.centroids_ = first.centroids_[:1]  # pretend the previous run found one segment only
    first.labels_ = first.labels_[:1]
    first.next_label_ = 50
    second = _fit(frames, 0, previous=first)
    assert first.labels_[0] in second.labels_
    assert all(lab == first.labels_[0] or int(lab[1:]) >= 50 for lab in second.labels_)


def test_descriptions_name_the_distinguishing_feature(frames) -> None:
    m = _fit(frames, 0)
    pred = m.predict(frames[0], AS_OF)
    night_customers = pred.filter(pl.col("customer_id").map_elements(group_of, return_dtype=pl.Utf8) == "night")
    label = night_customers["segment"].mode().first()
    d = m.description(label)
    assert "night" in d["en"] or "per transaction" in d["en"]
    assert any(f["feature"] in ("night_share", "ticket_minor", "channel:card", "category:entertainment")
               for f in d["facts"])
    assert "夜间" in d["zh"] or "单笔" in d["zh"] or "渠道" in d["zh"] or "类交易" in d["zh"]
    top = d["facts"][0]
    assert abs(top["z"]) >= 0.3 and top["segment_value"] != top["overall_value"]


def test_chart_is_embeddable_svg(frames) -> None:
    m = _fit(frames, 0)
    overall = segment_chart_svg(m)
    one = segment_chart_svg(m, m.labels_[0], lang="zh")
    assert overall.startswith("<svg") and overall.rstrip().endswith("</svg>")
    assert one.startswith("<svg") and m.labels_[0] in one


def test_round_trip_through_dict(frames) -> None:
    m = _fit(frames, 0)
    again = SegmentModel.from_dict(m.to_dict())
    assert again.predict(frames[0], AS_OF).equals(m.predict(frames[0], AS_OF))
