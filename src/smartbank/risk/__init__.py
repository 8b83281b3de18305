"""Risk control: the inline decision on every customer payment (fraud model, rules, limits), the alert
queue and cases, monitoring (KRIs, model drift) and the risk register.

Code outside the domain uses :mod:`smartbank.risk.service` only; the other modules are private to it.
"""
