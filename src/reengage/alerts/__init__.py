"""Alerts: the rules' findings (``domain.alerts``), the inbox, the daily digest and the
outgoing webhooks that carry them to people."""
