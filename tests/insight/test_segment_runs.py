"""The newest trained segmentation is published once as ``segments`` rows, with words and a chart."""

from __future__ import annotations

from sqlalchemy import func, select

from smartbank import db
from smartbank.insight import segment_runs
from smartbank.insight.models import Segment
from smartbank.insight.segments import SegmentModel
from smartbank.ml import registry
from tests.insight.models.synthetic import AS_OF, make_frames


def test_publish_newest_writes_each_model_version_once(engine, tmp_path):
    act, _ = make_frames()
    model = SegmentModel(k_range=(2, 4), random_state=0).fit(act, AS_OF)
    assert db.run_in_transaction(lambda s: segment_runs.publish_newest(s, tmp_path), engine=engine) is None
    saved = registry.save_model("segments", {"segments": model.to_dict()}, features=model.features_, data_hash="x",
                                model_dir=tmp_path)
    for _ in range(2):
        run = db.run_in_transaction(lambda s: segment_runs.publish_newest(s, tmp_path), engine=engine)
        assert run == saved.version
    with db.session_scope(engine) as s:
        rows = s.scalars(select(Segment).where(Segment.run_id == saved.version)).all()
        assert s.scalar(select(func.count()).select_from(Segment)) == len(rows)
    assert {r.label for r in rows} >= set(model.labels_)
    described = [r for r in rows if r.label in model.labels_]
    assert all(r.description["en"] and r.description["zh"] and r.name_en and r.name_zh for r in described)
    svg = segment_runs.profile_chart_svg("en", tmp_path)
    assert svg is not None and svg.startswith("<svg")
