from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartbank.assistant.nlp import sentiment
from smartbank.assistant.nlp.sentiment import EMOTIONS, LEXICON_VERSION, score
from smartbank.assistant.nlp.sentiment_model import read_labelled
from smartbank.cli import app
from smartbank.errors import ValidationFailed

POS_ZH = ["谢谢，问题解决了，非常满意", "服务很好，办理很方便，给你们好评", "太好了，感谢客服的耐心解答"]
NEG_ZH = ["你们的服务太差了，我要投诉！", "转账一直失败，真让人失望", "什么破银行，乱扣我的钱，垃圾"]
NEU_ZH = ["我想查一下余额", "明天上午转账给张三", "信用卡账单几号出"]
POS_EN = ["Thanks, that was really helpful", "Great service, I am very happy", "Perfect, appreciate it"]
NEG_EN = ["This is the worst bank ever!!!", "I am very disappointed, the transfer failed again",
          "Terrible app, totally useless"]
NEU_EN = ["I want to check my balance", "Send 200 yuan to Li Lei tomorrow", "When is my card statement due"]


@pytest.fixture(autouse=True)
def _no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import smartbank.ml.service as ml

    monkeypatch.setattr(ml, "default_model_dir", lambda: tmp_path / "no-models")  # the lexicon
    sentiment.reset_cache()


@pytest.mark.parametrize("text", POS_ZH + POS_EN)
def test_positive(text: str) -> None:
    s = score(text, model_dir=Path("/nonexistent/models"))
    assert s.value > 0.3, s
    assert s.emotion == "happy"
    assert s.model_version == LEXICON_VERSION


@pytest.mark.parametrize("text", NEG_ZH + NEG_EN)
def test_negative(text: str) -> None:
    s = score(text, model_dir=Path("/nonexistent/models"))
    assert s.value < -0.3, s
    assert s.emotion in ("angry", "sad", "anxious")


@pytest.mark.parametrize("text", NEU_ZH + NEU_EN)
def test_neutral(text: str) -> None:
    s = score(text, model_dir=Path("/nonexistent/models"))
    assert abs(s.value) < 0.3, s
    assert s.emotion == "neutral"


def test_language_and_range() -> None:
    assert score("余额多少").language == "zh"
    assert score("what is my balance").language == "en"
    assert score("").emotion == "neutral"
    for t in POS_ZH + NEG_ZH + NEU_ZH + POS_EN + NEG_EN + NEU_EN:
        s = score(t)
        assert -1 <= s.value <= 1 and s.emotion in EMOTIONS


def test_negation_flips() -> None:
    assert score("满意").value > 0 > score("不满意").value
    assert score("good").value > 0 > score("not good").value
    assert score("没有问题").value >= 0


def test_emotion_cues() -> None:
    assert score("气死我了，我要投诉你们！").emotion == "angry"
    assert score("我的卡被盗刷了怎么办，好着急").emotion == "anxious"
    assert score("I lost my card and I am really worried").emotion == "anxious"
    assert score("有点失望，很遗憾").emotion == "sad"
    assert score("This is ridiculous, unacceptable!!").emotion == "angry"


def test_punctuation_strengthens() -> None:
    assert score("服务太差了！！！").value < score("服务太差了").value
    assert score("???!!!").value < 0


def test_without_a_model_the_lexicon_scores_alone() -> None:
    """The lexicon's answer, the same on every call (its cost: ``smartbank bench models``)."""
    first = score("你们的服务太差了，我要投诉！这是什么破银行，转账一直失败")
    assert first.value < 0 and first.emotion == "angry" and first.model_version == LEXICON_VERSION
    assert all(score("你们的服务太差了，我要投诉！这是什么破银行，转账一直失败") == first for _ in range(20))


def _tsv(path: Path, rows: list[tuple[int, str]]) -> Path:
    path.write_text("label\ttext_a\n" + "".join(f"{y}\t{t}\n" for y, t in rows), encoding="utf-8")
    return path


def _reviews(n: int, seed: int) -> list[tuple[int, str]]:
    import random

    rng = random.Random(seed)
    good = ["很好", "满意", "不错", "喜欢", "推荐", "方便"]
    bad = ["很差", "失望", "垃圾", "难用", "后悔", "太慢"]
    things = ["酒店", "房间", "服务", "早餐", "手机", "外卖", "书"]
    out = []
    for i in range(n):
        y = i % 2
        words = good if y else bad
        out.append((y, f"{rng.choice(things)}{rng.choice(words)}，{rng.choice(things)}也{rng.choice(words)}"))
    return out


def test_eval_cli_and_trained_model(tmp_path: Path) -> None:
    train = _tsv(tmp_path / "train.tsv", _reviews(300, 1))
    extra = tmp_path / "extra.csv"  # the SophonPlus CSV layout
    extra.write_text("label,review\n" + "".join(f"{y},\"{t}\"\n" for y, t in _reviews(100, 2)), encoding="utf-8")
    test = _tsv(tmp_path / "test.tsv", _reviews(60, 3))
    r = CliRunner().invoke(app, ["eval", "sentiment", "--train", str(train), "--train", str(extra),
                                 "--test", str(test)])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["n_test"] == 60 and res["n_train"] + res["n_train_dropped_in_test"] == 400
    assert 0.8 <= res["accuracy"] <= 1 and 0 <= res["baseline_accuracy"] <= 1
    assert res["train_seconds"] >= 0 and "logistic regression" in res["model"]

    models = tmp_path / "models"
    r = CliRunner().invoke(app, ["assistant", "train-sentiment", "--train", str(train), "--model-dir", str(models)])
    assert r.exit_code == 0, r.output
    saved = json.loads(r.stdout.strip().splitlines()[-1])
    sentiment.reset_cache()
    s = score("房间很差，太失望了", model_dir=models)
    assert s.value < 0 and s.model_version == f"assistant_sentiment/{saved['version']}+{LEXICON_VERSION}"
    assert score("服务很好，很满意", model_dir=models).value > 0
    assert score("not good at all", model_dir=models).model_version == LEXICON_VERSION  # English: lexicon
    for t in NEU_ZH:  # no cue word: the review model is damped, the request stays neutral
        s = score(t, model_dir=models)
        assert abs(s.value) <= 0.25 and s.emotion == "neutral"
    assert sentiment.warm(models) == saved["version"]
    once = score("房间很差，太失望了", model_dir=models)  # the loaded model answers alike every time
    assert all(score("房间很差，太失望了", model_dir=models) == once for _ in range(20))


def test_bad_files(tmp_path: Path) -> None:
    good = _tsv(tmp_path / "good.tsv", _reviews(20, 1))
    bad_label = _tsv(tmp_path / "bad.tsv", [(1, "好"), (7, "差")])  # type: ignore[list-item]
    no_header = tmp_path / "nohead.tsv"
    no_header.write_text("1\t很好\n0\t很差\n", encoding="utf-8")
    for f in (bad_label, no_header, tmp_path / "missing.tsv"):
        with pytest.raises(ValidationFailed):
            read_labelled(f)
        r = CliRunner().invoke(app, ["eval", "sentiment", "--train", str(f), "--test", str(good)])
        assert r.exit_code != 0
        assert "Traceback" not in r.output
    binary = tmp_path / "bin.tsv"
    binary.write_bytes(b"\xff\xfe\x00\x01label")
    with pytest.raises(ValidationFailed):
        read_labelled(binary)
