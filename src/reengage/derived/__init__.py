"""Every cache of the analytics, and the one rule that says what each may answer
(``freshness``). Depends on ``reengage.domain`` (and the models) only; see
docs/architecture.md for the picture."""
