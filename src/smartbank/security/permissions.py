"""The one permission table of the platform: who may do what, and what each API operation and web page needs.

:data:`PERMISSIONS` names every permission and the roles that hold it. An administrator holds a permission
only where it is listed: ``admin`` runs the platform, it is not a customer-data role, so it does not hold
``customer.pii.read`` or ``customer.kyc.verify``. The domain services check these permissions (their role
constants are read from this table), the API and the web pages check :data:`ROUTES` before an operation
runs (:mod:`smartbank.api.access`), and the command line acts through the same services.

:data:`ROUTES` gives every API operation and web route (``"METHOD /path/template"``) what it needs:
:data:`PUBLIC` (anyone, signed in or not), :data:`SIGNED_IN` (anyone signed in), :data:`STAFF` (any bank
staff member), or a tuple of permissions of which the caller needs one. ``self.service`` is the customer's
own banking; the services then keep a customer to their own objects. An operation without an entry is
refused, and ``tests/security/test_permission_matrix.py`` fails until it has one.
"""

from __future__ import annotations

from smartbank.security.models import ROLES, STAFF_ROLES

__all__ = ["PERMISSIONS", "PUBLIC", "ROUTES", "SIGNED_IN", "STAFF", "allows", "roles_for", "route_access",
           "route_roles"]

T, L, R, M, A, ADMIN = "teller", "loan_officer", "risk_officer", "marketer", "service_agent", "admin"

PERMISSIONS: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    # a customer's own banking (their accounts, payments, loans, investments, assistant)
    "self.service": ("customer",),
    # customers' records and money. A marketer works on segments and tags, never on a named customer's record
    "customer.search": (T, A, R, L, ADMIN),
    "customer.read": (T, A, R, L, ADMIN),  # one customer's record (masked), accounts, payees, standing orders
    # birth date, address and income shown (identity numbers stay masked for every staff role: see masking.POLICY)
    "customer.pii.read": (T, R),
    # break-glass: one field of one customer in full, with a reason, audited (masking.REVEAL_ROLES)
    "customer.pii.reveal": (T, L, R),
    "account.history.read": (T, A, R, L, ADMIN),  # any customer's transactions, statements, transfers
    "customer.create": (T, ADMIN),
    "customer.kyc.verify": (T,),  # the original document examined with its holder: a counter task
    "customer.limit.set": (T, R, ADMIN),
    "account.open": (T, ADMIN),
    "account.status": (T, R, ADMIN),  # freeze, unfreeze, close
    "cash.handle": (T, ADMIN),
    "hold.manage": (T, R, ADMIN),
    "transfer.reverse": (R, ADMIN),
    "user.manage": (ADMIN,),
    # privacy (PIPL): a teller records consent signed at the counter; correction requests are resolved by the
    # staff who may change a customer's record
    "customer.consent.record": (T,),
    "privacy.requests.resolve": (T,),
    "audit.read": (ADMIN,),
    "metrics.read": (ADMIN,),  # /metrics; a scraper uses SMARTBANK_METRICS_TOKEN instead of a role
    "ledger.verify": (ADMIN,),
    # customer insight
    "insight.profiles.read": (M, A, R, ADMIN),
    "insight.tags.manage": (M, ADMIN),
    # risk
    "risk.rules.manage": (R, ADMIN),
    "risk.alerts.manage": (R, ADMIN),
    "risk.limits.manage": (R, ADMIN),
    "risk.register.manage": (R, ADMIN),
    "risk.monitor.read": (R, ADMIN),
    # lending
    "lending.products.manage": (ADMIN,),
    "lending.rates.set": (ADMIN,),  # the reference rate is published centrally, not set by a loan officer
    "lending.applications.read": (L, ADMIN),
    "lending.review": (L, ADMIN),
    "lending.book.read": (L, R, ADMIN),
    "lending.models.read": (L, R, ADMIN),
    "lending.writeoff": (R, ADMIN),  # write-offs and collections on written-off loans
    "lending.blacklist.manage": (R, ADMIN),
    # wealth
    "wealth.products.manage": (M, ADMIN),
    "wealth.questionnaire.publish": (ADMIN,),
    "wealth.orders.read": (A, R, ADMIN),  # any customer's orders and holdings
    "wealth.suitability.read": (R, ADMIN),
    "wealth.advice": (A, ADMIN),  # propose and read robo-advice plans on a customer's behalf
    # recommendations
    "recommend.report": (M, ADMIN),
    "recommend.items.manage": (M, ADMIN),
    "recommend.sync": (M, ADMIN),
    # assistant
    "assistant.handoff": (A, ADMIN),
    "assistant.faq.manage": (A, ADMIN),
    "assistant.analytics.read": (A, M, ADMIN),
    # marketing: a campaign is drafted by a marketer and approved by a second marketer or an administrator (the
    # service refuses the maker as approver)
    "marketing.campaigns.manage": (M, ADMIN),
    "marketing.campaigns.approve": (M, ADMIN),
    "marketing.reports.read": (M, ADMIN),  # results, experiments, uplift, attribution and ROI
    "marketing.policy.manage": (M, ADMIN),  # the contact policy: frequency caps, quiet hours, channel costs
    # why a customer was (not) contacted, and putting one on do-not-disturb after a call or at the counter
    "marketing.contacts.read": (M, A, T, ADMIN),
    "marketing.suppress": (M, A, T, ADMIN),
    # loyalty (客户激励): the programme's rules and rewards; a customer's points and their history
    "loyalty.manage": (M, ADMIN),
    "loyalty.read": (M, A, T, ADMIN),
    # public opinion (舆情): reputational risk is watched by marketing (communications) and risk
    "opinion.read": (M, R, ADMIN),
    "opinion.respond": (M, R, ADMIN),
    "opinion.ingest": (M, ADMIN),
}.items()}

