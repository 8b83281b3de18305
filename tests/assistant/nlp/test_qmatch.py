from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartbank.assistant.nlp.qmatch import QMatchModel, read_pairs
from smartbank.cli import app
from smartbank.errors import ValidationFailed

TOPICS = {
    "花呗还款": ["花呗怎么还款", "花呗的钱怎么还", "怎样还花呗", "花呗还款方式有哪些"],
    "借呗额度": ["借呗额度怎么提高", "怎么提升借呗的额度", "借呗额度太低了能提吗", "如何增加借呗额度"],
    "修改手机号": ["怎么更改绑定的手机号", "手机号换了怎么修改", "如何换绑手机号码", "更换手机号码在哪里"],
    "信用卡账单": ["信用卡账单几号出", "账单日是哪天", "信用卡什么时候出账单", "我的账单日期"],
    "转账失败": ["转账为什么失败", "转账一直不成功", "转不了账怎么回事", "转账失败了怎么办"],
}


def _pairs(n: int, seed: int) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    keys = list(TOPICS)
    out = []
    for i in range(n):
        a = rng.choice(keys)
        if i % 3 == 0:
            q1, q2 = rng.sample(TOPICS[a], 2)
            out.append((q1, q2, 1))
        else:
            b = rng.choice([k for k in keys if k != a])
            out.append((rng.choice(TOPICS[a]), rng.choice(TOPICS[b]), 0))
    return out


def _write(path: Path, rows: list[tuple[str, str, int]], *, with_id: bool) -> Path:
    lines = [(f"{i}\t" if with_id else "") + f"{a}\t{b}\t{y}" for i, (a, b, y) in enumerate(rows, start=1)]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_both_layouts(tmp_path: Path) -> None:
    rows = _pairs(10, 1)
    a = read_pairs(_write(tmp_path / "a.tsv", rows, with_id=True))
    b = read_pairs(_write(tmp_path / "b.tsv", rows, with_id=False))
    assert a == b
    assert a[2] == [y for _, _, y in rows] and a[0][0] == rows[0][0]  # the BOM is gone
    h = tmp_path / "h.tsv"
    h.write_text("q1\tq2\tlabel\n你好\t您好\t1\n", encoding="utf-8")
    assert read_pairs(h) == (["你好"], ["您好"], [1])


def test_model_separates_pairs() -> None:
    rows = _pairs(400, 2)
    m = QMatchModel(n_estimators=50).fit(*zip(*rows, strict=True))  # type: ignore[arg-type]
    test = _pairs(100, 3)
    p = m.predict_proba([a for a, _, _ in test], [b for _, b, _ in test])
    pos = [pi for pi, (_, _, y) in zip(p, test, strict=True) if y == 1]
    neg = [pi for pi, (_, _, y) in zip(p, test, strict=True) if y == 0]
    assert sum(pos) / len(pos) > sum(neg) / len(neg) + 0.3


def test_eval_cli(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.tsv", _pairs(400, 4), with_id=True)  # ATEC layout
    test = _write(tmp_path / "test.tsv", _pairs(90, 5), with_id=False)
    r = CliRunner().invoke(app, ["eval", "qmatch", "--train", str(train), "--test", str(test), "--no-zero-shot"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["n_train"] == 400 and res["n_test"] == 90
    assert 0.8 <= res["auc"] <= 1 and 0.7 <= res["accuracy"] <= 1
    assert res["train_seconds"] >= 0 and "LightGBM" in res["model"] and res["zero_shot_auc"] is None


@pytest.mark.parametrize("content", ["a\tb\tc\td\te\n", "你好\t您好\tyes\n", "只有一列\n", ""])
def test_bad_files(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text(content, encoding="utf-8")
    good = _write(tmp_path / "good.tsv", _pairs(30, 6), with_id=False)
    with pytest.raises(ValidationFailed):
        read_pairs(bad)
    r = CliRunner().invoke(app, ["eval", "qmatch", "--train", str(bad), "--test", str(good), "--no-zero-shot"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["eval", "qmatch", "--train", str(tmp_path / "nope.tsv"), "--test", str(good)])
    assert r.exit_code == 2
