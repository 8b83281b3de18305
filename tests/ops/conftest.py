from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from smartbank import db


@pytest.fixture
def fresh_url(backend: str, templates, tmp_path) -> Iterator[Callable[[], str]]:
    """Extra empty, migrated databases of the test's back-end (copies of the run's template; dropped after)."""
    created: list[str] = []
    urls: list[str] = []

    def make() -> str:
        url, pg_name = templates.clone(backend, tmp_path / "fresh", "fresh")
        if pg_name:
            created.append(pg_name)
        urls.append(url)
        return url

    yield make
    for url in urls:
        db.get_engine(url).dispose()
    for name in created:
        templates.drop_later(name)