PUBLIC = ("public",)
SIGNED_IN = ("signed_in",)
STAFF = ("staff",)
_SELF = ("self.service",)


def _self_or(*permissions: str) -> tuple[str, ...]:
    return ("self.service", *permissions)


# the permissions whose changes are maker-checker (the back office's change requests): a holder of any of them
# sees, approves or rejects the change requests of the kinds their role holds (the service narrows it)
CHANGE_DECIDERS = ("risk.rules.manage", "risk.limits.manage", "lending.rates.set", "lending.products.manage",
                   "wealth.products.manage", "customer.limit.set", "user.manage")


ROUTES: dict[str, tuple[str, ...]] = {
    # --- system and documentation ---------------------------------------------------------------------
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": ("metrics.read",),
    "GET /docs": PUBLIC,
    "GET /api/v1/openapi.json": PUBLIC,
    # --- API: sign-in ---------------------------------------------------------------------------------
    "POST /api/v1/auth/login": PUBLIC,
    "POST /api/v1/auth/signup": PUBLIC,
    "POST /api/v1/auth/logout": SIGNED_IN,
    "GET /api/v1/auth/me": SIGNED_IN,
    "POST /api/v1/auth/login/mfa": PUBLIC,  # the pending token of the first step is the credential
    "POST /api/v1/auth/login/enrol": PUBLIC,
    "POST /api/v1/auth/password-reset": PUBLIC,
    "POST /api/v1/auth/password-reset/confirm": PUBLIC,
    "GET /api/v1/auth/mfa": SIGNED_IN,
    "POST /api/v1/auth/mfa/enrol": SIGNED_IN,
    "POST /api/v1/auth/mfa/confirm": SIGNED_IN,
    "POST /api/v1/auth/mfa/disable": SIGNED_IN,  # staff are refused by the service: their factor is mandatory
    "POST /api/v1/auth/mfa/recovery-codes": SIGNED_IN,
    "POST /api/v1/auth/password": SIGNED_IN,
    "GET /api/v1/auth/sessions": SIGNED_IN,
    "DELETE /api/v1/auth/sessions/{session_id}": SIGNED_IN,
    "POST /api/v1/auth/phone": _SELF,
    "POST /api/v1/auth/daily-limit": _SELF,
    # --- API: accounts and payments ------------------------------------------------------------------
    "GET /api/v1/accounts": _self_or("customer.read"),
    "GET /api/v1/accounts/{account_id}": _self_or("customer.read"),
    "GET /api/v1/accounts/{account_id}/transactions": _self_or("account.history.read"),
    "GET /api/v1/accounts/{account_id}/transactions.csv": _self_or("account.history.read"),
    "GET /api/v1/accounts/{account_id}/statements/{year}/{month}": _self_or("account.history.read"),
    "POST /api/v1/transfers": _SELF,
    "GET /api/v1/transfers/{transfer_id}": _self_or("account.history.read"),
    "GET /api/v1/payees": _self_or("customer.read"),
    "POST /api/v1/payees": _SELF,
    "DELETE /api/v1/payees/{payee_id}": _SELF,
    "GET /api/v1/scheduled-transfers": _self_or("customer.read"),
    "POST /api/v1/scheduled-transfers": _SELF,
    "DELETE /api/v1/scheduled-transfers/{scheduled_id}": _SELF,
    "GET /api/v1/billers": SIGNED_IN,
    "GET /api/v1/billers/{code}/bills": SIGNED_IN,
    "POST /api/v1/bill-payments": _SELF,
    "POST /api/v1/top-ups": _SELF,
    # --- API: back office ----------------------------------------------------------------------------
    "GET /api/v1/customers": ("customer.search",),
    "GET /api/v1/customers/{customer_id}": _self_or("customer.read"),
    "POST /api/v1/customers": ("customer.create",),
    "POST /api/v1/customers/{customer_id}/kyc": ("customer.kyc.verify",),
    "POST /api/v1/customers/{customer_id}/reveal": ("customer.pii.reveal",),
    "POST /api/v1/customers/{customer_id}/accounts": ("account.open",),
    "PUT /api/v1/customers/{customer_id}/daily-limit": ("customer.limit.set",),
    "POST /api/v1/accounts/{account_id}/freeze": ("account.status",),
    "POST /api/v1/accounts/{account_id}/unfreeze": ("account.status",),
    "POST /api/v1/accounts/{account_id}/close": ("account.status",),
    "POST /api/v1/cash/deposits": ("cash.handle",),
    "POST /api/v1/cash/withdrawals": ("cash.handle",),
    "POST /api/v1/holds": ("hold.manage",),
    "POST /api/v1/holds/{transfer_id}/post": ("hold.manage",),
    "POST /api/v1/holds/{transfer_id}/void": ("hold.manage",),
    "POST /api/v1/transfers/{transfer_id}/reverse": ("transfer.reverse",),
    "GET /api/v1/reversals": ("transfer.reverse",),
    "GET /api/v1/reversals/{reversal_request_id}": ("transfer.reverse",),
    "POST /api/v1/reversals/{reversal_request_id}/approve": ("transfer.reverse",),
    "POST /api/v1/reversals/{reversal_request_id}/reject": ("transfer.reverse",),
    "POST /api/v1/users": ("user.manage",),
    "PUT /api/v1/users/{user_id}/role": ("user.manage",),
    "PUT /api/v1/users/{user_id}/active": ("user.manage",),
    "GET /api/v1/changes": CHANGE_DECIDERS,
    "GET /api/v1/changes/{change_id}": CHANGE_DECIDERS,
    "POST /api/v1/changes/{change_id}/approve": CHANGE_DECIDERS,
    "POST /api/v1/changes/{change_id}/reject": CHANGE_DECIDERS,
    "POST /api/v1/changes/{change_id}/withdraw": CHANGE_DECIDERS,
    "GET /api/v1/audit": ("audit.read",),
    "GET /api/v1/ledger/verify": ("ledger.verify",),
    # --- API: customer insight -----------------------------------------------------------------------
    "GET /api/v1/insight/customers/{customer_id}": _self_or("insight.profiles.read"),
    "GET /api/v1/insight/me": _SELF,
    "GET /api/v1/insight/features": SIGNED_IN,
    "GET /api/v1/insight/tags": ("insight.profiles.read",),
    "POST /api/v1/insight/tags": ("insight.tags.manage",),
    "POST /api/v1/insight/tags/test": ("insight.tags.manage",),
    "GET /api/v1/insight/tags/{code}": ("insight.profiles.read",),
    "PUT /api/v1/insight/tags/{code}": ("insight.tags.manage",),
    "POST /api/v1/insight/tags/{code}/retire": ("insight.tags.manage",),
    "GET /api/v1/insight/segments": ("insight.profiles.read",),
    # --- API: risk -----------------------------------------------------------------------------------
    "GET /api/v1/risk/rules": ("risk.rules.manage",),
    "POST /api/v1/risk/rules": ("risk.rules.manage",),
    "POST /api/v1/risk/rules/test": ("risk.rules.manage",),
    "GET /api/v1/risk/rules/stats": ("risk.rules.manage",),
    "GET /api/v1/risk/rules/{code}": ("risk.rules.manage",),
    "PUT /api/v1/risk/rules/{code}": ("risk.rules.manage",),
    "POST /api/v1/risk/rules/{code}/mode": ("risk.rules.manage",),
    "GET /api/v1/risk/alerts": ("risk.alerts.manage",),
    "GET /api/v1/risk/alerts/{alert_id}": ("risk.alerts.manage",),
    "POST /api/v1/risk/alerts/{alert_id}/assign": ("risk.alerts.manage",),
    "POST /api/v1/risk/alerts/{alert_id}/notes": ("risk.alerts.manage",),
    "POST /api/v1/risk/alerts/{alert_id}/resolve": ("risk.alerts.manage",),
    "GET /api/v1/risk/limits": ("risk.limits.manage",),
    "POST /api/v1/risk/limits": ("risk.limits.manage",),
    "GET /api/v1/risk/limits/breaches": ("risk.limits.manage",),
    "GET /api/v1/risk/limits/{limit_id}": ("risk.limits.manage",),
    "PATCH /api/v1/risk/limits/{limit_id}": ("risk.limits.manage",),
    "GET /api/v1/risk/register": ("risk.register.manage",),
    "POST /api/v1/risk/register": ("risk.register.manage",),
    "GET /api/v1/risk/register/{entry_id}": ("risk.register.manage",),
    "PATCH /api/v1/risk/register/{entry_id}": ("risk.register.manage",),
    "GET /api/v1/risk/matrix": ("risk.register.manage",),
    "GET /api/v1/risk/kris": ("risk.monitor.read",),
    "GET /api/v1/risk/warnings": ("risk.monitor.read",),
    "POST /api/v1/risk/warnings/{warning_id}/ack": ("risk.monitor.read",),
    "GET /api/v1/risk/model-monitor": ("risk.monitor.read",),
    "GET /api/v1/risk/dashboard": ("risk.monitor.read",),
    # --- API: notifications --------------------------------------------------------------------------
    "GET /api/v1/notifications": _SELF,
    "POST /api/v1/notifications/read": _SELF,
    "POST /api/v1/notifications/{notification_id}/read": _SELF,
    # --- API: lending --------------------------------------------------------------------------------
    "GET /api/v1/lending/products": SIGNED_IN,
    "POST /api/v1/lending/products": ("lending.products.manage",),
    "PATCH /api/v1/lending/products/{code}": ("lending.products.manage",),
    "GET /api/v1/lending/rates": SIGNED_IN,
    "POST /api/v1/lending/rates": ("lending.rates.set",),
    "GET /api/v1/lending/quote": SIGNED_IN,
    "GET /api/v1/lending/applications/prefill": _SELF,
    "POST /api/v1/lending/applications": _SELF,
    "GET /api/v1/lending/applications": _self_or("lending.applications.read"),
    "GET /api/v1/lending/applications/{application_id}": _self_or("lending.applications.read"),
    "POST /api/v1/lending/applications/{application_id}/accept": _SELF,
    "POST /api/v1/lending/applications/{application_id}/withdraw": _SELF,
    "GET /api/v1/lending/reviews": ("lending.review",),
    "GET /api/v1/lending/reviews/{application_id}": ("lending.review",),
    "POST /api/v1/lending/reviews/{application_id}/claim": ("lending.review",),
    "POST /api/v1/lending/reviews/{application_id}/notes": ("lending.review",),
    "POST /api/v1/lending/reviews/{application_id}/decision": ("lending.review",),
    "GET /api/v1/lending/loans": _self_or("lending.book.read"),
    "GET /api/v1/lending/loans/{loan_id}": _self_or("lending.book.read"),
    "GET /api/v1/lending/loans/{loan_id}/schedule": _self_or("lending.book.read"),
    "POST /api/v1/lending/loans/{loan_id}/repayments": _SELF,
    "POST /api/v1/lending/loans/{loan_id}/write-off": ("lending.writeoff",),
    "POST /api/v1/lending/loans/{loan_id}/collections": ("lending.writeoff",),
    "GET /api/v1/lending/book": ("lending.book.read",),
    "GET /api/v1/lending/book/summary": ("lending.book.read",),
    # --- API: wealth ---------------------------------------------------------------------------------
    "GET /api/v1/wealth/questionnaire": SIGNED_IN,
    "POST /api/v1/wealth/questionnaires": ("wealth.questionnaire.publish",),
    "POST /api/v1/wealth/assessments": _SELF,
    "GET /api/v1/wealth/assessment": _SELF,
    "GET /api/v1/wealth/assessments": _SELF,
    "GET /api/v1/wealth/products": SIGNED_IN,
    "POST /api/v1/wealth/products": ("wealth.products.manage",),
    "GET /api/v1/wealth/products/{code}": SIGNED_IN,
    "PATCH /api/v1/wealth/products/{code}": ("wealth.products.manage",),
    "POST /api/v1/wealth/products/{code}/close": ("wealth.products.manage",),
    "GET /api/v1/wealth/products/{code}/navs": SIGNED_IN,
    "POST /api/v1/wealth/products/{code}/navs": ("wealth.products.manage",),
    "POST /api/v1/wealth/orders/purchase": _SELF,
    "POST /api/v1/wealth/orders/redeem": _SELF,
    "GET /api/v1/wealth/orders": _self_or("wealth.orders.read"),
    "GET /api/v1/wealth/orders/{order_id}": _self_or("wealth.orders.read"),
    "POST /api/v1/wealth/orders/{order_id}/cancel": _SELF,
    "GET /api/v1/wealth/holdings": _self_or("wealth.orders.read"),
    "GET /api/v1/wealth/suitability-checks": ("wealth.suitability.read",),
    "POST /api/v1/wealth/robo/plans": _self_or("wealth.advice"),
    "GET /api/v1/wealth/robo/plans": _self_or("wealth.advice"),
    "GET /api/v1/wealth/robo/plans/{plan_id}": _self_or("wealth.advice"),
    "GET /api/v1/wealth/robo/plans/{plan_id}/drift": _self_or("wealth.advice"),
    "POST /api/v1/wealth/robo/plans/{plan_id}/follow": _SELF,
    # --- API: recommendations ------------------------------------------------------------------------
    "GET /api/v1/recommendations": _SELF,
    "POST /api/v1/recommendations/events": _SELF,
    "GET /api/v1/recommendations/report": ("recommend.report",),
    # --- API: assistant ------------------------------------------------------------------------------
    "POST /api/v1/assistant/messages": _SELF,
    "GET /api/v1/assistant/conversations": _SELF,
    "GET /api/v1/assistant/conversations/{conversation_id}": _SELF,
    "POST /api/v1/assistant/conversations/{conversation_id}/rating": _SELF,
    "GET /api/v1/assistant/faq": ("assistant.faq.manage",),
    "POST /api/v1/assistant/faq": ("assistant.faq.manage",),
    "POST /api/v1/assistant/faq/test": ("assistant.faq.manage",),
    "GET /api/v1/assistant/faq/{entry_id}": ("assistant.faq.manage",),
    "PATCH /api/v1/assistant/faq/{entry_id}": ("assistant.faq.manage",),
    "POST /api/v1/assistant/faq/{entry_id}/active": ("assistant.faq.manage",),
    "GET /api/v1/assistant/agent/queue": ("assistant.handoff",),
    "GET /api/v1/assistant/agent/conversations/{conversation_id}": ("assistant.handoff",),
    "POST /api/v1/assistant/agent/conversations/{conversation_id}/claim": ("assistant.handoff",),
    "POST /api/v1/assistant/agent/conversations/{conversation_id}/messages": ("assistant.handoff",),
    "POST /api/v1/assistant/agent/conversations/{conversation_id}/close": ("assistant.handoff",),
    "GET /api/v1/assistant/agent/analytics": ("assistant.analytics.read",),
    # --- API: privacy (consents, a copy of the data, corrections, deletion) -------------------------
    "GET /api/v1/privacy/consents": _SELF,
    "GET /api/v1/privacy/consents/history": _SELF,
    "PUT /api/v1/privacy/consents": _SELF,
    "GET /api/v1/customers/{customer_id}/consents": _self_or("customer.read"),
    "POST /api/v1/customers/{customer_id}/consents": ("customer.consent.record",),
    "GET /api/v1/privacy/export": _SELF,
    "GET /api/v1/privacy/requests": _SELF,
    "POST /api/v1/privacy/corrections": _SELF,
    "GET /api/v1/privacy/correction-queue": ("privacy.requests.resolve",),
    "POST /api/v1/privacy/corrections/{request_id}/resolve": ("privacy.requests.resolve",),
    "GET /api/v1/privacy/deletion": _SELF,
    "POST /api/v1/privacy/deletion": _SELF,
    # --- web: sign-in and preferences ----------------------------------------------------------------
    "GET /static": PUBLIC,  # the stylesheet and scripts (a mount)
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "GET /console/login": PUBLIC,
    "POST /console/login": PUBLIC,
    "POST /logout": PUBLIC,  # ends the browser's session if it has one
    "POST /console/logout": PUBLIC,
    "GET /signup": PUBLIC,
    "POST /signup": PUBLIC,
    # the second step of a sign-in: the pending cookie of the first step is the credential
    "GET /login/mfa": PUBLIC,
    "POST /login/mfa": PUBLIC,
    "GET /console/login/mfa": PUBLIC,
    "POST /console/login/mfa": PUBLIC,
    "GET /console/login/enrol": PUBLIC,
    "POST /console/login/enrol": PUBLIC,
    "GET /password-reset": PUBLIC,
    "POST /password-reset": PUBLIC,
    "POST /password-reset/confirm": PUBLIC,
    # one's own security settings: the customer's in the portal, a staff member's in the console
    "GET /security": _SELF,
    "POST /security/mfa/enrol": _SELF,
    "POST /security/mfa/confirm": _SELF,
    "POST /security/mfa/disable": _SELF,
    "POST /security/recovery-codes": _SELF,
    "POST /security/password": _SELF,
    "POST /security/sessions/{session_id}/revoke": _SELF,
    "POST /security/phone": _SELF,
    "POST /security/daily-limit": _SELF,
    "GET /console/security": STAFF,
    "POST /console/security/password": STAFF,
    "POST /console/security/recovery-codes": STAFF,
    "POST /console/security/sessions/{session_id}/revoke": STAFF,
    "GET /prefs/lang/{lang}": PUBLIC,
    "GET /prefs/elder/{state}": PUBLIC,
    # --- web: the customer portal --------------------------------------------------------------------
    "GET /": _SELF,
    # the shell: the "me" page (every portal page the tab bar does not show, preferences, signing out)
    "GET /me": _SELF,
    "GET /accounts/{account_id}": _SELF,
    "GET /accounts/{account_id}/transactions.csv": _SELF,
    "GET /accounts/{account_id}/statement": _SELF,
    "GET /transfers/{transfer_id}": _SELF,
    "GET /transfer": _SELF,
    "GET /transfer/confirm": PUBLIC,  # a bare redirect back to the transfer form
    "POST /transfer/confirm": _SELF,
    "POST /transfer/edit": _SELF,
    "POST /transfer/submit": _SELF,
    "GET /payees": _SELF,
    "POST /payees": _SELF,
    "POST /payees/{payee_id}/delete": _SELF,
    "GET /scheduled": _SELF,
    "POST /scheduled": _SELF,
    "POST /scheduled/{scheduled_id}/cancel": _SELF,
    "GET /bills": _SELF,
    "GET /bills/{code}": _SELF,
    "POST /bills/pay": _SELF,
    "GET /topup": _SELF,
    "POST /topup": _SELF,
    "GET /insights": _SELF,
    "GET /notifications": _SELF,
    "GET /loans/apply": _SELF,
    "POST /loans/apply": _SELF,
    "GET /loans/applications/{application_id}": _SELF,
    "POST /loans/applications/{application_id}/accept": _SELF,
    "POST /loans/applications/{application_id}/withdraw": _SELF,
    "GET /loans": _SELF,
    "GET /loans/{loan_id}": _SELF,
    "POST /loans/{loan_id}/repay": _SELF,
    "POST /loans/{loan_id}/early": _SELF,
    "GET /wealth": _SELF,
    "GET /wealth/assessment": _SELF,
    "POST /wealth/assessment": _SELF,
    "GET /wealth/products": _SELF,
    "GET /wealth/products/{code}": _SELF,
    "POST /wealth/products/{code}/buy": _SELF,
    "POST /wealth/redeem": _SELF,
    "POST /wealth/orders/{order_id}/cancel": _SELF,
    "GET /wealth/robo": _SELF,
    "POST /wealth/robo": _SELF,
    "POST /wealth/robo/{plan_id}/follow": _SELF,
    "GET /for-you": _SELF,
    "POST /for-you/click": _SELF,
    "POST /for-you/dismiss": _SELF,
    "GET /assistant": _SELF,
    "POST /assistant": _SELF,
    "GET /assistant/{conversation_id}/messages": _SELF,
    "POST /assistant/{conversation_id}/rating": _SELF,
    "GET /privacy": _SELF,
    "POST /privacy/consents": _SELF,
    "GET /privacy/export": _SELF,
    "POST /privacy/corrections": _SELF,
    "POST /privacy/deletion": _SELF,
    # --- web: the operator console -------------------------------------------------------------------
    "GET /console": STAFF,
    "GET /console/reversals": ("transfer.reverse",),
    "GET /console/changes": CHANGE_DECIDERS,
    "POST /console/changes/{change_id}/approve": CHANGE_DECIDERS,
    "POST /console/changes/{change_id}/reject": CHANGE_DECIDERS,
    "POST /console/changes/{change_id}/withdraw": CHANGE_DECIDERS,
    "POST /console/reversals/{request_id}/approve": ("transfer.reverse",),
    "POST /console/reversals/{request_id}/reject": ("transfer.reverse",),
    "GET /console/customers": ("customer.search",),
    "GET /console/customers/{customer_id}": ("customer.read",),
    "POST /console/customers/{customer_id}/reveal": ("customer.pii.reveal",),
    "POST /console/accounts/{account_id}/status": ("account.status",),
    # payments part: the confirm step of a freeze or unfreeze
    "GET /console/accounts/{account_id}/status": ("account.status",),
    "POST /console/customers/{customer_id}/daily-limit": ("customer.limit.set",),
    "GET /console/insight/customers": ("insight.profiles.read",),
    "GET /console/insight/customers/{customer_id}": ("insight.profiles.read",),
    "GET /console/insight/tags": ("insight.tags.manage",),
    "GET /console/insight/tags/{code}": ("insight.tags.manage",),
    "POST /console/insight/tags": ("insight.tags.manage",),
    "POST /console/insight/tags/{code}/retire": ("insight.tags.manage",),
    "GET /console/insight/segments": ("insight.profiles.read",),
    "GET /console/risk/rules": ("risk.rules.manage",),
    "GET /console/risk/rules/{code}": ("risk.rules.manage",),
    "POST /console/risk/rules": ("risk.rules.manage",),
    "POST /console/risk/rules/{code}/mode": ("risk.rules.manage",),
    "GET /console/risk/rules/{code}/mode": ("risk.rules.manage",),
    "GET /console/risk/alerts": ("risk.alerts.manage",),
    "GET /console/risk/alerts/{alert_id}": ("risk.alerts.manage",),
    "POST /console/risk/alerts/{alert_id}/assign": ("risk.alerts.manage",),
    "POST /console/risk/alerts/{alert_id}/note": ("risk.alerts.manage",),
    "POST /console/risk/alerts/{alert_id}/resolve": ("risk.alerts.manage",),
    "GET /console/risk": ("risk.monitor.read",),
    "POST /console/risk/warnings/{warning_id}/ack": ("risk.monitor.read",),
    "POST /console/risk/run": ("risk.monitor.read",),
    "GET /console/risk/limits": ("risk.limits.manage",),
    "POST /console/risk/limits": ("risk.limits.manage",),
    "POST /console/risk/limits/{limit_id}": ("risk.limits.manage",),
    "POST /console/risk/limits/{limit_id}/deactivate": ("risk.limits.manage",),
    "GET /console/risk/register": ("risk.register.manage",),
    "GET /console/risk/register/{entry_id}": ("risk.register.manage",),
    "POST /console/risk/register": ("risk.register.manage",),
    "GET /console/lending/reviews": ("lending.review",),
    "GET /console/lending/reviews/{app_id}": ("lending.review",),
    "POST /console/lending/reviews/{app_id}/claim": ("lending.review",),
    "POST /console/lending/reviews/{app_id}/note": ("lending.review",),
    "POST /console/lending/reviews/{app_id}/decision": ("lending.review",),
    "GET /console/lending/products": ("lending.review",),
    "GET /console/lending/book": ("lending.book.read",),
    "GET /console/lending/book/{loan_id}": ("lending.book.read",),
    "POST /console/lending/book/{loan_id}/write-off": ("lending.writeoff",),
    "POST /console/lending/book/{loan_id}/collections": ("lending.writeoff",),
    "GET /console/lending/models": ("lending.models.read",),
    "GET /console/lending/models/report.html": ("lending.models.read",),
    "GET /console/wealth/products": ("wealth.products.manage",),
    "POST /console/wealth/products/{code}/nav": ("wealth.products.manage",),
    "GET /console/wealth/suitability": ("wealth.suitability.read",),
    "GET /console/recommend": ("recommend.report",),
    "GET /console/assistant/queue": ("assistant.handoff",),
    "GET /console/assistant/conversations/{conversation_id}": ("assistant.handoff",),
    "POST /console/assistant/conversations/{conversation_id}/claim": ("assistant.handoff",),
    "POST /console/assistant/conversations/{conversation_id}/reply": ("assistant.handoff",),
    "POST /console/assistant/conversations/{conversation_id}/close": ("assistant.handoff",),
    "GET /console/assistant/faq": ("assistant.faq.manage",),
    "GET /console/assistant/faq/{entry_id}": ("assistant.faq.manage",),
    "POST /console/assistant/faq": ("assistant.faq.manage",),
    "POST /console/assistant/faq/{entry_id}": ("assistant.faq.manage",),
    "POST /console/assistant/faq/{entry_id}/active": ("assistant.faq.manage",),
    "GET /console/assistant/analytics": ("assistant.analytics.read",),
    "GET /console/privacy/corrections": ("privacy.requests.resolve",),
    "POST /console/privacy/corrections/{request_id}/resolve": ("privacy.requests.resolve",),
}

