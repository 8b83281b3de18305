"""The assistant's intent classifier: character and word n-gram TF-IDF with a logistic regression, trained on
:mod:`smartbank.assistant.intent_data` in a couple of seconds.

``smartbank assistant train-intents`` fits it and saves it through :mod:`smartbank.ml.registry` as
``assistant_intents``; without a saved model the first classification trains one in memory (nothing is
downloaded), so a fresh ``make run`` answers. Below :data:`THRESHOLD` the turn is ``unknown`` ("not
understood"), and an unknown turn never leads to an action. A few one-word answers that matter in a
confirmation turn (``确认``, ``yes``, ``取消``, ``cancel``...) are read exactly, before the model.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartbank.assistant import intent_data
from smartbank.ml import service as ml

MODEL_NAME = "assistant_intents"
THRESHOLD = 0.30
FEATURES = ["text"]

_EXACT: dict[str, str] = {}
for _w in ("确认", "确定", "是的", "是", "对", "对的", "好", "好的", "可以", "行", "没问题", "yes", "y", "yes please",
           "confirm", "ok", "okay", "sure", "yep", "yeah", "correct", "go ahead", "do it"):
    _EXACT[_w] = "affirm"
for _w in ("不", "不是", "不对", "否", "no", "n", "nope", "wrong", "incorrect"):
    _EXACT[_w] = "deny"
for _w in ("取消", "算了", "不要了", "停止", "退出", "cancel", "stop", "abort", "never mind", "nevermind", "forget it",
           "quit"):
    _EXACT[_w] = "cancel"
_PUNCT = re.compile(r"[\s。，,.!！?？~～]+")
# a question about how much the customer spent ("上个月花了多少钱", "how much did I spend last week"); the trained
# intents have no such class, so it is read from these words (消费贷 is a loan product, not spending)
_SPENDING = re.compile(r"花了多少|花多少|花了哪些|花销|开销|消费(?!贷)|支出|花费|\bspent\b|what did i spend|"
                       r"how much (?:did|have|do) i spend|\bmy (?:spending|expenses)\b|"
                       r"\bspending (?:last|this|in|over|for|during)\b", re.I)


# consent (PIPL): "关闭个性化推荐", "不要再发营销短信", "turn off personalised recommendations", "my consents". Read
# from words, not the trained model (no retraining): a purpose word and a verb, or a request to see them.
CONSENT_INTENTS = ("consent_show", "consent_off", "consent_on")
_C_SHOW = re.compile(r"我的授权|授权情况|授权设置|隐私设置|隐私授权|同意了哪些|\bmy consents?\b|\bprivacy settings\b|"
                     r"what (?:have )?i (?:agreed|consented) to", re.I)
_C_OFF = re.compile(r"关闭|关掉|取消|停止|不要|不想|不用|拒绝|撤回|退订|别再|不再|不同意|\bturn(?:ing)? (?:it )?off\b|"
                    r"\bswitch (?:it )?off\b|\bstop\b|\bopt(?: |-)?out\b|\bwithdraw\b|\bdisable\b|\bunsubscribe\b|"
                    r"\bdon'?t\b|\bno more\b|\bno longer\b", re.I)
_C_ON = re.compile(r"开启|打开|开通|同意|允许|恢复|\bturn(?:ing)? (?:it )?on\b|\bswitch (?:it )?on\b|\benable\b|"
                   r"\bopt(?: |-)?in\b|\ballow\b|\bresume\b|\bi agree\b", re.I)
_C_PURPOSES = (
    ("personalised_recommendation", re.compile(r"个性化|\bpersonali[sz]ed\b|\bpersonali[sz]ation\b", re.I)),
    ("partner_sharing", re.compile(r"共享|第三方|合作机构|合作方|\bshar(?:e|ing)\b.*\b(?:data|partners?)\b|"
                                   r"\bpartners?\b", re.I)),
    ("analytics", re.compile(r"统计分析|数据分析|\banalytics\b", re.I)),
)
_C_MARKETING = re.compile(r"营销|广告|推广|推销|\bmarketing\b|\bpromotions?\b|\badverts?\b|\badvertising\b|"
                          r"\boffers\b", re.I)
_C_CHANNELS = (
    ("marketing_sms", re.compile(r"短信|\bsms\b|\btexts?\b|text messages?", re.I)),
    ("marketing_email", re.compile(r"邮件|邮箱|\be-?mails?\b", re.I)),
    ("marketing_push", re.compile(r"推送|站内|\bpush\b|\bin-app\b|\bnotifications?\b", re.I)),
    ("marketing_phone", re.compile(r"电话|来电|\bcalls?\b|\bphone\b", re.I)),
)


def consent_request(text: str) -> tuple[str, list[str]] | None:
    """``(intent, purposes)`` when the message asks to see, switch off or switch on consents (see
    :data:`CONSENT_INTENTS`); marketing without a channel means every channel. None otherwise."""
    t = text or ""
    purposes = [p for p, rx in _C_PURPOSES if rx.search(t)]
    if _C_MARKETING.search(t):
        channels = [p for p, rx in _C_CHANNELS if rx.search(t)]
        purposes += channels or [p for p, _ in _C_CHANNELS]
    if purposes:
        if _C_OFF.search(t):
            return "consent_off", purposes
        if _C_ON.search(t):
            return "consent_on", purposes
    if _C_SHOW.search(t):
        return "consent_show", purposes
    return None


def spending_question(text: str) -> bool:
    """True when the message asks about the customer's spending (see ``_SPENDING``)."""
    return bool(_SPENDING.search(text or ""))


