"""Language processing for the assistant: intent classification (``intent_model``), sentiment and matching."""
