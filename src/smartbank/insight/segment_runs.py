"""The newest trained segmentation, published for people: its segments (stable labels, names, words and
the figures behind them) as rows of ``segments``, and its profile chart.

``smartbank insight train`` saves a segmentation model in the registry; the next profile refresh
publishes it here once (the model version is the run id), so the console's segment explorer reads
the same segments the profiles are labelled with.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.insight.models import Segment
from smartbank.insight.segments import SegmentModel, segment_chart_svg
from smartbank.ml import service as ml

log = logging.getLogger(__name__)


def newest_model(model_dir: Path | None = None) -> tuple[SegmentModel, str] | None:
    """The newest saved segmentation and its version, or None when there is none usable."""
    try:
        lm = ml.load_model("segments", model_dir=model_dir)
    except ml.ArtefactNotFound:
        return None
    except ml.ArtefactMismatch as exc:
        log.warning("segmentation model not used: %s", exc.message)
        return None
    return SegmentModel.from_dict(lm.objects["segments"]), lm.version


def publish_newest(session: Session, model_dir: Path | None = None) -> str | None:
    """Write the newest segmentation's segments once; returns its run id (the model version)."""
    found = newest_model(model_dir)
    if found is None:
        return None
    model, version = found
    if session.scalar(select(Segment.id).where(Segment.run_id == version).limit(1)) is None:
        session.add_all(Segment(**row) for row in model.rows(version))
        session.flush()
    return version


def profile_chart_svg(lang: str, model_dir: Path | None = None) -> str | None:
    """All segments' standardised centroids side by side (what distinguishes each), as SVG text."""
    found = newest_model(model_dir)
    return segment_chart_svg(found[0], lang=lang) if found else None
