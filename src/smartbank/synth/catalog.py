"""Reference data for the synthetic bank, and :func:`seed_catalog`, which creates the bank-side
accounts and billers idempotently (the demo command calls it too).

Everything here is plain data: cities with real administrative-division codes, their utility
providers, the mobile carriers with their number prefixes, merchant categories with their MCC codes
and well-known merchants, occupations with log-normal income parameters, and the Spring Festival
calendar used for seasonality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account
from smartbank.payments import service as payments
from smartbank.payments.service import Biller

# ----------------------------------------------------------------------------------------------
# cities: (key, name_zh, name_en, population weight, rent median yuan/month, northern (heating),
#          districts [(region code, name)], electricity / water / gas providers [(zh, en)])


@dataclass(frozen=True)
class City:
    key: str
    zh: str
    en: str
    weight: float
    rent: int
    north: bool
    income_factor: float
    districts: tuple[tuple[str, str], ...]
    electricity: tuple[str, str]
    water: tuple[str, str]
    gas: tuple[str, str]
    metro: str


CITIES: tuple[City, ...] = (
    City("BJ", "北京", "Beijing", 0.16, 5500, True, 1.25,
         (("110105", "朝阳区"), ("110108", "海淀区"), ("110101", "东城区"), ("110102", "西城区"), ("110106", "丰台区")),
         ("国网北京市电力公司", "State Grid Beijing Electric Power"), ("北京市自来水集团", "Beijing Waterworks Group"),
         ("北京燃气集团", "Beijing Gas Group"), "北京地铁"),
    City("SH", "上海", "Shanghai", 0.15, 5800, False, 1.25,
         (("310115", "浦东新区"), ("310101", "黄浦区"), ("310104", "徐汇区"),
          ("310106", "静安区"), ("310112", "闵行区")),
         ("国网上海市电力公司", "State Grid Shanghai Electric Power"), ("上海城投水务集团", "Shanghai Chengtou Water"),
         ("上海燃气", "Shanghai Gas"), "上海地铁"),
    City("GZ", "广州", "Guangzhou", 0.12, 3500, False, 1.1,
         (("440106", "天河区"), ("440104", "越秀区"), ("440105", "海珠区"), ("440113", "番禺区"), ("440111", "白云区")),
         ("南方电网广州供电局", "CSG Guangzhou Power Supply Bureau"), ("广州市自来水有限公司",
          "Guangzhou Water Supply"),
         ("广州燃气集团", "Guangzhou Gas Group"), "广州地铁"),
    City("SZ", "深圳", "Shenzhen", 0.11, 4800, False, 1.25,
         (("440305", "南山区"), ("440304", "福田区"), ("440303", "罗湖区"), ("440306", "宝安区"), ("440307", "龙岗区")),
         ("南方电网深圳供电局", "CSG Shenzhen Power Supply Bureau"), ("深圳市水务集团", "Shenzhen Water Group"),
         ("深圳燃气", "Shenzhen Gas"), "深圳地铁"),
    City("HZ", "杭州", "Hangzhou", 0.09, 3600, False, 1.1,
         (("330106", "西湖区"), ("330102", "上城区"), ("330105", "拱墅区"), ("330108", "滨江区"), ("330110", "余杭区")),
         ("国网杭州供电公司", "State Grid Hangzhou Power Supply"), ("杭州水务集团", "Hangzhou Water Group"),
         ("杭州市燃气集团", "Hangzhou Gas Group"), "杭州地铁"),
    City("CD", "成都", "Chengdu", 0.10, 2300, False, 0.9,
         (("510107", "武侯区"), ("510104", "锦江区"), ("510105", "青羊区"), ("510106", "金牛区"), ("510108", "成华区")),
         ("国网成都供电公司", "State Grid Chengdu Power Supply"), ("成都市自来水有限责任公司", "Chengdu Water Supply"),
         ("成都燃气", "Chengdu Gas"), "成都地铁"),
    City("WH", "武汉", "Wuhan", 0.08, 2200, False, 0.9,
         (("420106", "武昌区"), ("420103", "江汉区"), ("420102", "江岸区"), ("420111", "洪山区"), ("420105", "汉阳区")),
         ("国网武汉供电公司", "State Grid Wuhan Power Supply"), ("武汉市水务集团", "Wuhan Water Group"),
         ("武汉市燃气集团", "Wuhan Gas Group"), "武汉地铁"),
    City("NJ", "南京", "Nanjing", 0.07, 3000, False, 1.0,
         (("320102", "玄武区"), ("320104", "秦淮区"), ("320105", "建邺区"), ("320106", "鼓楼区"), ("320115", "江宁区")),
         ("国网南京供电公司", "State Grid Nanjing Power Supply"), ("南京水务集团", "Nanjing Water Group"),
         ("南京港华燃气", "Nanjing Towngas"), "南京地铁"),
    City("XA", "西安", "Xi'an", 0.06, 2000, True, 0.85,
         (("610113", "雁塔区"), ("610103", "碑林区"), ("610102", "新城区"), ("610104", "莲湖区"), ("610112", "未央区")),
         ("国网西安供电公司", "State Grid Xi'an Power Supply"), ("西安水务集团", "Xi'an Water Group"),
         ("西安秦华燃气", "Xi'an Qinhua Gas"), "西安地铁"),
    City("CQ", "重庆", "Chongqing", 0.06, 1900, False, 0.85,
         (("500103", "渝中区"), ("500105", "江北区"), ("500112", "渝北区"),
          ("500108", "南岸区"), ("500106", "沙坪坝区")),
         ("国网重庆市电力公司", "State Grid Chongqing Electric Power"), ("重庆水务集团", "Chongqing Water Group"),
         ("重庆燃气集团", "Chongqing Gas Group"), "重庆轨道交通"),
)

# Places of household registration for people who moved to the cities above (real county-level codes).
ORIGIN_REGIONS: tuple[str, ...] = (
    "410102", "410302", "411302", "340102", "341202", "430102", "431102", "370102", "130102", "360102",
    "450102", "520102", "532301", "140105", "210102", "220102", "230102", "350102", "620102", "150102",
    "320311", "511302", "421002",
)

# ----------------------------------------------------------------------------------------------
# mobile carriers: number prefixes (three digits) and their billers


@dataclass(frozen=True)
class Carrier:
    key: str
    zh: str
    en: str
    prefixes: tuple[str, ...]
    weight: float


CARRIERS: tuple[Carrier, ...] = (
    Carrier("CM", "中国移动", "China Mobile",
            ("134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159", "172",
             "178", "182", "183", "184", "187", "188", "195", "197", "198"), 0.58),
    Carrier("CU", "中国联通", "China Unicom",
            ("130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186", "196"), 0.22),
    Carrier("CT", "中国电信", "China Telecom",
            ("133", "149", "153", "173", "177", "180", "181", "189", "190", "191", "193", "199"), 0.20),
)
TOPUP_AMOUNTS_YUAN = (30, 50, 100, 200, 300, 500)
TOPUP_WEIGHTS = (0.14, 0.34, 0.36, 0.11, 0.03, 0.02)
BROADBAND_FEES_YUAN = (79, 99, 129, 169, 199)

# ----------------------------------------------------------------------------------------------
# billers: code -> (name_zh, name_en, category, city key or None, requires_bill)


def biller_specs() -> list[tuple[str, str, str, str, str | None, bool]]:
    out: list[tuple[str, str, str, str, str | None, bool]] = []
    for c in CITIES:
        out.append((f"ELEC-{c.key}", c.electricity[0], c.electricity[1], "electricity", c.zh, True))
        out.append((f"WATER-{c.key}", c.water[0], c.water[1], "water", c.zh, True))
        out.append((f"GAS-{c.key}", c.gas[0], c.gas[1], "gas", c.zh, True))
    for car in CARRIERS:
        out.append((f"BB-{car.key}", f"{car.zh}宽带", f"{car.en} Broadband", "broadband", None, True))
    for car in CARRIERS:
        out.append((f"MOB-{car.key}", f"{car.zh}话费充值", f"{car.en} top-up", "mobile", None, False))
    return out


# ----------------------------------------------------------------------------------------------
# merchant categories: key, zh, MCC, in-person share, median amount (yuan), sigma, monthly count


@dataclass(frozen=True)
class Category:
    key: str
    zh: str
    mcc: str
    in_person: float  # share of spending at a physical till (the rest is online, channel "app")
    median_yuan: float
    sigma: float
    per_month: float
    hours: str  # a key of HOUR_PROFILES
    national: tuple[str, ...]
    local_suffixes: tuple[str, ...] = ()


CATEGORIES: tuple[Category, ...] = (
    Category("groceries", "超市生鲜", "5411", 0.75, 58, 0.8, 7.0, "shop",
             ("盒马鲜生", "永辉超市", "沃尔玛", "家乐福", "华润万家", "物美超市", "叮咚买菜", "美团优选", "7-Eleven",
              "全家便利店", "罗森", "钱大妈"), ("生鲜超市", "便利店", "菜市场", "水果店")),
    Category("dining", "餐饮", "5812", 0.6, 42, 0.75, 9.0, "meal",
             ("美团外卖", "饿了么", "海底捞", "星巴克", "瑞幸咖啡", "肯德基", "麦当劳", "喜茶", "蜜雪冰城",
              "西贝莜面村",
              "太二酸菜鱼", "老乡鸡"), ("面馆", "小吃店", "火锅店", "烧烤", "茶餐厅", "饺子馆")),
    Category("transport", "交通出行", "4111", 0.5, 16, 0.9, 5.0, "commute",
             ("滴滴出行", "高德打车", "哈啰出行", "中国石化", "中国石油", "曹操出行"), ()),
    Category("shopping", "购物", "5311", 0.25, 150, 1.0, 3.5, "evening",
             ("淘宝", "天猫", "京东", "拼多多", "唯品会", "抖音商城", "优衣库", "名创优品", "苏宁易购", "小米之家",
              "Apple Store", "宜家家居"), ("百货商场", "服装店")),
    Category("travel", "旅行", "4722", 0.1, 900, 0.9, 0.4, "day",
             ("携程旅行", "去哪儿旅行", "飞猪", "中国国际航空", "中国东方航空", "中国南方航空", "铁路12306",
              "华住酒店", "锦江酒店", "如家酒店"), ()),
    Category("entertainment", "休闲娱乐", "7832", 0.45, 80, 0.8, 1.2, "leisure",
             ("猫眼电影", "万达影城", "大麦网", "腾讯游戏", "网易游戏", "好乐迪KTV", "美团休闲"), ("剧本杀", "健身房")),
    Category("health", "医疗健康", "5912", 0.8, 110, 1.0, 0.6, "office",
             ("大参林药房", "老百姓大药房", "益丰大药房", "美年大健康", "京东健康", "阿里健康"), ("社区医院",
              "口腔诊所")),
    Category("education", "教育培训", "8299", 0.35, 1200, 0.9, 0.25, "day",
             ("新东方", "好未来", "网易有道", "中公教育", "得到", "作业帮"), ("驾校", "培训中心")),
    Category("digital", "数字订阅", "5815", 0.0, 25, 0.4, 0.8, "flat",
             ("爱奇艺会员", "腾讯视频VIP", "优酷会员", "网易云音乐", "QQ音乐", "App Store", "百度网盘"), ()),
)
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)

# Hour-of-day profiles (local time, 24 relative weights).
HOUR_PROFILES: dict[str, tuple[float, ...]] = {
    "shop":    (0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1.0, 1.5, 2.0, 2.8, 3.0, 2.5, 2.0, 1.8, 2.0, 2.5, 3.4, 3.8, 3.5,
                2.8, 2.0, 1.2, 0.5),
    "meal":    (0.5, 0.3, 0.1, 0.05, 0.05, 0.1, 0.5, 1.6, 1.8, 1.0, 1.0, 3.5, 5.0, 3.0, 1.2, 1.0, 1.2, 2.5, 4.6, 4.2,
                2.4, 1.6, 1.2, 0.8),
    "commute": (0.2, 0.1, 0.05, 0.05, 0.1, 0.3, 1.2, 3.5, 4.5, 2.5, 1.2, 1.0, 1.0, 1.0, 1.0, 1.2, 1.6, 3.0, 4.0, 2.6,
                1.5, 1.2, 0.9, 0.5),
    "evening": (1.0, 0.6, 0.3, 0.1, 0.1, 0.1, 0.2, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 1.8, 1.5, 1.5, 1.6, 1.8, 2.0, 2.4,
                3.0, 3.4, 3.0, 2.0),
    "day":     (0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.5, 2.2, 2.5, 2.3, 2.0, 2.0, 2.2, 2.3, 2.2, 2.0, 1.8, 2.0,
                2.2, 1.8, 1.0, 0.5),
    "leisure": (0.8, 0.5, 0.2, 0.1, 0.05, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.2, 1.5, 1.8, 2.0, 2.0, 2.0, 2.4, 3.0,
                3.4, 3.2, 2.4, 1.5),
    "office":  (0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 1.0, 2.5, 3.2, 3.2, 2.6, 1.5, 1.8, 2.6, 2.8, 2.5, 2.0, 1.6, 1.3,
                1.0, 0.7, 0.4, 0.2),
    "flat":    (1.4, 1.2, 1.0, 0.9, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1,
                1.2, 1.3, 1.4, 1.4),
    "awake":   (0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1.2, 1.8, 2.0, 2.0, 2.0, 2.2, 1.8, 1.8, 1.8, 1.8, 1.8, 2.0, 2.4,
                2.6, 2.4, 1.6, 0.8),
}

# ----------------------------------------------------------------------------------------------
# occupations: key, zh, median annual gross income (yuan), log-normal sigma, salaried, weight


@dataclass(frozen=True)
class Occupation:
    key: str
    zh: str
    median_yuan: int
    sigma: float
    pay: str  # salary | self | freelance | pension | allowance
    weight: float
    bonus_months: float = 1.0  # typical year-end bonus, in months of pay


OCCUPATIONS: tuple[Occupation, ...] = (
    Occupation("software_engineer", "软件工程师", 260_000, 0.45, "salary", 0.08, 2.0),
    Occupation("teacher", "教师", 130_000, 0.30, "salary", 0.07, 1.0),
    Occupation("doctor", "医生", 210_000, 0.40, "salary", 0.04, 1.5),
    Occupation("nurse", "护士", 105_000, 0.30, "salary", 0.05, 1.0),
    Occupation("civil_servant", "公务员", 140_000, 0.25, "salary", 0.06, 1.0),
    Occupation("sales", "销售", 115_000, 0.60, "salary", 0.09, 1.5),
    Occupation("factory_worker", "工人", 72_000, 0.30, "salary", 0.10, 0.5),
    Occupation("delivery_rider", "外卖骑手", 78_000, 0.30, "freelance", 0.05, 0.0),
    Occupation("accountant", "会计", 120_000, 0.35, "salary", 0.06, 1.0),
    Occupation("designer", "设计师", 150_000, 0.45, "salary", 0.04, 1.0),
    Occupation("finance", "金融从业者", 320_000, 0.60, "salary", 0.03, 3.0),
    Occupation("lawyer", "律师", 280_000, 0.60, "salary", 0.02, 2.0),
    Occupation("chef", "厨师", 85_000, 0.30, "salary", 0.04, 0.5),
    Occupation("driver", "司机", 88_000, 0.30, "salary", 0.04, 0.5),
    Occupation("admin_staff", "行政文员", 80_000, 0.30, "salary", 0.07, 0.5),
    Occupation("self_employed", "个体工商户", 160_000, 0.80, "self", 0.07, 0.0),
    Occupation("freelancer", "自由职业者", 130_000, 0.70, "freelance", 0.03, 0.0),
    Occupation("student", "学生", 24_000, 0.25, "allowance", 0.0, 0.0),
    Occupation("retired", "退休人员", 55_000, 0.35, "pension", 0.0, 0.0),
)
OCC_INDEX = {o.key: i for i, o in enumerate(OCCUPATIONS)}

# Spring Festival (Chinese New Year's day) for the seasonality calendar.
SPRING_FESTIVAL: dict[int, date] = {
    2015: date(2015, 2, 19), 2016: date(2016, 2, 8), 2017: date(2017, 1, 28), 2018: date(2018, 2, 16),
    2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1),
    2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17),
    2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3),
    2031: date(2031, 1, 23), 2032: date(2032, 2, 11), 2033: date(2033, 1, 31), 2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}

SAVINGS_RATES = ("0.003500", "0.010000", "0.013500", "0.015500", "0.017500")
SAVINGS_RATE_WEIGHTS = (0.25, 0.25, 0.25, 0.15, 0.10)

BUSINESS_SECTORS = ("餐饮", "零售", "科技", "物流", "贸易", "建筑", "咨询", "教育")

# ----------------------------------------------------------------------------------------------
# the bank-side accounts and billers

MAIN_SETTLEMENT = "settlement"
INTEREST_EXPENSE = "interest_expense"
FEES = "fees"


def merchant_account_name(category: str) -> str:
    zh = next(c.zh for c in CATEGORIES if c.key == category)
    return f"merchant settlement: {category} ({zh})"


@dataclass
class BillerRef:
    id: int
    code: str
    name_zh: str
    name_en: str
    category: str
    city: str | None
    settlement_account_id: int
    requires_bill: bool


@dataclass
class Catalog:
    """Ids of the bank-side accounts and billers the generator posts against."""

    settlement_id: int
    interest_expense_id: int
    fees_id: int
    merchant_account_ids: dict[str, int] = field(default_factory=dict)
    billers: dict[str, BillerRef] = field(default_factory=dict)

    def internal_account_ids(self) -> list[int]:
        ids = [self.settlement_id, self.interest_expense_id, self.fees_id]
        ids += [self.merchant_account_ids[k] for k in CATEGORY_KEYS]
        ids += [b.settlement_account_id for b in self.billers.values()]
        return ids


def seed_catalog(session: Session) -> Catalog:
    """Create (once) the settlement, interest-expense and fee accounts, one merchant settlement
    account per spending category and the biller catalogue. Safe to call any number of times;
    flushes, the caller commits."""
    # the bank's main settlement account first, so it stays the one ledger.internal_account finds
    settlement = ledger.internal_account(session, MAIN_SETTLEMENT, "CNY")
    interest = ledger.internal_account(session, INTEREST_EXPENSE, "CNY")
    fees = ledger.internal_account(session, FEES, "CNY")
    cat = Catalog(settlement_id=settlement.id, interest_expense_id=interest.id, fees_id=fees.id)
    for c in CATEGORIES:
        name = merchant_account_name(c.key)
        acct = session.scalars(select(Account).where(
            Account.kind == "internal", Account.purpose == "settlement", Account.name == name,
            Account.currency == "CNY").order_by(Account.id).limit(1)).first()
        if acct is None:
            acct = ledger.open_account(session, customer_id=None, kind="internal", purpose="settlement",
                                       currency="CNY", name=name, overdraft_limit_minor=None)
        cat.merchant_account_ids[c.key] = acct.id
    existing = {b.code: b for b in session.scalars(select(Biller))}
    for code, zh, en, category, city, requires_bill in biller_specs():
        b = existing.get(code)
        if b is None:
            b = payments.add_biller(session, code=code, name_zh=zh, name_en=en, category=category, city=city,
                                    requires_bill=requires_bill)
        cat.billers[code] = BillerRef(id=b.id, code=b.code, name_zh=b.name_zh, name_en=b.name_en,
                                      category=b.category, city=b.city,
                                      settlement_account_id=b.settlement_account_id,
                                      requires_bill=bool(b.requires_bill))
    session.flush()
    return cat
