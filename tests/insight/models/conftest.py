from __future__ import annotations

import polars as pl
import pytest

from tests.insight.models.synthetic import make_frames


@pytest.fixture(scope="session")
def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    return make_frames()
