"""Digital marketing: campaigns and journeys, channels under one contact policy, experiments, uplift targeting,
attribution and ROI. The front door is :mod:`smartbank.marketing.service`."""
