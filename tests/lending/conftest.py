from __future__ import annotations

import pytest

from tests.api.support import cheap_argon2  # noqa: F401 - fixture


@pytest.fixture(autouse=True)
def _fast_passwords(cheap_argon2):  # noqa: F811
    """Light argon2id parameters here; tests/security checks the real ones."""
