"""Profile features: one row per customer, computed in Polars from the read model's frames.

:func:`compute` is a pure function of its inputs (activity, customers, holdings, service actions,
the day ``as_of``): the batch refresh, the incremental refresh (on the customers with new activity,
over their full history) and ``smartbank bench insight`` all call it, so the same customer always
gets the same features for the same day.

Conventions
* Time windows end at the end of ``as_of`` (UTC): ``30d`` is the 30 days up to and including it.
  Activity dated after that is ignored.
* Money features are integer minor units of the bank's base currency (CNY); rows in other
  currencies count in the counts and shares but not in the sums.
* Time of day and weekend are read in the bank's local time (Asia/Shanghai).
* "Active" rows are the ones a customer causes: interest and fees are not activity.
* Rows on a loan account are not activity: the same money shows on the deposit account it was paid to or
  from. Balances are deposits (current and savings accounts); a loan is reported as what is owed
  (``loan_outstanding_minor``), never as a balance or an overdraft.
* Spending (``spend_*``, ``monetary_365d``) is money leaving for someone else: moves between the customer's own
  accounts, wealth purchases and redemptions, loan disbursements and repayments (principal, interest and
  penalty), interest and fees are not spending (:data:`NON_SPENDING_KINDS`, :data:`NON_SPENDING`).

:data:`CATALOGUE` names every feature with its description (en/zh), type and audience; tag
expressions may use exactly these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl

LOCAL_TZ = "Asia/Shanghai"
BASE_CURRENCY = "CNY"
SYSTEM_KINDS = ("interest", "fee")
SALARY_CATEGORIES = ("salary", "pension")
DIGITAL_CHANNELS = ("app", "online", "mobile", "web")
# channels a customer chooses (payroll, interbank, system rows are not a customer's choice)
CHOSEN_CHANNELS = (*DIGITAL_CHANNELS, "card", "counter", "atm", "branch")
CHANNELS = ("app", "card", "counter", "atm", "online")
# spending categories with their own feature; bill types count as utilities; the rest is "other"
UTILITIES = ("electricity", "water", "gas", "mobile", "broadband", "utilities")
SPEND_CATEGORIES = ("groceries", "dining", "transport", "shopping", "travel", "entertainment", "health",
                    "education", "digital", "rent", "utilities", "cash", "other")
NON_SPENDING = ("savings", "investment", "closure", "opening")  # moving one's own money is not spending
# kinds that are never spending: buying or selling wealth products (money stays the customer's), a loan paid
# out or paid back (principal is the customer's debt, interest and penalty are the cost of credit, reported
# with the loan, not as consumption), and the bank's own interest and fees
NON_SPENDING_KINDS = ("wealth_purchase", "wealth_redemption", "wealth_fee", "loan_disbursement", "loan_repayment",
                      "loan_recovery", "loan_writeoff", "loan_provision", "reversal")
# accounts that hold the customer's money; a loan account holds what they owe
DEPOSIT_KINDS = ("demand", "savings")
ANALYTICS_COLUMNS = ("segment", "rfm", "lifecycle", "value_minor", "clv_minor", "churn_score",
                     "spend_next_month_minor", "balance_next_month_minor")
DAYPARTS = {"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # int | float | money | text
    en: str
    zh: str
    audience: str = "customer"  # customer: the customer may see it about themselves; staff: staff only
    group: str = "behaviour"


def _catalogue() -> tuple[Feature, ...]:
    f: list[Feature] = [
        Feature("customer_kind", "text", "Customer kind (individual or business)", "客户类型（个人/企业）",
                group="demographic"),
        Feature("age", "int", "Age in years on the profile day", "年龄（周岁）", group="demographic"),
        Feature("gender", "text", "Gender (M/F)", "性别", group="demographic"),
        Feature("city", "text", "City", "城市", group="demographic"),
        Feature("occupation", "text", "Occupation", "职业", group="demographic"),
        Feature("tenure_days", "int", "Days since becoming a customer", "成为客户的天数", group="demographic"),
        Feature("status", "text", "Customer status", "客户状态", "staff", "demographic"),
        Feature("total_balance_minor", "money", "Total balance of open current and savings accounts (CNY)",
                "活期和储蓄账户总余额（人民币）", group="financial"),
        Feature("balance_demand_minor", "money", "Balance of current accounts (CNY)", "活期账户余额",
                group="financial"),
        Feature("balance_savings_minor", "money", "Balance of savings accounts (CNY)", "储蓄账户余额",
                group="financial"),
        Feature("products_held", "int", "Open accounts held", "持有的账户数", group="financial"),
        Feature("product_kinds", "int", "Kinds of account held", "持有的账户种类数", group="financial"),
        Feature("overdraft_used_minor", "money", "Overdraft in use on current accounts (CNY)", "活期账户已用透支额度",
                group="financial"),
        Feature("loan_outstanding_minor", "money", "Loan principal still owed (CNY)", "贷款未还本金",
                group="financial"),
        Feature("declared_income_monthly_minor", "money", "Declared income per month (CNY)", "申报月收入",
                group="financial"),
        Feature("salary_monthly_minor", "money", "Average salary or pension credit per month with one, last 365 days",
                "近一年月均工资/养老金入账", group="financial"),
        Feature("salary_months_365d", "int", "Months with a salary or pension credit, last 365 days",
                "近一年有工资/养老金入账的月数", group="financial"),
        Feature("income_monthly_minor", "money", "Income estimate per month: salary credits, else declared income",
                "月收入估计：工资入账，否则申报收入", group="financial"),
    ]
    for d in (30, 90, 365):
        f += [
            Feature(f"txn_count_{d}d", "int", f"Transactions, last {d} days", f"近{d}天交易笔数"),
            Feature(f"in_minor_{d}d", "money", f"Money in, last {d} days (CNY)", f"近{d}天入账金额"),
            Feature(f"out_minor_{d}d", "money", f"Money out, last {d} days (CNY)", f"近{d}天出账金额"),
        ]
    f += [
        Feature("txn_count_prior_90d", "int", "Transactions in the 90 days before the last 90", "前一个90天的交易笔数"),
        Feature("activity_trend", "float", "Change of activity: last 90 days against the 90 before (-1 = stopped)",
                "活跃度变化：近90天对比前90天（-1 表示停止）"),
        Feature("recency_days", "int", "Days since the customer's last own activity", "距最近一次主动交易的天数"),
        Feature("frequency_365d", "int", "Active transactions, last 365 days (RFM frequency)", "近一年主动交易笔数"),
        Feature("monetary_365d", "money", "Spending, last 365 days (RFM monetary)", "近一年消费金额"),
        Feature("bill_payments_365d", "int", "Bill payments and top-ups, last 365 days", "近一年缴费笔数"),
        Feature("travel_txn_365d", "int", "Payments to travel merchants (airlines, rail, hotels, travel agencies), "
                "last 365 days", "近一年旅行类商户（航空、铁路、酒店、旅行社）交易笔数"),
        Feature("distinct_counterparties_365d", "int", "Distinct counterparties, last 365 days", "近一年交易对手数"),
    ]
    f += [Feature(f"spend_{c}_365d", "money", f"Spending on {c}, last 365 days (CNY)", f"近一年{_ZH_CAT[c]}消费")
          for c in SPEND_CATEGORIES]
    f += [Feature(f"channel_{c}_share", "float", f"Share of own transactions through {c}, last 365 days",
                  f"近一年{_ZH_CH[c]}渠道交易占比") for c in CHANNELS]
    f += [Feature("digital_share", "float", "Share of own transactions in the app or online, last 365 days",
                  "近一年线上（手机银行/网银）交易占比")]
    f += [Feature(f"{p}_share", "float", f"Share of own transactions in the {p} (local time), last 365 days",
                  f"近一年{_ZH_PART[p]}交易占比") for p in DAYPARTS]
    f += [
        Feature("weekend_share", "float", "Share of own transactions at weekends, last 365 days", "近一年周末交易占比"),
        Feature("risk_level", "text", "Risk level", "风险等级", "staff", "risk"),
        Feature("service_actions", "int", "Staff actions recorded about the customer or their accounts",
                "柜员/客服对该客户的操作次数", "staff", "service"),
        Feature("segment", "text", "Behavioural segment (analytics)", "行为分群", "staff", "analytics"),
        Feature("rfm", "text", "RFM score (analytics)", "RFM 评分（最近一次交易、交易频次、交易金额）", "staff",
                "analytics"),
        Feature("lifecycle", "text", "Lifecycle stage (analytics)", "生命周期阶段", "staff", "analytics"),
        Feature("value_minor", "money", "Estimated yearly contribution (analytics)", "年度价值估计", "staff",
                "analytics"),
        Feature("clv_minor", "money", "Customer lifetime value (analytics)", "客户终身价值", "staff", "analytics"),
        Feature("churn_score", "float", "Churn score 0-1 (analytics)", "流失风险评分", "staff", "analytics"),
        Feature("spend_next_month_minor", "money", "Forecast spending this calendar month (analytics)",
                "本月消费预测", "staff", "analytics"),
        Feature("balance_next_month_minor", "money", "Forecast total balance at the end of this calendar month "
                "(analytics)", "本月末总余额预测", "staff", "analytics"),
    ]
    return tuple(f)


# display names of category and channel codes (features, segment descriptions, pages): the one copy
CATEGORY_NAMES: dict[str, dict[str, str]] = {
    "zh": {"groceries": "超市生鲜", "dining": "餐饮", "transport": "交通出行", "shopping": "购物", "travel": "旅行",
           "entertainment": "休闲娱乐", "health": "医疗健康", "education": "教育培训", "digital": "数字订阅",
           "rent": "房租", "utilities": "生活缴费", "cash": "取现", "other": "其他"},
    "en": {"groceries": "Groceries", "dining": "Dining", "transport": "Transport", "shopping": "Shopping",
           "travel": "Travel", "entertainment": "Entertainment", "health": "Health", "education": "Education",
           "digital": "Digital subscriptions", "rent": "Rent", "utilities": "Bills and top-ups", "cash": "Cash",
           "other": "Other"},
}
CHANNEL_NAMES_ZH = {"app": "手机银行", "card": "刷卡", "counter": "柜台", "atm": "ATM", "online": "网银"}
_ZH_CAT = CATEGORY_NAMES["zh"]
_ZH_CH = CHANNEL_NAMES_ZH
_ZH_PART = {"night": "夜间(0-6点)", "morning": "上午(6-12点)", "afternoon": "下午(12-18点)", "evening": "晚间(18-24点)"}

CATALOGUE: tuple[Feature, ...] = _catalogue()
BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOGUE}
NAMES: tuple[str, ...] = tuple(f.name for f in CATALOGUE)
CUSTOMER_FEATURES: frozenset[str] = frozenset(f.name for f in CATALOGUE if f.audience == "customer")
TEXT_FEATURES = frozenset(f.name for f in CATALOGUE if f.type == "text")
FLOAT_FEATURES = frozenset(f.name for f in CATALOGUE if f.type == "float")
INT_FEATURES = frozenset(f.name for f in CATALOGUE if f.type in ("int", "money"))


def reference_time(as_of: date) -> datetime:
    """The end of ``as_of`` (UTC): windows count back from here."""
    return datetime.combine(as_of + timedelta(days=1), time(), UTC)


def _share(cond: pl.Expr, denom: pl.Expr) -> pl.Expr:
    return pl.when(denom > 0).then((cond.sum() / denom).round(4)).otherwise(None)


def activity_features(activity: pl.DataFrame | pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Behavioural aggregates per customer that has activity up to ``as_of``."""
    ref = reference_time(as_of)
    lf = activity.lazy()
    names = lf.collect_schema().names()
    if "account_kind" in names:
        lf = lf.filter(pl.col("account_kind").fill_null("") != "loan")
    own_account = pl.col("own_account").fill_null(False) if "own_account" in names else pl.lit(False)
    lf = lf.filter(pl.col("ts") < ref)
    amt, ts = pl.col("amount_minor"), pl.col("ts")
    base = pl.col("currency") == BASE_CURRENCY
    cat = pl.col("category").fill_null("")
    kind = pl.col("kind")
    local = ts.dt.convert_time_zone(LOCAL_TZ)
    lf = lf.with_columns(
        w30=ts >= ref - timedelta(days=30), w90=ts >= ref - timedelta(days=90),
        w365=ts >= ref - timedelta(days=365),
        prior90=(ts >= ref - timedelta(days=180)) & (ts < ref - timedelta(days=90)),
        active=~kind.is_in(SYSTEM_KINDS),
        spend=(amt < 0) & base & ~cat.is_in(NON_SPENDING) & ~kind.is_in(SYSTEM_KINDS)
        & ~kind.is_in(NON_SPENDING_KINDS) & ~own_account,
        salary=(amt > 0) & base & (cat.is_in(SALARY_CATEGORIES) | ((kind == "salary") & (cat != "bonus"))),
        hour=local.dt.hour(), weekend=local.dt.weekday() >= 6, month=local.dt.strftime("%Y-%m"),
        chosen=pl.col("channel").is_in(CHOSEN_CHANNELS).fill_null(False),
        spend_cat=pl.when(cat.is_in(UTILITIES) | (kind == "bill_payment")).then(pl.lit("utilities"))
        .when(cat.is_in(SPEND_CATEGORIES)).then(cat)
        .when((kind == "withdrawal") | (pl.col("channel") == "atm")).then(pl.lit("cash"))
        .otherwise(pl.lit("other")),
    )
    w365, active, spend = pl.col("w365"), pl.col("active"), pl.col("spend")
    own = w365 & active
    chosen = own & pl.col("chosen")
    n_own = own.sum()
    n_chosen = chosen.sum()
    aggs: list[pl.Expr] = []
    for d in (30, 90, 365):
        w = pl.col(f"w{d}")
        aggs += [
            w.sum().cast(pl.Int64).alias(f"txn_count_{d}d"),
            amt.filter(w & (amt > 0) & base).sum().cast(pl.Int64).alias(f"in_minor_{d}d"),
            (-amt).filter(w & (amt < 0) & base).sum().cast(pl.Int64).alias(f"out_minor_{d}d"),
        ]
    aggs += [
        pl.col("prior90").sum().cast(pl.Int64).alias("txn_count_prior_90d"),
        ts.filter(active).max().alias("_last_active"),
        own.sum().cast(pl.Int64).alias("frequency_365d"),
        (-amt).filter(w365 & spend).sum().cast(pl.Int64).alias("monetary_365d"),
        (w365 & ((kind == "bill_payment") | cat.is_in(UTILITIES)) & (amt < 0)).sum().cast(pl.Int64)
        .alias("bill_payments_365d"),
        (w365 & spend & (cat == "travel")).sum().cast(pl.Int64).alias("travel_txn_365d"),
        pl.col("counterparty").filter(own).drop_nulls().n_unique().cast(pl.Int64)
        .alias("distinct_counterparties_365d"),
        amt.filter(w365 & pl.col("salary")).sum().cast(pl.Int64).alias("_salary_365d"),
        pl.col("month").filter(w365 & pl.col("salary")).n_unique().cast(pl.Int64).alias("salary_months_365d"),
    ]
    aggs += [(-amt).filter(w365 & spend & (pl.col("spend_cat") == c)).sum().cast(pl.Int64).alias(f"spend_{c}_365d")
             for c in SPEND_CATEGORIES]
    aggs += [_share(chosen & (pl.col("channel") == c), n_chosen).alias(f"channel_{c}_share") for c in CHANNELS]
    aggs += [_share(chosen & pl.col("channel").is_in(DIGITAL_CHANNELS), n_chosen).alias("digital_share")]
    aggs += [_share(own & (pl.col("hour") >= lo) & (pl.col("hour") < hi), n_own).alias(f"{p}_share")
             for p, (lo, hi) in DAYPARTS.items()]
    aggs += [_share(own & pl.col("weekend"), n_own).alias("weekend_share")]
    out = lf.group_by("customer_id").agg(aggs)
    return out.with_columns(
        ((pl.col("txn_count_90d") - pl.col("txn_count_prior_90d"))
         / pl.max_horizontal(pl.col("txn_count_prior_90d"), pl.lit(1))).round(4).alias("activity_trend"),
        (pl.lit(as_of) - pl.col("_last_active").dt.date()).dt.total_days().cast(pl.Int64).alias("recency_days"),
        pl.when(pl.col("salary_months_365d") > 0)
        .then(pl.col("_salary_365d") // pl.col("salary_months_365d")).otherwise(None).cast(pl.Int64)
        .alias("salary_monthly_minor"),
    ).drop("_last_active", "_salary_365d")


def holding_features(holdings: pl.DataFrame) -> pl.LazyFrame:
    h = holdings.lazy()
    base = pl.col("currency") == BASE_CURRENCY
    bal = pl.col("balance_minor")
    deposit = pl.col("account_kind").is_in(DEPOSIT_KINDS)
    return h.group_by("customer_id").agg(
        bal.filter(base & deposit).sum().cast(pl.Int64).alias("total_balance_minor"),
        bal.filter(base & (pl.col("account_kind") == "demand")).sum().cast(pl.Int64).alias("balance_demand_minor"),
        bal.filter(base & (pl.col("account_kind") == "savings")).sum().cast(pl.Int64).alias("balance_savings_minor"),
        pl.col("accounts").sum().cast(pl.Int64).alias("products_held"),
        pl.col("account_kind").n_unique().cast(pl.Int64).alias("product_kinds"),
        pl.col("overdraft_used_minor").filter(base & deposit).sum().cast(pl.Int64).alias("overdraft_used_minor"),
        (-bal).filter(base & (pl.col("account_kind") == "loan")).sum().clip(lower_bound=0).cast(pl.Int64)
        .alias("loan_outstanding_minor"),
    )


_ZERO_FILLED = (
    [f"txn_count_{d}d" for d in (30, 90, 365)] + [f"in_minor_{d}d" for d in (30, 90, 365)]
    + [f"out_minor_{d}d" for d in (30, 90, 365)]
    + ["txn_count_prior_90d", "frequency_365d", "monetary_365d", "bill_payments_365d", "travel_txn_365d",
       "distinct_counterparties_365d", "salary_months_365d", "total_balance_minor", "balance_demand_minor",
       "balance_savings_minor", "products_held", "product_kinds", "overdraft_used_minor", "loan_outstanding_minor",
       "service_actions"]
    + [f"spend_{c}_365d" for c in SPEND_CATEGORIES]
)


def compute(activity: pl.DataFrame, customers: pl.DataFrame, as_of: date, *,
            holdings: pl.DataFrame | None = None, service: pl.DataFrame | None = None,
            analytics: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every catalogue feature for every customer in ``customers``, one row each (``customer_id``
    first, then :data:`NAMES` in catalogue order), sorted by customer id. ``analytics`` (the output
    of ``insight.analytics.enrich``) fills the analytics columns; without it they are null."""
    c = customers.lazy()
    born = pl.col("birth_date")
    years = pl.lit(as_of.year) - born.dt.year()
    before_birthday = (pl.lit(as_of.month) < born.dt.month()) | (
        (pl.lit(as_of.month) == born.dt.month()) & (pl.lit(as_of.day) < born.dt.day()))
    demo = c.select(
        "customer_id",
        pl.col("kind").alias("customer_kind"),
        (years - before_birthday.cast(pl.Int32)).cast(pl.Int64).alias("age"),
        "gender", "city", "occupation",
        pl.max_horizontal((pl.lit(as_of) - pl.col("created_at").dt.date()).dt.total_days(), pl.lit(0))
        .cast(pl.Int64).alias("tenure_days"),
        "status",
        (pl.col("annual_income_minor") // 12).cast(pl.Int64).alias("declared_income_monthly_minor"),
        "risk_level",
    )
    lf = demo.join(activity_features(activity, as_of), on="customer_id", how="left")
    if holdings is not None:
        lf = lf.join(holding_features(holdings), on="customer_id", how="left")
    if service is not None:
        lf = lf.join(service.lazy(), on="customer_id", how="left")
    if analytics is not None:
        keep = [col for col in ANALYTICS_COLUMNS if col in analytics.columns]
        lf = lf.join(analytics.lazy().select("customer_id", *keep), on="customer_id", how="left")
    df = lf.collect()
    missing = [pl.lit(None, dtype=_dtype(n)).alias(n) for n in NAMES if n not in df.columns]
    df = df.with_columns(missing)
    df = df.with_columns(
        [pl.col(n).fill_null(0) for n in _ZERO_FILLED],
    ).with_columns(
        pl.coalesce(pl.col("salary_monthly_minor"), pl.col("declared_income_monthly_minor"))
        .alias("income_monthly_minor"),
    )
    return df.select("customer_id", *[pl.col(n).cast(_dtype(n)) for n in NAMES]).sort("customer_id")


def _dtype(name: str) -> Any:
    if name in TEXT_FEATURES:
        return pl.Utf8
    if name in FLOAT_FEATURES:
        return pl.Float64
    return pl.Int64


def empty_analytics(customer_ids: list[int] | pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": pl.Series(customer_ids, dtype=pl.Int64)})


def spending_by_category(features: dict[str, Any]) -> dict[str, int]:
    """The profile's spending per category (CNY minor units), largest first, zeros left out."""
    pairs = [(c, int(features.get(f"spend_{c}_365d") or 0)) for c in SPEND_CATEGORIES]
    return dict(sorted(((c, v) for c, v in pairs if v > 0), key=lambda p: -p[1]))
