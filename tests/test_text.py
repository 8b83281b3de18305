"""``clean_text``: free text is stripped, and empty, over-long or NUL-bearing text is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartbank.errors import ValidationFailed
from smartbank.text import clean_text


@given(st.text(max_size=30))
def test_kept_text_is_the_stripped_input_within_the_rules(value: str) -> None:
    try:
        out = clean_text(value, "the note", 20)
    except ValidationFailed as exc:
        t = value.strip()
        assert not t or len(t) > 20 or "\x00" in t, exc.message
    else:
        assert out == value.strip() and 0 < len(out) <= 20 and "\x00" not in out


def test_messages_and_optional_text() -> None:
    with pytest.raises(ValidationFailed, match="a reason is needed"):
        clean_text("  ", "the reason", 5, empty="a reason is needed")
    with pytest.raises(ValidationFailed, match="the reason is longer than 5 characters"):
        clean_text("abcdef", "the reason", 5)
    with pytest.raises(ValidationFailed, match="contains a NUL character"):
        clean_text("a\x00b", "the reason", 5)
    assert clean_text(None, "the note", 5, required=False) == ""
    assert clean_text(42, "the note", 5, required=False) == ""
