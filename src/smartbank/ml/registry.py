"""Model registry: artefacts under ``<model_dir>/<name>/<version>/`` with a ``meta.json``.

``meta.json`` records the model name, version, creation time, library versions, the feature list, a hash
of the training data, metrics and the seed, plus the SHA-256 of every file written. Loading refuses an
artefact whose feature list differs from the caller's, whose library major versions differ from the
running ones, or whose files do not match their recorded hashes.

Formats: LightGBM boosters as their own text format, named arrays (a mapping of names to numpy arrays,
e.g. a network's weights) as an uncompressed ``.npz`` read back without pickle, plain data as JSON; scikit-learn
objects with joblib, and those are only ever unpickled after their SHA-256 matched the one this code stored.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from smartbank import clock
from smartbank.config import get_settings
from smartbank.errors import SmartbankError

__all__ = [
    "ArtefactMismatch",
    "ArtefactNotFound",
    "LoadedModel",
    "RegistryError",
    "TRACKED_LIBRARIES",
    "latest_version",
    "load_model",
    "save_model",
]

TRACKED_LIBRARIES = ("numpy", "polars", "scikit-learn", "lightgbm", "lifetimes", "scipy")


class RegistryError(SmartbankError):
    status_code = 500
    code = "model_registry_error"


class ArtefactNotFound(RegistryError):
    status_code = 404
    code = "model_not_found"


class ArtefactMismatch(RegistryError):
    status_code = 409
    code = "model_artefact_mismatch"


def library_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for lib in TRACKED_LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            continue
    return out


def _major(v: str) -> str:
    return v.split(".", 1)[0]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_model_dir() -> Path:
    return Path(get_settings().model_dir)


@dataclass
class LoadedModel:
    name: str
    version: str
    path: Path
    meta: dict[str, Any]
    objects: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.meta.get("features", []))


def _write_object(folder: Path, key: str, obj: Any) -> str:
    """Write one object and return its file name (format chosen by type)."""
    try:
        import lightgbm as lgb

        if isinstance(obj, lgb.Booster):
            fname = f"{key}.lgb.txt"
            obj.save_model(str(folder / fname))
            return fname
    except ImportError:  # pragma: no cover
        pass
    if _is_named_arrays(obj):
        import numpy as np

        fname = f"{key}.npz"
        with open(folder / fname, "wb") as fh:
            np.savez(fh, **obj)
        return fname
    if isinstance(obj, dict | list | str | int | float) or obj is None:
        fname = f"{key}.json"
        (folder / fname).write_text(json.dumps(obj, sort_keys=True, default=_json_default), encoding="utf-8")
        return fname
    import joblib

    fname = f"{key}.joblib"
    joblib.dump(obj, folder / fname)
    return fname


def _is_named_arrays(obj: Any) -> bool:
    if not isinstance(obj, Mapping) or not obj:
        return False
    import numpy as np

    return all(isinstance(k, str) and isinstance(v, np.ndarray) and v.dtype != object for k, v in obj.items())


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _read_object(path: Path) -> Any:
    name = path.name
    if name.endswith(".lgb.txt"):
        import lightgbm as lgb

        return lgb.Booster(model_str=path.read_text(encoding="utf-8"))
    if name.endswith(".npz"):
        import numpy as np

        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if name.endswith(".json"):
        return json.loads(path.read_text(encoding="utf-8"))
    if name.endswith(".joblib"):
        import joblib

        return joblib.load(path)  # only reached after the SHA-256 recorded by save_model matched
    raise RegistryError(f"unknown artefact format: {name}")


def save_model(
    name: str,
    objects: Mapping[str, Any],
    *,
    features: Sequence[str],
    data_hash: str,
    metrics: Mapping[str, Any] | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    model_dir: Path | None = None,
    version: str | None = None,
) -> LoadedModel:
    """Write ``objects`` (key -> booster / JSON data / sklearn object) as a new version of ``name``."""
    root = Path(model_dir) if model_dir is not None else default_model_dir()
    now = clock.now()
    version = version or now.strftime("%Y%m%dT%H%M%S%fZ")
    folder = root / name / version
    if folder.exists():
        raise RegistryError(f"model {name} version {version} already exists", details={"path": str(folder)})
    tmp = root / name / f".{version}.tmp"
    tmp.mkdir(parents=True, exist_ok=False)
    files: dict[str, dict[str, str]] = {}
    for key, obj in objects.items():
        fname = _write_object(tmp, key, obj)
        files[key] = {"file": fname, "sha256": _sha256(tmp / fname)}
    meta = {
        "name": name,
        "version": version,
        "created_at": now.isoformat(),
        "libraries": library_versions(),
        "features": list(features),
        "data_hash": data_hash,
        "metrics": dict(metrics or {}),
        "seed": seed,
        "params": dict(params or {}),
        "files": files,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=_json_default), encoding="utf-8")
    os.replace(tmp, folder)
    return LoadedModel(name=name, version=version, path=folder, meta=json.loads((folder / "meta.json").read_text()),
                       objects=dict(objects))


def latest_version(name: str, *, model_dir: Path | None = None) -> str | None:
    root = (Path(model_dir) if model_dir is not None else default_model_dir()) / name
    if not root.is_dir():
        return None
    versions = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "meta.json").is_file())
    return versions[-1] if versions else None


def load_model(
    name: str,
    *,
    version: str | None = None,
    features: Sequence[str] | None = None,
    model_dir: Path | None = None,
) -> LoadedModel:
    """Load a saved model, refusing any artefact that does not match (see the module docstring)."""
    root = Path(model_dir) if model_dir is not None else default_model_dir()
    version = version or latest_version(name, model_dir=root)
    if version is None:
        raise ArtefactNotFound(f"no trained model {name!r} under {root}")
    folder = root / name / version
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise ArtefactNotFound(f"model {name!r} version {version!r} not found under {root}")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("name") != name or meta.get("version") != version:
        raise ArtefactMismatch(f"{meta_path} describes {meta.get('name')}/{meta.get('version')}, not {name}/{version}")
    if features is not None and list(features) != list(meta.get("features", [])):
        raise ArtefactMismatch(
            f"model {name}/{version} was trained on a different feature list",
            details={"expected": list(features), "saved": meta.get("features")},
        )
    running = library_versions()
    for lib, saved in (meta.get("libraries") or {}).items():
        if lib in running and _major(running[lib]) != _major(saved):
            raise ArtefactMismatch(
                f"model {name}/{version} was written with {lib} {saved}; running {lib} {running[lib]} "
                "(different major version) - retrain it",
                details={"library": lib, "saved": saved, "running": running[lib]},
            )
    objects: dict[str, Any] = {}
    for key, info in (meta.get("files") or {}).items():
        path = folder / info["file"]
        if not path.is_file():
            raise ArtefactMismatch(f"model {name}/{version}: file {info['file']} is missing")
        if _sha256(path) != info["sha256"]:
            raise ArtefactMismatch(
                f"model {name}/{version}: file {info['file']} does not match its SHA-256 in meta.json")
        objects[key] = _read_object(path)
    return LoadedModel(name=name, version=version, path=folder, meta=meta, objects=objects)
