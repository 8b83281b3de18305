"""End-to-end imports on every backend: invariants, idempotency, de-duplication quality, real data."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from smartbank.config import get_settings
from smartbank.customers.validation import make_resident_id
from smartbank.insight.importing import ImportFileError, MappingError, run_import
from smartbank.security import service as security

NOW = datetime(2024, 6, 1, tzinfo=UTC)
CUSTOMERS_MAP = {"kind": "customers", "source": "legacy", "options": {"kyc_status": "verified"}, "fields": {
    "external_id": "cust_no", "name": "name", "id_number": "id_no", "phone": "mobile", "email": "email",
    "gender": {"column": "sex", "values": {"男": "M", "女": "F"}}, "city": "city"}}
TX_MAP = {"kind": "transactions", "source": "legacy", "fields": {
    "external_id": "txn", "customer_external_id": "cust_no", "occurred_at": {"column": "ts", "timezone": "UTC"},
    "amount": {"column": "amount", "unit": "major", "negative": "credit"}, "currency": {"default": "CNY"},
    "counterparty": "merchant"}}


def count(engine, sql: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text(sql)).scalar() or 0)


def imp(engine, tmp_path, kind, path, data, **kw):
    return run_import(kind=kind, path=path, mapping_data=data, engine=engine, now=NOW,
                      rejects_path=tmp_path / f"{kind}_rejects.csv", report_path=tmp_path / f"{kind}.html", **kw)


def check_totals(res) -> None:
    assert res.rows_read == res.rows_loaded + res.rows_rejected + res.rows_merged
    assert res.outcomes is not None and res.outcomes.height == res.rows_rejected + res.rows_merged


SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国文辉玉红云飞鹏雪梅林琳晨宇浩")
LATIN = ["Wei", "Fang", "Ming", "Hui", "Jun", "Lei", "Yan", "Qiang", "Xiaoming", "Jianguo", "Meiling", "Zhiwei"]


def gen_customers(n: int, seed: int = 7) -> tuple[pl.DataFrame, dict[str, int]]:
    """``n`` people, about a quarter of them written a second time with formatting noise or a typo, plus hard
    negatives (family members sharing a phone, namesakes). Returns the file and source id -> true person."""
    rng = random.Random(seed)
    rows, truth = [], {}
    people = []
    for p in range(n):
        latin = rng.random() < 0.3
        name = (f"{rng.choice(LATIN)} {rng.choice(LATIN)}" if latin
                else rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))))
        born = date(1950 + rng.randrange(55), rng.randint(1, 12), rng.randint(1, 28))
        people.append({"name": name, "id": make_resident_id("310101", born, p), "phone": f"139{p:08d}",
                       "sex": rng.choice(["男", "女"]), "latin": latin})
    ext = 0

    def add(p: int, **over) -> None:
        nonlocal ext
        ext += 1
        base = people[p]
        rows.append({"cust_no": f"L{ext:06d}", "name": base["name"], "id_no": base["id"], "mobile": base["phone"],
                     "email": None, "sex": None, "city": "上海", **over})
        truth[f"L{ext:06d}"] = p

    for p in range(n):
        add(p)
    for p in rng.sample(range(n), n // 4):
        b = people[p]
        noise = rng.randrange(6)
        if noise == 0:    # formatting only: spaces, case, full width, a dashed phone, lower-case x
            name = ("  " + b["name"].upper() + " ") if b["latin"] else " ".join(b["name"])
            add(p, name=name, mobile=f"{b['phone'][:3]}-{b['phone'][3:7]}-{b['phone'][7:]}",
                id_no=b["id"].lower())
        elif noise == 1:  # no ID number, +86 phone
            add(p, id_no=None, mobile="+86 " + b["phone"])
        elif noise == 2:  # a typo in a Latin name (or a different given-name character), no ID, same phone
            nm = (b["name"][:-1] + ("x" if b["name"][-1] != "x" else "y")) if b["latin"] \
                else b["name"][:-1] + rng.choice(GIVEN)
            add(p, name=nm, id_no=None)
        elif noise == 3:  # full-width phone digits and no ID
            add(p, id_no=None, mobile="".join(chr(ord(ch) + 0xFEE0) for ch in b["phone"]))
        elif noise == 4:  # same ID, new phone: the exact ID rule catches it
            add(p, mobile=f"137{p:08d}")
        else:             # ID with spaces
            add(p, id_no=f"{b['id'][:6]} {b['id'][6:14]} {b['id'][14:]}")
    for p in rng.sample(range(n), n // 10):  # hard negatives: family member on the same phone, own ID
        q = len(people)
        born = date(1950 + rng.randrange(55), rng.randint(1, 12), rng.randint(1, 28))
        people.append({"name": people[p]["name"][0] + rng.choice(GIVEN) + rng.choice(GIVEN),
                       "id": make_resident_id("320102", born, q), "phone": people[p]["phone"], "sex": "男",
                       "latin": False})
        add(q)
    rng.shuffle(rows)
    return pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}), truth


def test_customers_fuzzy_dedup_precision_recall(engine, tmp_path):
    df, truth = gen_customers(400)
    path = tmp_path / "customers.csv"
    df.write_csv(path)
    res = imp(engine, tmp_path, "customers", path, CUSTOMERS_MAP)
    check_totals(res)
    # predicted entity of every source id: its customer
    with engine.connect() as c:
        link = dict(c.execute(text("SELECT external_id, customer_id FROM customer_source_ids"
                                   " WHERE source='legacy'")).tuples().all())
    assert set(link) == set(truth), "every source id, loaded or merged, is linked to a customer"
    pairs_true = pairs_pred = both = 0
    ids = sorted(truth)
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            t = truth[ids[i]] == truth[ids[j]]
            p = link[ids[i]] == link[ids[j]]
            pairs_true += t
            pairs_pred += p
            both += t and p
    precision, recall = both / max(pairs_pred, 1), both / max(pairs_true, 1)
    print(f"\nfuzzy de-duplication on {len(ids)} records ({pairs_true} true duplicate pairs): "
          f"precision {precision:.3f}, recall {recall:.3f}; hits {res.hits}")
    assert precision >= 0.95 and recall >= 0.85
    assert res.hits.get("DUP_FUZZY", 0) > 0 and res.hits.get("DUP_ID_NUMBER", 0) > 0
    assert count(engine, "SELECT count(*) FROM customers") == res.rows_loaded
    assert count(engine, "SELECT count(*) FROM customers WHERE kyc_status = 'verified'") > 0


def test_customers_reimport_and_match_existing(engine, tmp_path, bank):
    existing_id = make_resident_id("110101", date(1980, 1, 2), 5)
    cid = bank.customer("李娜", id_number=existing_id, phone="13912345678")
    df = pl.DataFrame({"cust_no": ["A1", "A2", "A3", "A4"], "name": ["李娜", "Bad Id", "王芳", "李 娜"],
                       "id_no": [existing_id, "110101198001020000", None, None],
                       "mobile": ["13912345678", None, "021-12345678", "+86 139 1234 5678"],
                       "email": [None] * 4, "sex": ["女", None, "F", None], "city": [None] * 4})
    path = tmp_path / "c.csv"
    df.write_csv(path)
    r1 = imp(engine, tmp_path, "customers", path, CUSTOMERS_MAP)
    check_totals(r1)
    assert (r1.rows_loaded, r1.rows_rejected, r1.rows_merged) == (1, 1, 2)
    assert r1.hits["DUP_DB_ID_NUMBER"] == 1 and r1.hits["DUP_DB_FUZZY"] == 1
    with engine.connect() as c:
        links = dict(c.execute(text("SELECT external_id, customer_id FROM customer_source_ids")).tuples().all())
    assert links["A1"] == cid and links["A4"] == cid and "A2" not in links
    rej = pl.read_csv(tmp_path / "customers_rejects.csv", infer_schema=False)
    assert set(rej["cust_no"]) == {"A2", "A1", "A4"}
    assert rej.filter(pl.col("cust_no") == "A2")["_rules"][0].startswith("ID_")
    before = count(engine, "SELECT count(*) FROM customers")
    r2 = imp(engine, tmp_path, "customers", path, CUSTOMERS_MAP)
    check_totals(r2)
    assert r2.rows_loaded == 0 and r2.hits["DUP_DB_SOURCE_ID"] == 3
    assert count(engine, "SELECT count(*) FROM customers") == before
    assert count(engine, "SELECT count(*) FROM import_batches WHERE status = 'done'") == 2


def test_transactions_unknown_customers_dups_and_idempotent_reimport(engine, tmp_path, bank):
    df = pl.DataFrame({"txn": ["t1", "t2", "t2", "t3", "t4", "t5"], "cust_no": ["C1", "C1", "C1", "C2", "C9", "C1"],
                       "ts": ["2024-01-01 10:00:00"] * 5 + ["not a time"],
                       "amount": ["10.50", "-3", "3", "1,000.00", "1", "2"], "merchant": ["m1"] * 6})
    path = tmp_path / "tx.csv"
    df.write_csv(path)
    cust = {**CUSTOMERS_MAP, "fields": {**CUSTOMERS_MAP["fields"]}}
    cpath = tmp_path / "c.csv"
    pl.DataFrame({"cust_no": ["C1", "C2"], "name": ["张伟", "王芳"], "id_no": [None, None],
                  "mobile": ["13800000001", "13800000002"], "email": [None, None], "sex": [None, None],
                  "city": [None, None]}).write_csv(cpath)
    imp(engine, tmp_path, "customers", cpath, cust)
    r1 = imp(engine, tmp_path, "transactions", path, TX_MAP)
    check_totals(r1)
    assert (r1.rows_loaded, r1.rows_rejected, r1.rows_merged) == (3, 2, 1)
    assert r1.hits["UNKNOWN_CUSTOMER"] == 1 and r1.hits["DATE_INVALID"] == 1 and r1.hits["DUP_EXTERNAL_ID"] == 1
    with engine.connect() as c:
        got = dict(c.execute(text("SELECT external_id, amount_minor FROM external_transactions")).tuples().all())
        assert c.execute(text("SELECT direction FROM external_transactions WHERE external_id='t2'")).scalar() \
            == "credit"
    assert got == {"t1": 1050, "t2": 300, "t3": 100000}
    r2 = imp(engine, tmp_path, "transactions", path, TX_MAP)
    check_totals(r2)
    assert r2.rows_loaded == 0 and r2.hits["DUP_DB_SOURCE_ID"] == 3
    assert count(engine, "SELECT count(*) FROM external_transactions") == 3
    # with create_missing_customers the unknown C9 becomes a pending placeholder
    r3 = imp(engine, tmp_path, "transactions", path, {**TX_MAP, "options": {"create_missing_customers": True}})
    assert r3.rows_loaded == 1 and r3.customers_created == 1
    with engine.connect() as c:
        row = c.execute(text("SELECT c.kyc_status, c.id_type, c.name FROM customers c JOIN customer_source_ids s"
                             " ON s.customer_id = c.id WHERE s.external_id = 'C9'")).one()
    assert row[0] == "pending" and row[1] == "external" and "Unknown" in row[2]
    report = (tmp_path / "transactions.html").read_text(encoding="utf-8")
    assert "<svg" in report and "DUP_DB_SOURCE_ID" in report


def test_accounts_opening_balance_is_an_idempotent_ledger_transfer(engine, tmp_path, bank):
    cpath = tmp_path / "c.csv"
    pl.DataFrame({"cust_no": ["C1"], "name": ["张伟"], "id_no": [None], "mobile": [None], "email": [None],
                  "sex": [None], "city": [None]}).write_csv(cpath)
    imp(engine, tmp_path, "customers", cpath, CUSTOMERS_MAP)
    apath = tmp_path / "a.csv"
    pl.DataFrame({"acc": ["A1", "A2", "A3"], "cust": ["C1", "C1", "C1"], "bal": ["100.25", "0", "x"],
                  "type": ["活期", "定期", "活期"]}).write_csv(apath)
    amap = {"kind": "accounts", "source": "legacy", "fields": {
        "external_id": "acc", "customer_external_id": "cust", "opening_balance": {"column": "bal"},
        "kind": {"column": "type", "values": {"活期": "demand", "定期": "savings"}}}}
    r1 = imp(engine, tmp_path, "accounts", apath, amap)
    check_totals(r1)
    assert (r1.rows_loaded, r1.rows_rejected) == (2, 1)
    with engine.connect() as c:
        key = "import:legacy:A1"
        assert c.execute(text("SELECT count(*) FROM transfers WHERE idempotency_key = :k"), {"k": key}).scalar() == 1
        kinds = sorted(r[0] for r in c.execute(text("SELECT kind FROM accounts WHERE customer_id IS NOT NULL")))
    assert kinds == ["demand", "savings"]
    r2 = imp(engine, tmp_path, "accounts", apath, amap)
    assert r2.rows_loaded == 0 and r2.hits["DUP_DB_ACCOUNT"] == 2
    assert count(engine, "SELECT count(*) FROM transfers") == 1
    assert count(engine, "SELECT sum(credits_posted - debits_posted) FROM accounts WHERE customer_id IS NOT NULL") \
        == 10025
    bank.assert_invariants()


def test_bad_input_writes_nothing(engine, tmp_path):
    path = tmp_path / "tx.csv"
    pl.DataFrame({"txn": ["t1"], "cust_no": ["C1"], "ts": ["2024-01-01 00:00:00"], "amount": ["1"],
                  "merchant": ["m"]}).write_csv(path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: transactions\nsource: x\nfields:\n  external_id: txn\n"
                   "  amount: {column: amount, unit: cents}\n", encoding="utf-8")
    with pytest.raises(MappingError, match="unit must be major or minor"):
        run_import(kind="transactions", path=path, mapping_path=bad, engine=engine, rejects_path=tmp_path / "r.csv")
    with pytest.raises(MappingError, match="no column"):
        imp(engine, tmp_path, "transactions", path, {**TX_MAP, "fields": {**TX_MAP["fields"], "amount": "AMT"}})
    with pytest.raises(ImportFileError, match="not found"):
        imp(engine, tmp_path, "transactions", tmp_path / "nope.csv", TX_MAP)
    for table in ("import_batches", "external_transactions", "customers"):
        assert count(engine, f"SELECT count(*) FROM {table}") == 0
    assert not (tmp_path / "r.csv").exists()


def test_gb18030_gzip_and_parquet_inputs(engine, tmp_path):
    text_ = "cust_no,name,id_no,mobile,email,sex,city\nG1,  王　芳 ,,13800000009,,女,北京\n"
    gz = tmp_path / "c.csv.gz"
    gz.write_bytes(gzip.compress(text_.encode("gb18030")))
    r = imp(engine, tmp_path, "customers", gz, CUSTOMERS_MAP)
    assert r.rows_loaded == 1 and r.hits["ENC_GB18030"] == 1
    with engine.connect() as c:
        assert c.execute(text("SELECT name, gender, city FROM customers")).one() == ("王芳", "F", "北京")
    pq = tmp_path / "tx.parquet"
    pl.DataFrame({"txn": ["p1"], "cust_no": ["G1"], "ts": ["2024-01-01 00:00:00"], "amount": ["12.30"],
                  "merchant": [None]}).write_parquet(pq)
    r = imp(engine, tmp_path, "transactions", pq, TX_MAP)
    assert r.rows_loaded == 1
    assert count(engine, "SELECT amount_minor FROM external_transactions") == 1230


def test_card_fraud_mapping_on_a_sample(engine, tmp_path):
    src = get_settings().datasets_dir / "card_fraud" / "transactions_2018-04-01_2018-08-31.csv.gz"
    if not src.is_file():
        pytest.skip(f"dataset missing: {src}")
    sample = tmp_path / "card_fraud_sample.csv"
    with gzip.open(src, "rt", encoding="utf-8") as f, sample.open("w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            if i > 3000:
                break
            out.write(line)
    mapping = Path(__file__).parents[3] / "src/smartbank/insight/mappings/card_fraud_transactions.yaml"
    res = run_import(kind="transactions", path=sample, mapping_path=mapping, engine=engine,
                     rejects_path=tmp_path / "r.csv", report_path=tmp_path / "r.html")
    check_totals(res)
    assert res.rows_read == 3000 and res.rows_loaded == 3000
    customers = count(engine, "SELECT count(DISTINCT customer_id) FROM external_transactions")
    assert customers == res.customers_created == count(engine, "SELECT count(*) FROM customers") > 1000
    with engine.connect() as c:
        first = c.execute(text("SELECT amount_minor, counterparty, is_fraud, channel FROM external_transactions"
                               " WHERE source='card_fraud' AND external_id='0'")).one()
    assert first == (5716, "T3156", False, "card")
    again = run_import(kind="transactions", path=sample, mapping_path=mapping, engine=engine,
                       rejects_path=tmp_path / "r2.csv", report_path=None, write_report=False)
    assert again.rows_merged == 3000 and count(engine, "SELECT count(*) FROM external_transactions") == 3000


def test_documents_are_checked_by_their_own_rule_and_a_carried_over_verification_says_so(engine, tmp_path):
    """An import opens customers as the bank does: each document type by its rule (a passport of letters only,
    a permit of the wrong shape, an individual with a business licence are rejected), and ``kyc_status:
    verified`` is recorded as the previous system's verification, never as a check made here."""
    df = pl.DataFrame({
        "cust_no": ["P1", "P2", "H1", "H2", "T1", "B1", "R1"],
        "name": ["Anna Smith", "Bad Passport", "陈大文", "坏通行证", "林志明", "错类型", "王芳"],
        "id_type": ["passport", "passport", "hk_macau_permit", "hk_macau_permit", "taiwan_permit",
                    "business_licence", "resident_id"],
        "id_no": ["e12345678", "ABCDEFGH", "H12345678", "X1234", "12345678", "91440300708461136T",
                  make_resident_id("110101", date(1985, 5, 6), 9)],
        "birth": ["1990-01-02", "1991-01-02", "1970-03-04", "1971-03-04", "1980-05-06", "1982-01-01", None]})
    path = tmp_path / "docs.csv"
    df.write_csv(path)
    mapping = {"kind": "customers", "source": "legacy", "options": {"kyc_status": "verified"}, "fields": {
        "external_id": "cust_no", "name": "name", "id_type": "id_type", "id_number": "id_no",
        "birth_date": "birth"}}
    res = imp(engine, tmp_path, "customers", path, mapping)
    check_totals(res)
    with engine.connect() as c:
        loaded = dict(c.execute(text("SELECT s.external_id, c.id_number FROM customers c JOIN customer_source_ids s"
                                     " ON s.customer_id = c.id")).tuples().all())
        methods = set(c.execute(text("SELECT kyc_status || ':' || coalesce(kyc_method, '-') || ':' ||"
                                     " CASE WHEN kyc_verified_at IS NULL THEN 'no' ELSE 'yes' END"
                                     " FROM customers")).scalars())
    assert set(loaded) == {"P1", "H1", "T1", "R1"}, loaded
    loaded = {k: security.decrypt_text(v, context="customers.id_number") for k, v in loaded.items()}
    assert loaded["P1"] == "E12345678"  # normalised as the bank writes it
    assert methods == {"verified:legacy_import:yes"}


def test_an_import_cannot_invent_a_verification_status(engine, tmp_path):
    path = tmp_path / "c.csv"
    pl.DataFrame({"cust_no": ["A"], "name": ["王芳"], "id_no": [make_resident_id("110101", date(1985, 5, 6), 1)]}) \
        .write_csv(path)
    with pytest.raises(MappingError, match="kyc_status"):
        imp(engine, tmp_path, "customers", path, {**CUSTOMERS_MAP, "options": {"kyc_status": "approved"}})
    assert count(engine, "SELECT count(*) FROM customers") == 0
