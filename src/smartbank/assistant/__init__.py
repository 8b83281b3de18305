"""The 24x7 assistant: bilingual understanding, dialogue that acts through the bank's services, FAQ answers,
sentiment and hand-off to a human."""
