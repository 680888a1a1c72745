"""Incident context: SLAs, notification deadlines, timeline, reviews and metrics, all
derived from the custody ledger."""
