"""Keys kept in files outside the database (the ledger's chain key, the master key): made once on first use,
readable by their owner only; a file named in the settings must exist."""

from __future__ import annotations

import stat

import pytest

from smartbank.config import key_file_text


def test_the_default_file_is_made_once_owner_only(tmp_path):
    path = tmp_path / "var" / "some.key"
    made = []

    def make() -> str:
        made.append(1)
        return f"key-{len(made)}"

    assert key_file_text(path, must_exist=False, make=make, what="test key") == "key-1"
    assert key_file_text(path, must_exist=False, make=make, what="test key") == "key-1"  # read, not made again
    assert made == [1] and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_named_file_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError):
        key_file_text(tmp_path / "missing.key", must_exist=True, make=lambda: "x", what="test key")
    assert not (tmp_path / "missing.key").exists()
