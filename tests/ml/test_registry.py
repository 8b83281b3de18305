from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from smartbank.ml import registry


def _booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int)
    return lgb.train({"objective": "binary", "verbose": -1, "seed": 0}, lgb.Dataset(x, y), num_boost_round=5)


def _save(tmp_path, **kw):
    lr = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    return registry.save_model("demo", {"booster": _booster(), "config": {"a": 1}, "lr": lr},
                               features=["f1", "f2", "f3"], data_hash="abc", metrics={"auc": 0.9}, seed=3,
                               model_dir=tmp_path, **kw)


def test_round_trip_with_meta(tmp_path) -> None:
    saved = _save(tmp_path)
    meta = json.loads((saved.path / "meta.json").read_text())
    assert meta["name"] == "demo" and meta["seed"] == 3 and meta["features"] == ["f1", "f2", "f3"]
    assert {"lightgbm", "scikit-learn", "numpy"} <= set(meta["libraries"]) and meta["data_hash"] == "abc"
    assert all(len(f["sha256"]) == 64 for f in meta["files"].values())
    assert meta["files"]["booster"]["file"].endswith(".lgb.txt")  # LightGBM's own text format
    loaded = registry.load_model("demo", model_dir=tmp_path, features=["f1", "f2", "f3"])
    assert loaded.version == saved.version and loaded.objects["config"] == {"a": 1}
    x = np.zeros((2, 3))
    assert np.allclose(loaded.objects["booster"].predict(x), saved.objects["booster"].predict(x))
    assert loaded.objects["lr"].predict([[3.0]])[0] == 1


def test_latest_version_is_loaded(tmp_path) -> None:
    _save(tmp_path, version="20240101T000000000000Z")
    _save(tmp_path, version="20240201T000000000000Z")
    assert registry.load_model("demo", model_dir=tmp_path).version == "20240201T000000000000Z"


def test_refuses_a_different_feature_list(tmp_path) -> None:
    _save(tmp_path)
    with pytest.raises(registry.ArtefactMismatch, match="feature list"):
        registry.load_model("demo", model_dir=tmp_path, features=["f1", "f3", "f2"])


def test_refuses_another_library_major_version(tmp_path) -> None:
    saved = _save(tmp_path)
    p = saved.path / "meta.json"
    meta = json.loads(p.read_text())
    meta["libraries"]["lightgbm"] = "1.0.0"
    p.write_text(json.dumps(meta))
    with pytest.raises(registry.ArtefactMismatch, match="lightgbm 1.0.0"):
        registry.load_model("demo", model_dir=tmp_path)


def test_refuses_a_tampered_pickle(tmp_path) -> None:
    saved = _save(tmp_path)
    f = saved.path / saved.meta["files"]["lr"]["file"]
    f.write_bytes(f.read_bytes() + b"\x00")
    with pytest.raises(registry.ArtefactMismatch, match="SHA-256"):
        registry.load_model("demo", model_dir=tmp_path)


def test_missing_model(tmp_path) -> None:
    with pytest.raises(registry.ArtefactNotFound):
        registry.load_model("nothing", model_dir=tmp_path)


def test_named_arrays_are_an_npz_read_back_exactly_without_pickle(tmp_path) -> None:
    rng = np.random.default_rng(1)
    weights = {"layer.0.weight": rng.normal(size=(64, 32)).astype(np.float32), "layer.0.bias": np.arange(32)}
    saved = registry.save_model("net", {"weights": weights, "ragged": {"a": [1, 2]}}, features=["text"],
                                data_hash="h", model_dir=tmp_path)
    meta = json.loads((saved.path / "meta.json").read_text())
    assert meta["files"]["weights"]["file"] == "weights.npz" and meta["files"]["ragged"]["file"] == "ragged.json"
    loaded = registry.load_model("net", model_dir=tmp_path).objects["weights"]
    assert set(loaded) == set(weights)
    for k, v in weights.items():
        assert loaded[k].dtype == v.dtype and np.array_equal(loaded[k], v)
    # arrays of Python objects would need pickle: they are not written as named arrays
    assert not registry._is_named_arrays({"x": np.array([{"a": 1}], dtype=object)})
