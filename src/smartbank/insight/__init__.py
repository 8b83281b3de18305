"""Customer insight: data import and cleaning, customer 360 profiles, tags, segments, value,
lifecycle, churn and propensity. The single source of what the bank knows about a customer."""