# --- marketing, loyalty and public opinion: one block per part (API and pages) -------------------------------

# contact policy, channels, deliveries, do-not-disturb
ROUTES.update({
    "GET /api/v1/marketing/contact/policy": ("marketing.contacts.read",),
    "PUT /api/v1/marketing/contact/policy/{channel}": ("marketing.policy.manage",),
    "GET /api/v1/marketing/contact/why": ("marketing.contacts.read",),
    "GET /api/v1/marketing/contact/campaigns/{campaign_id}/summary": ("marketing.reports.read",),
    "GET /api/v1/marketing/contact/dnd": ("marketing.contacts.read",),
    "POST /api/v1/marketing/contact/dnd": ("marketing.suppress",),
    "DELETE /api/v1/marketing/contact/dnd/{dnd_id}": ("marketing.suppress",),
    "GET /console/marketing/contacts": ("marketing.contacts.read",),
    "POST /console/marketing/contacts/dnd": ("marketing.suppress",),
    "POST /console/marketing/contacts/dnd/{dnd_id}/remove": ("marketing.suppress",),
    "GET /console/marketing/contacts/policy": ("marketing.contacts.read",),
    "POST /console/marketing/contacts/policy/{channel}": ("marketing.policy.manage",),
    "GET /m/{token}": PUBLIC,  # a tracked link in a message: the token is signed
    "POST /banners/{message_id}/dismiss": _SELF,
})

