from __future__ import annotations

from tests.api.support import cheap_argon2  # noqa: F401 - fixture, used where hashing cost is not the point
