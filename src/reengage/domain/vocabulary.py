"""The contract's closed vocabularies: every enum a record may carry, and which
timestamps each kind of communication may have."""

from __future__ import annotations

from typing import Literal, get_args

PatientStatus = Literal["active", "discharged", "inactive", "deceased"]
AppointmentStatus = Literal["scheduled", "completed", "no_show", "late_cancelled", "cancelled"]
Channel = Literal["sms", "email", "phone"]
Direction = Literal["outbound", "inbound"]
Role = Literal["admin", "staff", "ingest", "viewer"]

# The tuples the code loops over, read from the types above (written once).
CHANNELS: tuple[str, ...] = get_args(Channel)
ROLES: tuple[str, ...] = get_args(Role)

# Optional timestamps of a communication, besides the required ``sent_at``.
COMMUNICATION_TIMESTAMPS: tuple[str, ...] = (
    "delivered_at",
    "opened_at",
    "responded_at",
    "connected_at",
    "failed_at",
)

# Which optional timestamps an outbound communication may carry, per channel.
# An inbound communication carries none of them: only ``sent_at``.
OUTBOUND_TIMESTAMPS: dict[str, frozenset[str]] = {
    "sms": frozenset({"delivered_at", "responded_at", "failed_at"}),
    "email": frozenset({"delivered_at", "opened_at", "responded_at", "failed_at"}),
    "phone": frozenset({"connected_at", "failed_at"}),
}


def allowed_timestamps(channel: str, direction: str) -> frozenset[str]:
    """The optional timestamps a communication of this channel and direction may carry."""
    if direction == "inbound":
        return frozenset()
    return OUTBOUND_TIMESTAMPS[channel]
