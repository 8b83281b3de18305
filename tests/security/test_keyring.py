"""The key ring: envelope encryption of personal data (AES-GCM under versioned data keys wrapped by the master
key), the local key provider, and blind indexes."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from sqlalchemy import select, update

from smartbank import config
from smartbank.security import keyring
from smartbank.security import service as security
from tests.conftest import TEST_MASTER_KEY


def test_bytes_round_trip_names_the_active_version(engine):
    blob = security.encrypt_bytes("张三 110101199003071234".encode(), context="customers.id_number")
    assert b"110101199003071234" not in blob
    assert keyring.blob_version(blob) == 1
    assert security.decrypt_bytes(blob, context="customers.id_number") == "张三 110101199003071234".encode()


def test_two_encryptions_of_one_value_differ(engine):
    a = security.encrypt_text("+8613812345678", context="customers.phone")
    b = security.encrypt_text("+8613812345678", context="customers.phone")
    assert a != b  # a fresh nonce each time: equal values cannot be told apart by their ciphertexts
    assert security.decrypt_text(a, context="customers.phone") == security.decrypt_text(b, context="customers.phone")


def test_text_round_trip_and_none(engine):
    assert security.encrypt_text(None, context="customers.email") is None
    assert security.decrypt_text(None, context="customers.email") is None
    value = security.encrypt_text("北京市朝阳区建国路1号", context="customers.address")
    assert value is not None and value.isascii()
    assert value.startswith(keyring.text_prefix(1))
    assert security.decrypt_text(value, context="customers.address") == "北京市朝阳区建国路1号"


def test_wrong_context_is_refused(engine):
    blob = security.encrypt_bytes(b"secret", context="user_mfa.secret")
    with pytest.raises(security.DecryptionError):
        security.decrypt_bytes(blob, context="backup")


@pytest.mark.parametrize("where", [0, 1, 2, 5, 20, -1])
def test_any_tampered_byte_is_detected(engine, where):
    blob = bytearray(security.encrypt_bytes(b"110101199003071234", context="customers.id_number"))
    blob[where] ^= 0x01
    with pytest.raises(security.DecryptionError):
        security.decrypt_bytes(bytes(blob), context="customers.id_number")


def test_truncated_and_foreign_values_are_refused(engine):
    blob = security.encrypt_bytes(b"x", context="c")
    with pytest.raises(security.DecryptionError):
        security.decrypt_bytes(blob[:20], context="c")
    with pytest.raises(security.DecryptionError):
        security.decrypt_text("13812345678", context="c")  # plaintext is not a ciphertext
    with pytest.raises(security.DecryptionError):
        security.decrypt_text("not base64 !!", context="c")


def test_unknown_key_version_is_refused(engine):
    blob = bytearray(security.encrypt_bytes(b"data", context="c"))
    blob[1:3] = (77).to_bytes(2, "big")
    with pytest.raises(security.DecryptionError, match="no data key version 77"):
        security.decrypt_bytes(bytes(blob), context="c")


def test_a_new_data_key_becomes_active_and_the_old_one_still_decrypts(engine, session):
    old = security.encrypt_text("13812345678", context="customers.phone")
    version = security.create_data_key()
    assert version == 2
    new = security.encrypt_text("13812345678", context="customers.phone")
    assert new.startswith(keyring.text_prefix(2)) and old.startswith(keyring.text_prefix(1))
    assert security.decrypt_text(old, context="customers.phone") == "13812345678"
    assert security.decrypt_text(new, context="customers.phone") == "13812345678"
    rows = {r["version"]: r["status"] for r in security.data_keys()}
    assert rows == {1: "retired", 2: "active"}


def test_the_database_holds_only_wrapped_keys(engine, session):
    security.encrypt_text("x", context="c")
    row = session.execute(select(security.DataKey)).scalar_one()
    provider = security.key_provider()
    assert row.master_key_id == provider.key_id
    wrapped = base64.b64decode(row.wrapped_key)
    assert len(wrapped) == 12 + 32 + 16  # nonce, the AES-256 key encrypted, tag
    assert base64.b64decode(TEST_MASTER_KEY) not in wrapped
    dek = provider.unwrap(wrapped, aad=b"smartbank data key v1")
    assert dek not in wrapped


def test_another_process_sees_a_new_active_version_after_the_ttl(engine, monkeypatch):
    security.encrypt_text("x", context="c")  # version 1 cached
    security.create_data_key(engine)  # as if another process rotated: version 2 active
    ring = keyring._rings[next(iter(keyring._rings))]
    ring.active = 1  # this process still thinks 1
    assert keyring.blob_version(security.encrypt_bytes(b"x", context="c")) == 1  # until the cache's time is up
    monkeypatch.setattr(keyring, "ACTIVE_TTL_SECONDS", -1.0)
    assert keyring.blob_version(security.encrypt_bytes(b"x", context="c")) == 2


def test_a_database_without_a_data_key_gets_one_on_first_use(engine, session):
    session.execute(security.DataKey.__table__.delete())
    session.commit()
    security.reset_key_cache()
    v = security.encrypt_text("x", context="c")
    assert v is not None and v.startswith(keyring.text_prefix(1))
    assert [r["version"] for r in security.data_keys()] == [1]


def test_another_master_key_is_refused_clearly(engine, monkeypatch):
    value = security.encrypt_text("x", context="c")
    monkeypatch.setenv("SMARTBANK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    config.reset_settings()
    security.reset_key_cache()
    with pytest.raises(security.KeyRingError, match="wrapped by master key"):
        security.decrypt_text(value, context="c")


def test_a_retired_version_wrapped_by_the_right_key_but_tampered_is_refused(engine, session):
    security.encrypt_text("x", context="c")
    session.execute(update(security.DataKey).values(
        wrapped_key=base64.b64encode(os.urandom(60)).decode()))
    session.commit()
    security.reset_key_cache()
    with pytest.raises(security.KeyRingError, match="does not unwrap"):
        security.encrypt_text("x", context="c")


def test_a_key_provider_of_ones_own_is_used(engine):
    class Kms:
        """A stand-in for a KMS: wraps by XOR (only to show the seam; a KMS encrypts)."""

        key_id = "kms-test-1"
        calls = 0

        def wrap(self, key: bytes, *, aad: bytes) -> bytes:
            return bytes(b ^ 0x5A for b in key)

        def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes:
            Kms.calls += 1
            return bytes(b ^ 0x5A for b in wrapped)

        def derive(self, purpose: str) -> bytes:
            return (purpose * 32).encode()[:32]

    kms = Kms()
    assert isinstance(kms, security.KeyProvider)
    with security.use_key_provider(kms):
        # the template's version 1 is wrapped by the test master key: this provider makes its own
        with engine.begin() as c:
            c.execute(security.DataKey.__table__.delete())
        v = security.encrypt_text("13812345678", context="customers.phone")
        assert security.decrypt_text(v, context="customers.phone") == "13812345678"
        assert security.data_keys()[0]["master_key_id"] == "kms-test-1"
        assert Kms.calls == 1  # unwrapped once, then cached
        assert security.blind_index("13812345678", kind="phone") != ""


# ---------------------------------------------------------------------------------------------
# the master key's sources


def test_master_key_from_a_file_made_on_first_use(tmp_path, monkeypatch):
    monkeypatch.delenv("SMARTBANK_MASTER_KEY")
    monkeypatch.setenv("SMARTBANK_VAR_DIR", str(tmp_path))
    config.reset_settings()
    key = keyring.master_key_from_settings()
    path = tmp_path / "master.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keyring.master_key_from_settings() == key  # the same key next time


def test_master_key_file_named_must_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("SMARTBANK_MASTER_KEY")
    monkeypatch.setenv("SMARTBANK_MASTER_KEY_FILE", str(tmp_path / "missing.key"))
    config.reset_settings()
    with pytest.raises(security.KeyRingError, match="does not exist"):
        keyring.master_key_from_settings()


@pytest.mark.parametrize("bad", ["not base64 at all!", base64.b64encode(b"short").decode()])
def test_malformed_master_keys_are_refused(monkeypatch, bad):
    monkeypatch.setenv("SMARTBANK_MASTER_KEY", bad)
    config.reset_settings()
    with pytest.raises(security.KeyRingError):
        keyring.master_key_from_settings()


# ---------------------------------------------------------------------------------------------
# blind indexes


def test_blind_index_is_keyed_normalised_and_separated_by_kind():
    a = security.blind_index("110101199003071234", kind="id_number")
    assert a == security.blind_index(" 110101199003071234 ", kind="id_number")
    assert security.blind_index("11010119900307123x", kind="id_number") == \
        security.blind_index("11010119900307123X", kind="id_number")
    assert a != security.blind_index("110101199003071235", kind="id_number")
    assert len(a) == 32 and "110101" not in a
    assert a != security.blind_index("110101199003071234", kind="phone")  # a key per kind
    # an unkeyed hash of the value is not the index
    import hashlib
    assert a not in hashlib.sha256(b"110101199003071234").hexdigest()


@pytest.mark.parametrize("typed", ["13812345678", "+8613812345678", "+86 138 1234 5678", "008613812345678",
                                   "8613812345678", "138-1234-5678"])
def test_phone_spellings_share_one_index(typed):
    assert security.blind_index(typed, kind="phone") == security.blind_index("+8613812345678", kind="phone")


def test_blind_index_depends_on_the_master_key(monkeypatch):
    a = security.blind_index("13812345678", kind="phone")
    monkeypatch.setenv("SMARTBANK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    config.reset_settings()
    assert security.blind_index("13812345678", kind="phone") != a
