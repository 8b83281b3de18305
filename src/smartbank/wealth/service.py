"""The front door of wealth management (:data:`__all__`): what the entry points, the tools and the other
domains may use. Everything else in the package is private to it.

- the catalogue, NAVs and product pages (:mod:`.products`), the catalogue seed (:mod:`.seed`);
- the risk questionnaire and the grade in force (:mod:`.questionnaire`, :mod:`.grades`);
- the suitability rule (:mod:`.rules`) and its log (:mod:`.suitability`);
- purchases, redemptions and close of day (:mod:`.orders`), holdings (:mod:`.holdings`);
- robo-advice (:mod:`.robo`) and the allocation back-test (:mod:`.allocation`, :mod:`.evaluate`);
- what other domains read: :func:`held_products`, :func:`holders`, :func:`holding_starts`,
  :func:`purchase_orders`, :func:`all_products`, :func:`product_facts`; and the hook a purchase calls
  (:func:`on_purchase`, :mod:`.hooks`).

Names that would be ambiguous on their own carry their subject (``take_assessment``, ``cancel_order``,
``propose_plan``...).
"""

from __future__ import annotations

from smartbank.wealth.allocation import DEFAULT_MAX_WEIGHT
from smartbank.wealth.allocation import DEFAULT_METHOD as DEFAULT_ALLOCATION_METHOD
from smartbank.wealth.allocation import METHODS as ALLOCATION_METHODS
from smartbank.wealth.evaluate import evaluate_portfolio, load_prices
from smartbank.wealth.grades import current_grade
from smartbank.wealth.holdings import customer_holdings, held_products, holders, holding_starts
from smartbank.wealth.hooks import Purchase, PurchaseListener, on_purchase
from smartbank.wealth.models import GRADES, RISK_LEVELS, Holding, RiskAssessment, WealthOrder, WealthProduct
from smartbank.wealth.orders import (
    CASH_ACCOUNT_KINDS,
    accrue_income,
    get_order,
    list_orders,
    order_view,
    purchase,
    purchase_orders,
    redeem,
    settle_day,
    was_replayed,
)
from smartbank.wealth.orders import cancel as cancel_order
from smartbank.wealth.orders import today as trade_date
from smartbank.wealth.products import (
    PRODUCT_MANAGERS,
    STABLE_NAV,
    all_products,
    close_product,
    create_product,
    get_product,
    get_product_by_id,
    list_products,
    money_market_rows,
    nav_history,
    product_facts,
    product_page,
    product_view,
    publish_day,
    publish_nav,
    update_product,
)
from smartbank.wealth.questionnaire import MAX_RETAKES, RETAKE_WINDOW, with_age_from_id
from smartbank.wealth.questionnaire import active as active_questionnaire
from smartbank.wealth.questionnaire import ensure_seeded as ensure_questionnaire
from smartbank.wealth.questionnaire import history as assessment_history
from smartbank.wealth.questionnaire import publish as publish_questionnaire
from smartbank.wealth.questionnaire import status as assessment_status
from smartbank.wealth.questionnaire import take as take_assessment
from smartbank.wealth.questionnaire import view as questionnaire_view
from smartbank.wealth.robo import MAX_HORIZON, MIN_HORIZON, get_plan, list_plans, plan_view
from smartbank.wealth.robo import drift as plan_drift
from smartbank.wealth.robo import follow as follow_plan
from smartbank.wealth.robo import propose as propose_plan
from smartbank.wealth.robo import propose_for_grade as propose_plan_for_grade
from smartbank.wealth.rules import Verdict, allowed_without_acknowledgement
from smartbank.wealth.rules import check as check_suitability
from smartbank.wealth.seed import seed as seed_products
from smartbank.wealth.suitability import LOG_READERS as SUITABILITY_LOG_READERS
from smartbank.wealth.suitability import AcknowledgementRequired, Unsuitable
from smartbank.wealth.suitability import checks_log as suitability_log
from smartbank.wealth.suitability import preview as preview_suitability

__all__ = [
    # models and constants outsiders need
    "GRADES", "Holding", "RISK_LEVELS", "RiskAssessment", "WealthOrder", "WealthProduct",
    # the catalogue and NAVs
    "PRODUCT_MANAGERS", "STABLE_NAV", "close_product", "create_product", "get_product", "get_product_by_id",
    "list_products", "money_market_rows", "nav_history", "product_page", "product_view", "publish_day",
    "publish_nav", "seed_products", "update_product",
    # the questionnaire and the grade in force
    "MAX_RETAKES", "RETAKE_WINDOW", "active_questionnaire", "assessment_history", "assessment_status",
    "current_grade", "ensure_questionnaire", "publish_questionnaire", "questionnaire_view", "take_assessment",
    "with_age_from_id",
    # suitability
    "AcknowledgementRequired", "SUITABILITY_LOG_READERS", "Unsuitable", "Verdict", "allowed_without_acknowledgement",
    "check_suitability", "preview_suitability", "suitability_log",
    # orders and holdings
    "CASH_ACCOUNT_KINDS", "accrue_income", "cancel_order", "customer_holdings", "get_order", "list_orders",
    "order_view", "purchase", "redeem", "settle_day", "trade_date", "was_replayed",
    # robo-advice and the allocation back-test
    "ALLOCATION_METHODS", "DEFAULT_ALLOCATION_METHOD", "DEFAULT_MAX_WEIGHT", "MAX_HORIZON", "MIN_HORIZON",
    "evaluate_portfolio", "follow_plan", "get_plan", "list_plans", "load_prices", "plan_drift", "plan_view",
    "propose_plan", "propose_plan_for_grade",
    # what other domains read, and the purchase hook
    "Purchase", "PurchaseListener", "all_products", "held_products", "holders", "holding_starts", "on_purchase",
    "product_facts", "purchase_orders",
]
