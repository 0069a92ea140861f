"""Rules a record must satisfy beyond its own field types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from reengage.domain.vocabulary import COMMUNICATION_TIMESTAMPS, allowed_timestamps


def communication_problems(
    channel: str,
    direction: str,
    sent_at: datetime,
    timestamps: Mapping[str, datetime | None],
    failure_reason: str | None,
) -> list[tuple[str, str]]:
    """(field, reason) for each way a communication's timestamps break the contract.

    An inbound communication carries only ``sent_at``; an outbound one only the timestamps
    its channel allows (sms: delivered, responded, failed; email: also opened; phone:
    connected, failed), none of them before ``sent_at``.
    """
    problems: list[tuple[str, str]] = []
    allowed = allowed_timestamps(channel, direction)
    for field in COMMUNICATION_TIMESTAMPS:
        value = timestamps.get(field)
        if value is None:
            continue
        if field not in allowed:
            if direction == "inbound":
                reason = "an inbound communication carries only sent_at"
            else:
                fits = ", ".join(sorted(allowed))
                reason = f"does not fit channel '{channel}' (an outbound {channel} has: {fits})"
            problems.append((field, reason))
        elif value < sent_at:
            problems.append((field, "must not be before sent_at"))
    if failure_reason is not None and timestamps.get("failed_at") is None:
        problems.append(("failure_reason", "needs failed_at: only a failed attempt has a reason"))
    return problems