# campaigns, audiences, approvals
_MC, _MCA = ("marketing.campaigns.manage",), ("marketing.campaigns.approve",)
_MCR = ("marketing.campaigns.manage", "marketing.campaigns.approve", "marketing.reports.read")
ROUTES.update({
    "GET /api/v1/marketing/campaigns": _MCR,
    "POST /api/v1/marketing/campaigns": _MC,
    "POST /api/v1/marketing/campaigns/preview": _MC,
    "GET /api/v1/marketing/campaigns/{code}": _MCR,
    "PUT /api/v1/marketing/campaigns/{code}": _MC,
    "GET /api/v1/marketing/campaigns/{code}/results": _MCR,
    "POST /api/v1/marketing/campaigns/{code}/submit": _MC,
    "POST /api/v1/marketing/campaigns/{code}/approve": _MCA,
    "POST /api/v1/marketing/campaigns/{code}/reject": _MCA,
    "POST /api/v1/marketing/campaigns/{code}/pause": _MC,
    "POST /api/v1/marketing/campaigns/{code}/resume": _MC,
    "POST /api/v1/marketing/campaigns/{code}/cancel": _MC,
    "POST /api/v1/marketing/campaigns/{code}/run": _MC,
    "GET /console/marketing/campaigns": _MCR,
    "GET /console/marketing/campaigns/new": _MC,
    "POST /console/marketing/campaigns": _MC,
    "GET /console/marketing/campaigns/{code}": _MCR,
    "GET /console/marketing/campaigns/{code}/edit": _MC,
    "POST /console/marketing/campaigns/{code}": _MC,
    "POST /console/marketing/campaigns/{code}/submit": _MC,
    "POST /console/marketing/campaigns/{code}/approve": _MCA,
    "POST /console/marketing/campaigns/{code}/reject": _MCA,
    "POST /console/marketing/campaigns/{code}/pause": _MC,
    "POST /console/marketing/campaigns/{code}/resume": _MC,
    "POST /console/marketing/campaigns/{code}/cancel": _MC,
    "POST /console/marketing/campaigns/{code}/run": _MC,
})