@dataclass(frozen=True)
class Prediction:
    intent: str  # one of intent_data.INTENTS, or "unknown" below the threshold
    confidence: float
    top: str  # the model's best guess even when below the threshold
    model_version: str


def build_pipeline() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=True, sublinear_tf=True)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True, sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b")),
    ])
    return Pipeline([("features", features),
                     ("clf", LogisticRegression(C=20.0, max_iter=2000, class_weight="balanced"))])


def data_hash() -> str:
    h = hashlib.sha256()
    for text, intent in intent_data.examples():
        h.update(f"{intent}\t{text}\n".encode())
    return h.hexdigest()


def fit() -> Any:
    rows = intent_data.examples()
    pipe = build_pipeline()
    pipe.fit([t for t, _ in rows], [i for _, i in rows])
    return pipe


def train(*, model_dir: Path | None = None) -> dict[str, Any]:
    """Fit on every utterance and save as a new version; the metrics are a held-out split's accuracy."""
    from sklearn.model_selection import train_test_split

    rows = intent_data.examples()
    texts, labels = [t for t, _ in rows], [i for _, i in rows]
    x_tr, x_te, y_tr, y_te = train_test_split(texts, labels, test_size=0.2, random_state=7, stratify=labels)
    held = build_pipeline().fit(x_tr, y_tr)
    accuracy = float((held.predict(x_te) == y_te).mean())
    pipe = fit()
    saved = ml.save_model(MODEL_NAME, {"pipeline": pipe}, features=FEATURES, data_hash=data_hash(),
                                metrics={"holdout_accuracy": accuracy, "examples": len(rows)}, seed=7,
                                params={"threshold": THRESHOLD}, model_dir=model_dir)
    reset()
    return {"version": saved.version, "path": str(saved.path), "examples": len(rows),
            "holdout_accuracy": round(accuracy, 4)}


_lock = threading.Lock()
_model: tuple[Any, str] | None = None


def reset() -> None:
    global _model
    with _lock:
        _model = None


def model() -> tuple[Any, str]:
    """(pipeline, version): the newest saved model when it was trained on this version's utterances, else one
    trained in memory (version ``builtin-<hash>``): a model saved before an intent was added cannot know it."""
    global _model
    with _lock:
        if _model is None:
            try:
                loaded = ml.load_model(MODEL_NAME, features=FEATURES)
                if loaded.meta.get("data_hash") != data_hash():
                    raise ml.RegistryError("trained on other utterances", reason="assistant.model.other_data")
                _model = (loaded.objects["pipeline"], loaded.version)
            except ml.RegistryError:
                _model = (fit(), f"builtin-{data_hash()[:12]}")
        return _model


def classify(text: str) -> Prediction:
    pipe, version = model()
    key = _PUNCT.sub(" ", (text or "").lower()).strip()
    if key in _EXACT:
        return Prediction(_EXACT[key], 1.0, _EXACT[key], version)
    if not re.search(r"[a-z\u4e00-\u9fff]", key):
        return Prediction("unknown", 0.0, "unknown", version)
    proba = pipe.predict_proba([text])[0]
    best = int(proba.argmax())
    top, conf = str(pipe.classes_[best]), float(proba[best])
    return Prediction(top if conf >= THRESHOLD else "unknown", round(conf, 4), top, version)
