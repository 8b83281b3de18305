"""Public-opinion monitoring (舆情): mentions of the bank from feeds, sentiment and topics, volume spikes, and
the alert queue with its response workflow. The front door is :mod:`smartbank.opinion.service`."""
