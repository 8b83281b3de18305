"""The demo catalogue and about three years of daily NAV history, deterministic.

Where the product invests in something the data set ``sp500_skfolio`` (``<datasets_dir>/sp500_skfolio``: daily
prices of 20 US large caps, the S&P 500 index and five factor ETFs, 1990/2014-2022) has a price for, its NAV
follows the REAL daily returns of the last ``n`` trading days of that data, laid onto our last ``n`` weekdays
and rescaled to start at 1.000000:

- ``index``: the S&P 500 index; ``stocks``: an equally weighted basket rebalanced daily (the mean of the
  stocks' daily returns); ``factor``: one factor ETF (momentum, quality, minimum volatility...);
- ``mix``: a daily rebalanced weighted mix of other paths (a balanced fund: equity + bond);
- ``process``: a low-volatility product (money market, bond, cash management, universal life): a geometric
  Brownian motion with the stated annual drift and volatility from ``numpy.random.default_rng`` seeded with
  the product code, so the same code always gets the same path;
- ``fixed``: fixed-rate products (time deposits, the annuity), :func:`products.fixed_nav`;
- ``money_market``: money-market products (``money_market``: the money-market fund and the cash-management
  product): the NAV stays 1.000000 and each weekday publishes its 万份收益 for the calendar days since the
  previous one and its 七日年化, from an annual yield that starts at ``yield`` and moves as
  :func:`products.next_yield` (the same path close of day continues).

Real-data paths are net of the product's management fee (``management_fee_bps / 252`` a day). Without the
data set every real-data path falls back to a ``process`` with the drift and volatility of its asset class.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from smartbank.config import get_settings
from smartbank.wealth import products, questionnaire
from smartbank.wealth.models import UNIT, ProductNav, WealthProduct
from smartbank.wealth.orders import today

__all__ = ["CATALOGUE", "money_market_path", "nav_path", "seed", "weekdays"]

_DEP = "智能银行 SmartBank"
_WM = "智银理财 SmartBank Wealth Management"
_FUND = "汇通基金 Huitong Fund Management"
_LIFE = "长桥人寿 Changqiao Life Insurance"


def _td(months: int, days: int, bps: int) -> dict[str, Any]:
    zh = {3: "3个月", 6: "6个月", 12: "1年", 24: "2年", 36: "3年"}[months]
    en = {3: "3-month", 6: "6-month", 12: "1-year", 24: "2-year", 36: "3-year"}[months]
    code = {3: "TD3M", 6: "TD6M", 12: "TD1Y", 24: "TD2Y", 36: "TD3Y"}[months]
    return {"code": code, "name_zh": f"整存整取定期存款（{zh}）", "name_en": f"{en} time deposit",
            "kind": "time_deposit",
            "risk_level": "R1", "asset_class": "cash", "min_amount_minor": 5_000, "step_minor": 1, "term_days": days,
            "rate_bps": bps, "settlement_days": 0, "issuer": _DEP,
            "description_zh": f"年利率 {bps / 100:.2f}%，到期自动连本带息转回原账户；受存款保险保障。",
            "description_en": f"{bps / 100:.2f}% a year; principal and interest return to your account at maturity."
                              " Covered by deposit insurance.",
            "tags": ["deposit", "guaranteed", "term"], "path": {"source": "fixed"}}


CATALOGUE: list[dict[str, Any]] = [
    _td(3, 91, 65), _td(6, 182, 85), _td(12, 365, 95), _td(24, 730, 105), _td(36, 1095, 125),
    # wealth-management products (理财产品)
    {"code": "WMP-CASH", "name_zh": "天天利现金管理", "name_en": "Daily cash management", "kind": "wmp",
     "risk_level": "R1",
     "asset_class": "cash", "min_amount_minor": 100, "step_minor": 1, "settlement_days": 0, "management_fee_bps": 20,
     "issuer": _WM, "tags": ["liquid", "cash", "daily"], "money_market": True,
     "description_zh": "现金管理类理财，投资于存款、同业存单等高流动性资产，随时申赎；净值保持 1.0000 元，"
                       "每日收益以份额形式计入，展示七日年化收益率与万份收益。",
     "description_en": "A cash-management product investing in deposits and certificates of deposit; buy and sell"
                       " any working day. Its NAV stays 1.0000; the daily income is added as units, shown as a"
                       " 7-day annualised yield and income per 10,000 units.",
     "path": {"source": "money_market", "yield": 0.019}},
    {"code": "WMP-FI", "name_zh": "稳健固收90天", "name_en": "Steady fixed income", "kind": "wmp", "risk_level": "R2",
     "asset_class": "bond", "min_amount_minor": 100_000, "step_minor": 100, "settlement_days": 1,
     "management_fee_bps": 30, "redemption_fee_bps": 0, "issuer": _WM, "tags": ["bond", "income"],
     "description_zh": "主要投资于国债、政策性金融债和高等级信用债。",
     "description_en": "Government, policy-bank and high-grade corporate bonds.",
     "path": {"source": "process", "mu": 0.029, "sigma": 0.009}},
    {"code": "WMP-PLUS", "name_zh": "固收+平衡", "name_en": "Fixed income plus", "kind": "wmp", "risk_level": "R3",
     "asset_class": "mixed", "min_amount_minor": 100_000, "step_minor": 100, "settlement_days": 1,
     "management_fee_bps": 50, "issuer": _WM, "tags": ["bond", "equity", "balanced"],
     "description_zh": "八成债券打底，两成权益增强收益。",
     "description_en": "80% bonds, 20% equities for extra return.",
     "path": {"source": "mix", "parts": [[0.8, {"source": "process", "mu": 0.03, "sigma": 0.015, "salt": "b"}],
                                         [0.2, {"source": "index"}]]}},
    {"code": "WMP-EQ", "name_zh": "权益精选", "name_en": "Equity select", "kind": "wmp", "risk_level": "R4",
     "asset_class": "equity", "min_amount_minor": 100_000, "step_minor": 100, "settlement_days": 2,
     "management_fee_bps": 100, "issuer": _WM, "tags": ["equity", "quality"],
     "description_zh": "精选优质龙头企业股票。", "description_en": "A selection of quality market leaders.",
     "path": {"source": "factor", "ticker": "QUAL"}},
    # funds (基金)
    {"code": "F-MMF", "name_zh": "汇通货币A", "name_en": "Huitong Money Market A", "kind": "fund", "risk_level": "R1",
     "asset_class": "cash", "min_amount_minor": 100, "step_minor": 1, "settlement_days": 1, "management_fee_bps": 25,
     "issuer": _FUND, "tags": ["money_market", "liquid"], "money_market": True,
     "description_zh": "货币市场基金，流动性好、波动极低；每份净值固定 1.0000 元，每日收益以份额形式结转，"
                       "展示七日年化收益率与万份收益。",
     "description_en": "A money-market fund: liquid, barely moves. Each unit stays at 1.0000; the daily income is"
                       " added as units, shown as a 7-day annualised yield and income per 10,000 units.",
     "path": {"source": "money_market", "yield": 0.017}},
    {"code": "F-BOND", "name_zh": "汇通纯债", "name_en": "Huitong Pure Bond", "kind": "fund", "risk_level": "R2",
     "asset_class": "bond", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 1,
     "subscription_fee_bps": 60, "redemption_fee_bps": 10, "management_fee_bps": 30, "issuer": _FUND,
     "tags": ["bond", "income"], "description_zh": "只投债券，不投股票。", "description_en": "Bonds only, no shares.",
     "path": {"source": "process", "mu": 0.032, "sigma": 0.018}},
    {"code": "F-BAL", "name_zh": "汇通平衡混合", "name_en": "Huitong Balanced", "kind": "fund", "risk_level": "R3",
     "asset_class": "mixed", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 1,
     "subscription_fee_bps": 120, "redemption_fee_bps": 50, "management_fee_bps": 120, "issuer": _FUND,
     "tags": ["balanced", "equity", "bond"], "description_zh": "股债各半，每日再平衡。",
     "description_en": "Half shares, half bonds, rebalanced daily.",
     "path": {"source": "mix", "parts": [[0.5, {"source": "index"}],
                                         [0.5, {"source": "process", "mu": 0.032, "sigma": 0.018, "salt": "b"}]]}},
    {"code": "F-LOWVOL", "name_zh": "汇通低波红利", "name_en": "Huitong Low Volatility", "kind": "fund",
     "risk_level": "R3", "asset_class": "equity", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 2,
     "subscription_fee_bps": 120, "redemption_fee_bps": 50, "management_fee_bps": 80, "issuer": _FUND,
     "tags": ["equity", "low_volatility", "qdii"], "description_zh": "美股最小波动策略（QDII）。",
     "description_en": "US minimum-volatility shares (QDII).", "path": {"source": "factor", "ticker": "USMV"}},
    {"code": "F-VALUE", "name_zh": "汇通价值精选", "name_en": "Huitong Value", "kind": "fund", "risk_level": "R4",
     "asset_class": "equity", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 2,
     "subscription_fee_bps": 150, "redemption_fee_bps": 50, "management_fee_bps": 150, "issuer": _FUND,
     "tags": ["equity", "value", "dividend", "qdii"], "description_zh": "金融、能源、消费等价值股组合（QDII）。",
     "description_en": "Value shares: banks, energy, consumer staples (QDII).",
     "path": {"source": "stocks", "tickers": ["JPM", "BAC", "CVX", "XOM", "KO", "PG", "JNJ", "WMT", "PEP", "HD"]}},
    {"code": "F-SP500", "name_zh": "汇通标普500指数(QDII)", "name_en": "Huitong S&P 500 Index (QDII)", "kind": "fund",
     "risk_level": "R4", "asset_class": "equity", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 2,
     "subscription_fee_bps": 120, "redemption_fee_bps": 50, "management_fee_bps": 60, "issuer": _FUND,
     "tags": ["equity", "index", "us", "qdii"], "description_zh": "跟踪标普500指数。",
     "description_en": "Tracks the S&P 500 index.", "path": {"source": "index"}},
    {"code": "F-MOM", "name_zh": "汇通动量优选", "name_en": "Huitong Momentum", "kind": "fund", "risk_level": "R4",
     "asset_class": "equity", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 2,
     "subscription_fee_bps": 150, "redemption_fee_bps": 50, "management_fee_bps": 100, "issuer": _FUND,
     "tags": ["equity", "momentum", "qdii"], "description_zh": "美股动量因子策略（QDII）。",
     "description_en": "US momentum shares (QDII).", "path": {"source": "factor", "ticker": "MTUM"}},
    {"code": "F-TECH", "name_zh": "汇通全球科技(QDII)", "name_en": "Huitong Global Tech (QDII)", "kind": "fund",
     "risk_level": "R5", "asset_class": "equity", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 2,
     "subscription_fee_bps": 150, "redemption_fee_bps": 50, "management_fee_bps": 150, "issuer": _FUND,
     "tags": ["equity", "technology", "sector", "qdii"], "description_zh": "集中投资全球科技龙头。",
     "description_en": "Concentrated in global technology leaders.",
     "path": {"source": "stocks", "tickers": ["AAPL", "MSFT", "AMD"]}},
    {"code": "F-HEALTH", "name_zh": "汇通医疗健康", "name_en": "Huitong Health Care", "kind": "fund",
     "risk_level": "R5", "asset_class": "equity", "min_amount_minor": 1_000, "step_minor": 1, "settlement_days": 2,
     "subscription_fee_bps": 150, "redemption_fee_bps": 50, "management_fee_bps": 150, "issuer": _FUND,
     "tags": ["equity", "healthcare", "sector", "qdii"], "description_zh": "医药与医疗服务行业主题。",
     "description_en": "Pharmaceuticals and health services.",
     "path": {"source": "stocks", "tickers": ["LLY", "UNH", "JNJ", "MRK", "PFE"]}},
    {"code": "F-ENERGY", "name_zh": "汇通能源资源", "name_en": "Huitong Energy & Resources", "kind": "fund",
     "risk_level": "R5", "asset_class": "alternative", "min_amount_minor": 1_000, "step_minor": 1,
     "settlement_days": 2, "subscription_fee_bps": 150, "redemption_fee_bps": 50, "management_fee_bps": 150,
     "issuer": _FUND, "tags": ["energy", "commodity", "sector", "qdii"], "description_zh": "石油天然气行业主题。",
     "description_en": "Oil and gas producers.", "path": {"source": "stocks", "tickers": ["CVX", "XOM", "RRC"]}},
    # insurance (保险)
    {"code": "INS-ANNUITY", "name_zh": "长桥稳盈年金", "name_en": "Changqiao Steady Annuity", "kind": "insurance",
     "risk_level": "R1", "asset_class": "bond", "min_amount_minor": 1_000_000, "step_minor": 100_000,
     "rate_bps": 250, "settlement_days": 1, "redemption_fee_bps": 300, "issuer": _LIFE,
     "tags": ["insurance", "annuity", "guaranteed", "retirement"],
     "description_zh": "保证年化 2.50% 复利增长；提前退保收取 3% 退保费用。",
     "description_en": "Guaranteed 2.50% a year, compounded; surrendering early costs 3%.",
     "path": {"source": "fixed"}},
    {"code": "INS-UL", "name_zh": "长桥万能账户", "name_en": "Changqiao Universal Life", "kind": "insurance",
     "risk_level": "R3", "asset_class": "bond", "min_amount_minor": 500_000, "step_minor": 10_000,
     "settlement_days": 1, "subscription_fee_bps": 300, "redemption_fee_bps": 200, "management_fee_bps": 50,
     "issuer": _LIFE, "tags": ["insurance", "universal", "income"],
     "description_zh": "万能型保险账户，结算利率随投资收益浮动；初始费用 3%。",
     "description_en": "A universal-life account crediting a rate that follows its investments; 3% initial charge.",
     "path": {"source": "process", "mu": 0.035, "sigma": 0.006}},
    {"code": "INS-ILP", "name_zh": "长桥投资连结", "name_en": "Changqiao Investment-linked", "kind": "insurance",
     "risk_level": "R4", "asset_class": "equity", "min_amount_minor": 500_000, "step_minor": 10_000,
     "settlement_days": 2, "subscription_fee_bps": 300, "redemption_fee_bps": 100, "management_fee_bps": 150,
     "issuer": _LIFE, "tags": ["insurance", "investment_linked", "equity"],
     "description_zh": "投资连结保险，账户价值随所投资产的市场表现波动。",
     "description_en": "Investment-linked insurance: the account value moves with the assets it invests in.",
     "path": {"source": "factor", "ticker": "SIZE"}},
]

_FALLBACK = {"cash": (0.018, 0.001), "bond": (0.03, 0.02), "mixed": (0.05, 0.10), "equity": (0.07, 0.20),
             "alternative": (0.06, 0.28)}


def weekdays(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def _read_prices(path: Path) -> dict[str, list[float]]:
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    return {name: [float(r[i]) if r[i] else float("nan") for r in body] for i, name in enumerate(head) if i > 0}


class _Data:
    def __init__(self, directory: Path | None):
        self.dir = directory
        self.cache: dict[str, dict[str, list[float]]] = {}

    def column(self, file: str, name: str) -> list[float] | None:
        if self.dir is None:
            return None
        if file not in self.cache:
            p = self.dir / file
            try:
                self.cache[file] = _read_prices(p) if p.exists() else {}
            except (OSError, ValueError, IndexError):
                self.cache[file] = {}
        return self.cache[file].get(name)


def _returns(prices: list[float] | None, n: int) -> np.ndarray | None:
    """The last ``n`` daily returns of a price column (None when it is missing or too short)."""
    if prices is None or len(prices) < n + 1:
        return None
    p = np.asarray(prices[-(n + 1):], dtype=float)
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        return None
    return np.asarray(p[1:] / p[:-1] - 1)


def _process(mu: float, sigma: float, n: int, seed_text: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    dt = 1 / 252
    return np.asarray(np.exp((mu - sigma ** 2 / 2) * dt + sigma * np.sqrt(dt) * rng.standard_normal(n)) - 1)


def _path_returns(spec: dict[str, Any], n: int, data: _Data, code: str, asset_class: str) -> tuple[np.ndarray, bool]:
    """Daily returns of a path spec and whether they came from real prices."""
    src = spec["source"]
    r: np.ndarray | None = None
    if src == "process":
        return _process(spec["mu"], spec["sigma"], n, f"{code}:{spec.get('salt', '')}"), False
    if src == "index":
        r = _returns(data.column("sp500_index.csv.gz", "SP500"), n)
    elif src == "factor":
        r = _returns(data.column("factors_dataset.csv.gz", spec["ticker"]), n)
    elif src == "stocks":
        parts = [_returns(data.column("sp500_dataset.csv.gz", t), n) for t in spec["tickers"]]
        if all(x is not None for x in parts):
            r = np.mean(np.vstack([x for x in parts if x is not None]), axis=0)
    elif src == "mix":
        total = np.zeros(n)
        real = False
        for w, part in spec["parts"]:
            pr, is_real = _path_returns(part, n, data, code, asset_class)
            total += w * pr
            real = real or is_real
        return total, real
    if r is None:  # no data set: the asset class's generic process
        mu, sigma = _FALLBACK.get(asset_class, (0.04, 0.1))
        return _process(mu, sigma, n, f"{code}:fallback"), False
    return r, True


def nav_path(item: dict[str, Any], days: list[date], data_dir: Path | None) -> list[int]:
    """NAV (micro) of a catalogue item on ``days`` (weekdays, oldest first), 1.000000 on the first."""
    if item["path"]["source"] == "fixed":
        return [products.fixed_nav(int(item["rate_bps"]), days[0], d) for d in days]
    if item["path"]["source"] == "money_market":
        return [products.STABLE_NAV for _ in days]
    n = len(days) - 1
    r, real = _path_returns(item["path"], n, _Data(data_dir), item["code"], item["asset_class"])
    if real:
        r = (1 + r) * (1 - item.get("management_fee_bps", 0) / 10_000 / 252) - 1
    values = np.concatenate([[1.0], np.cumprod(1 + r)])
    return [max(1, round(float(v) * UNIT)) for v in values]


def money_market_path(item: dict[str, Any], days: list[date]) -> list[dict[str, int | None]]:
    """The rows of a money-market product on ``days`` (weekdays, oldest first): NAV 1.000000, 万份收益 for the
    calendar days since the previous row (one day for the first) and 七日年化."""
    out: list[dict[str, int | None]] = []
    y: float | None = float(item["path"]["yield"])
    target = float(item["path"]["yield"])
    incomes: list[tuple[date, int]] = []
    for i, d in enumerate(days):
        y = products.next_yield(item["code"], y, target, d)
        income = products.income_for_days(y, (d - days[i - 1]).days if i else 1)
        incomes.append((d, income))
        week = [r for x, r in incomes if x > d - timedelta(days=7)]
        out.append({"nav_micro": products.STABLE_NAV, "income_per_10k_micro": income,
                    "yield_7d_ppm": products.seven_day_yield(week, min(7, (d - days[0]).days + 1))})
    return out


def _data_dir() -> Path | None:
    d = Path(get_settings().datasets_dir) / "sp500_skfolio"
    return d if d.is_dir() else None


def seed(session: Session, *, until: date | None = None, years: int = 3, data_dir: Path | None = None,
         codes: list[str] | None = None) -> dict[str, Any]:
    """The questionnaire (v1), the catalogue and its NAV history on the weekdays of the ``years`` years up to
    ``until`` (default: yesterday; close of day publishes today's). Products that exist are left alone, their
    history too; rerunning adds nothing."""
    last = until or today() - timedelta(days=1)
    first = date(last.year - years, last.month, min(last.day, 28))
    days = weekdays(first, last)
    ddir = data_dir if data_dir is not None else _data_dir()
    questionnaire.ensure_seeded(session)
    created, navs = [], 0
    for item in CATALOGUE:
        if codes is not None and item["code"] not in codes:
            continue
        if session.scalars(select(WealthProduct.id).where(WealthProduct.code == item["code"])).first() is not None:
            continue
        fields = {k: v for k, v in item.items() if k != "path"}
        fields["launched_on"] = days[0]
        p = products.add_product(session, fields)
        rows: list[dict[str, int | None]]
        if item["path"]["source"] == "money_market":
            rows = list(money_market_path(item, days))
        else:
            rows = [{"nav_micro": v, "income_per_10k_micro": None, "yield_7d_ppm": None}
                    for v in nav_path(item, days, ddir)]
        session.execute(insert(ProductNav), [{"product_id": p.id, "day": d, **r}
                                             for d, r in zip(days, rows, strict=True)])
        created.append(p.code)
        navs += len(rows)
    session.flush()
    return {"products": created, "navs": navs, "first_day": days[0], "last_day": last,
            "real_data": ddir is not None}