# experiments
ROUTES.update({
    "GET /api/v1/marketing/experiments": ("marketing.reports.read",),
    "GET /api/v1/marketing/experiments/{campaign_id}": ("marketing.reports.read",),
    "POST /api/v1/marketing/experiments/{campaign_id}/evaluate": ("marketing.campaigns.manage",),
    "GET /console/marketing/experiments": ("marketing.reports.read",),
    "GET /console/marketing/experiments/{campaign_id}": ("marketing.reports.read",),
    "POST /console/marketing/experiments/{campaign_id}/evaluate": ("marketing.campaigns.manage",),
})

# uplift models
ROUTES.update({
    "GET /api/v1/marketing/uplift/models": ("marketing.reports.read",),
    "GET /api/v1/marketing/uplift/report": ("marketing.reports.read",),
    "POST /api/v1/marketing/uplift/train": ("marketing.campaigns.manage",),
    "GET /console/marketing/uplift": ("marketing.reports.read",),
    "POST /console/marketing/uplift/train": ("marketing.campaigns.manage",),
})

# attribution, ROI, dashboards
ROUTES.update({
    "GET /api/v1/marketing/reports/overview": ("marketing.reports.read",),
    "GET /api/v1/marketing/reports/roi": ("marketing.reports.read",),
    "GET /api/v1/marketing/reports/campaigns/{campaign_id}": ("marketing.reports.read",),
    "POST /api/v1/marketing/reports/attribution": ("marketing.campaigns.manage",),
    "GET /console/marketing": ("marketing.reports.read",),
    "GET /console/marketing/results/{campaign_id}": ("marketing.reports.read",),
})

