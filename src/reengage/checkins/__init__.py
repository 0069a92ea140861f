"""Automated check-ins: campaigns, daily batches, sending, the uplift."""
