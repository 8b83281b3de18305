"""The loyalty programme (客户激励): points earned by rules on behaviours, expiry, redemption, and an exact,
reconciled points liability. The front door is :mod:`smartbank.loyalty.service`."""