# journeys
ROUTES.update({
    "GET /api/v1/marketing/journeys": ("marketing.reports.read", "marketing.campaigns.manage"),
    "POST /api/v1/marketing/journeys": ("marketing.campaigns.manage",),
    "POST /api/v1/marketing/journeys/seed": ("marketing.campaigns.manage",),
    "POST /api/v1/marketing/journeys/events": ("marketing.campaigns.manage",),
    "GET /api/v1/marketing/journeys/runs/{run_id}": ("marketing.contacts.read",),
    "GET /api/v1/marketing/journeys/{code}": ("marketing.reports.read", "marketing.campaigns.manage"),
    "POST /api/v1/marketing/journeys/{code}/approve": ("marketing.campaigns.approve",),
    "POST /api/v1/marketing/journeys/{code}/disable": ("marketing.campaigns.manage",),
    "POST /api/v1/marketing/journeys/{code}/request-enable": ("marketing.campaigns.manage",),
    "GET /console/marketing/journeys": ("marketing.reports.read",),
    "GET /console/marketing/journeys/{code}": ("marketing.reports.read",),
    "POST /console/marketing/journeys/seed": ("marketing.campaigns.manage",),
    "POST /console/marketing/journeys/{code}/approve": ("marketing.campaigns.approve",),
    "POST /console/marketing/journeys/{code}/disable": ("marketing.campaigns.manage",),
    "POST /console/marketing/journeys/{code}/request": ("marketing.campaigns.manage",),
})

