"""Run-time sentiment of a customer's message: ``score(text) -> Sentiment``.

``value`` runs from -1 (negative) to 1 (positive), ``emotion`` is one of angry, anxious, sad, neutral,
happy, ``language`` is ``zh`` or ``en`` (any CJK character makes a message Chinese) and
``model_version`` names what scored it.

Two scorers:

- **Lexicon** (always available, ``lexicon-1``): Chinese and English positive/negative word lists with
  weights (``sentiment_lexicon.py``), longest match first for Chinese, words for English; a negation word
  just before a cue (English: in the three words before it) flips and damps it, an intensifier strengthens it;
  exclamation marks and repeated ``!``/``?`` strengthen the sum, and ``???``/``!!!`` alone read as mildly
  negative. The sum goes through ``tanh``. This is what runs when no model was trained, so the assistant
  works straight after ``make run``.
- **Trained model** (Chinese): ``smartbank assistant train-sentiment`` fits the character n-gram
  logistic regression of ``sentiment_model.py`` on the shared Chinese review sets and saves it with the
  model registry. It is loaded lazily on the first Chinese message and cached (a newer version is picked
  up within ``RECHECK_SECONDS``). Reviews are not chat, so the model's ``2p - 1`` is blended with the
  lexicon: ``0.6 model + 0.4 lexicon`` when the lexicon found a cue, ``0.25 model`` (damped towards
  neutral: plain requests such as "查一下余额" read as mildly negative reviews) when it found none. ``warm()``
  loads it ahead of the first message (a few seconds). English always uses the lexicon (no English
  sentiment data is shared).

The emotion comes from cue words (angry > anxious > sad > happy), the negative ones counting only when
the value is negative; without a cue a clearly positive value is happy, a clearly negative one angry when
shouted (``!!``) and sad otherwise. One call takes well under a millisecond with the lexicon and about
one with the model.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartbank.assistant.nlp import sentiment_lexicon as lex
from smartbank.assistant.nlp.sentiment_model import FEATURES, MODEL_NAME
from smartbank.ml import service as ml

__all__ = ["EMOTIONS", "LEXICON_VERSION", "Sentiment", "detect_language", "lexicon_score", "reset_cache", "score",
           "warm"]

log = logging.getLogger(__name__)

EMOTIONS = ("angry", "anxious", "sad", "neutral", "happy")
LEXICON_VERSION = "lexicon-1"
RECHECK_SECONDS = 300.0
NO_CUE_WEIGHT = 0.25  # a review model reads plain requests ("查一下余额") as mildly negative

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_REPEATED = re.compile(r"[!！?？]{2,}|[。.]{3,}|…")
_ZH_MAXLEN = max(len(w) for w in (*lex.ZH_POSITIVE, *lex.ZH_NEGATIVE))
_ZH_WEIGHTS = {**lex.ZH_POSITIVE, **lex.ZH_NEGATIVE}
_EN_WEIGHTS = {**lex.EN_POSITIVE, **lex.EN_NEGATIVE}


@dataclass(frozen=True)
class Sentiment:
    value: float  # -1 negative .. 1 positive
    emotion: str  # angry | anxious | sad | neutral | happy
    language: str  # zh | en
    model_version: str


def detect_language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def _zh_cues(text: str) -> list[float]:
    out: list[float] = []
    i, n = 0, len(text)
    last_end = 0
    while i < n:
        for size in range(min(_ZH_MAXLEN, n - i), 0, -1):
            w = text[i:i + size]
            if w in _ZH_WEIGHTS:
                weight = _ZH_WEIGHTS[w]
                before = text[max(last_end, i - 4):i]
                if any(before.endswith(x) for x in lex.ZH_INTENSIFIERS):
                    weight *= 1.4
                    before = next(before[: -len(x)] for x in lex.ZH_INTENSIFIERS if before.endswith(x))
                if any(before.endswith(neg) for neg in lex.ZH_NEGATIONS):
                    weight = -0.8 * weight
                out.append(weight)
                i += size
                last_end = i
                break
        else:
            i += 1
    return out


def _en_cues(text: str) -> list[float]:
    words = _EN_WORD.findall(text.lower())
    out: list[float] = []
    for k, w in enumerate(words):
        weight = _EN_WEIGHTS.get(w)
        if weight is None:
            continue
        before = words[max(0, k - 3):k]
        if any(b in lex.EN_NEGATIONS for b in before):
            weight = -0.8 * weight
        if before and before[-1] in lex.EN_INTENSIFIERS:
            weight *= 1.4
        out.append(weight)
    return out


def _shouting(text: str) -> int:
    """0 .. 3: exclamation marks, repeated punctuation and capitals."""
    n = min(2, text.count("!") + text.count("！"))
    if _REPEATED.search(text):
        n += 1
    if re.search(r"\b[A-Z]{4,}\b", text):
        n += 1
    return min(3, n)


def lexicon_score(text: str, language: str | None = None) -> tuple[float, int]:
    """(value in -1 .. 1, number of cue words) from the word lists alone."""
    language = language or detect_language(text)
    cues = _zh_cues(text) if language == "zh" else _en_cues(text)
    if language == "zh":
        cues += _en_cues(text)  # mixed messages ("太差了 bad service")
    s = sum(cues)
    shout = _shouting(text)
    if s:
        s *= 1 + 0.25 * shout
    elif shout >= 2 and re.search(r"[?？]{2,}|[!！]{2,}", text):
        s = -0.3
    return math.tanh(s), len(cues)


def _emotion(text: str, value: float) -> str:
    low = text.lower()
    for emo in ("angry", "anxious", "sad"):
        if value < 0 and any(c in low for c in lex.EMOTION_CUES[emo]):
            return emo
    if value > 0 and any(c in low for c in lex.EMOTION_CUES["happy"]):
        return "happy"
    if value >= 0.3:
        return "happy"
    if value <= -0.3:
        return "angry" if _shouting(text) >= 2 else "sad"
    return "neutral"


# --- the trained model, loaded lazily ----------------------------------------------------------

_lock = threading.Lock()
_cache: dict[str, tuple[float, Any, str | None]] = {}  # model dir -> (checked at, pipeline, version)


def reset_cache() -> None:
    with _lock:
        _cache.clear()


def _model(model_dir: Path | None) -> tuple[Any, str | None]:
    root = Path(model_dir) if model_dir is not None else ml.default_model_dir()
    key = str(root)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < RECHECK_SECONDS:
        return hit[1], hit[2]
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < RECHECK_SECONDS:
            return hit[1], hit[2]
        version = ml.latest_version(MODEL_NAME, model_dir=root)
        pipeline, loaded = (hit[1], hit[2]) if hit is not None else (None, None)
        if version is not None and version != loaded:
            try:
                m = ml.load_model(MODEL_NAME, version=version, features=FEATURES, model_dir=root)
                pipeline, loaded = m.objects["pipeline"], version
            except ml.RegistryError as exc:  # a broken or stale artefact: keep the lexicon, say why
                log.warning("sentiment model %s not used: %s", version, exc.message)
                pipeline, loaded = None, None
        elif version is None:
            pipeline, loaded = None, None
        _cache[key] = (now, pipeline, loaded)
        return pipeline, loaded


def warm(model_dir: Path | None = None) -> str | None:
    """Load the trained model now (e.g. when the server starts); returns its version or None."""
    return _model(model_dir)[1]


def score(text: str, *, model_dir: Path | None = None, use_model: bool = True) -> Sentiment:
    """The sentiment of one message (see the module docstring)."""
    text = (text or "").strip()
    if not text:
        return Sentiment(0.0, "neutral", "en", LEXICON_VERSION)
    language = detect_language(text)
    lexv, ncues = lexicon_score(text, language)
    value, version = lexv, LEXICON_VERSION
    if use_model and language == "zh":
        pipeline, mv = _model(model_dir)
        if pipeline is not None:
            p = float(pipeline.predict_proba([text])[0][1])
            mval = 2 * p - 1
            value = 0.6 * mval + 0.4 * lexv if ncues else NO_CUE_WEIGHT * mval
            version = f"assistant_sentiment/{mv}+{LEXICON_VERSION}"
    value = max(-1.0, min(1.0, value))
    return Sentiment(round(value, 4), _emotion(text, value), language, version)
