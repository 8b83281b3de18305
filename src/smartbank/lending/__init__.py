"""Lending: loan products and pricing, online applications with automatic credit decisions, the loan
officer queue, disbursement, repayment schedules, delinquency, classification and early warning."""