# loyalty
ROUTES.update({
    "GET /api/v1/loyalty/me": _SELF,
    "POST /api/v1/loyalty/redemptions": _SELF,
    "POST /api/v1/loyalty/vouchers/use": _SELF,
    "GET /api/v1/loyalty/customers/{customer_id}": ("loyalty.read",),
    "GET /api/v1/loyalty/rules": ("loyalty.read",),
    "POST /api/v1/loyalty/rules": ("loyalty.manage",),
    "GET /api/v1/loyalty/reconcile": ("loyalty.read",),
    "GET /loyalty": _SELF,
    "POST /loyalty/redeem": _SELF,
    "GET /console/loyalty": ("loyalty.read",),
    "POST /console/loyalty/rules": ("loyalty.manage",),
})

# public opinion
ROUTES.update({
    "POST /api/v1/opinion/webhook": PUBLIC,  # the service checks the body's HMAC signature
    "POST /api/v1/opinion/ingest": ("opinion.ingest",),
    "GET /api/v1/opinion/mentions": ("opinion.read",),
    "GET /api/v1/opinion/series": ("opinion.read",),
    "GET /api/v1/opinion/summary": ("opinion.read",),
    "POST /api/v1/opinion/detect": ("opinion.respond",),
    "GET /api/v1/opinion/alerts": ("opinion.read",),
    "GET /api/v1/opinion/alerts/{alert_id}": ("opinion.read",),
    "POST /api/v1/opinion/alerts/{alert_id}/acknowledge": ("opinion.respond",),
    "POST /api/v1/opinion/alerts/{alert_id}/assign": ("opinion.respond",),
    "POST /api/v1/opinion/alerts/{alert_id}/respond": ("opinion.respond",),
    "POST /api/v1/opinion/alerts/{alert_id}/close": ("opinion.respond",),
    "POST /api/v1/opinion/alerts/{alert_id}/escalate": ("opinion.respond",),
    "GET /api/v1/opinion/topics": ("opinion.read",),
    "POST /api/v1/opinion/topics": ("opinion.respond",),
    "GET /api/v1/opinion/watch-terms": ("opinion.read",),
    "POST /api/v1/opinion/watch-terms": ("opinion.ingest",),
    "GET /console/opinion": ("opinion.read",),
    "GET /console/opinion/alerts/{alert_id}": ("opinion.read",),
    "POST /console/opinion/alerts/{alert_id}/acknowledge": ("opinion.respond",),
    "POST /console/opinion/alerts/{alert_id}/assign": ("opinion.respond",),
    "POST /console/opinion/alerts/{alert_id}/respond": ("opinion.respond",),
    "POST /console/opinion/alerts/{alert_id}/close": ("opinion.respond",),
    "POST /console/opinion/alerts/{alert_id}/escalate": ("opinion.respond",),
})


def roles_for(permission: str) -> tuple[str, ...]:
    """The roles holding ``permission``, in the order of :data:`~smartbank.security.models.ROLES`."""
    held = PERMISSIONS[permission]  # an unknown permission is a programming error: KeyError
    return tuple(r for r in ROLES if r in held)


def allows(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


def route_access(method: str, path: str) -> tuple[str, ...] | None:
    """What the operation ``method path`` (a path template) needs, or None when it has no entry."""
    return ROUTES.get(f"{'GET' if method == 'HEAD' else method} {path}")


def route_roles(access: tuple[str, ...]) -> frozenset[str] | None:
    """The roles an entry of :data:`ROUTES` admits; None when it admits anyone (public)."""
    if access == PUBLIC:
        return None
    if access == SIGNED_IN:
        return frozenset(ROLES)
    if access == STAFF:
        return frozenset(STAFF_ROLES)
    return frozenset().union(*(PERMISSIONS[p] for p in access))
