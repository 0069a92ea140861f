"""One writer per org at a time: the lock every write of records or settings takes first.

A write reads before it writes (does this record exist? what were this patient's derived
rows?) and then moves org-wide rows (the daily roll-ups, the derived status). Two writes
to one patient, or two creates of one new record, interleaved on PostgreSQL, either both
read "absent" and both insert (a unique violation), or lock rows in different orders (a
deadlock). Taking one lock per org before the first read makes writes of one org run one
after the other, each seeing the last one's commit; writes of different orgs never wait
for each other. Single writes take milliseconds, so queueing them costs far less than
retrying them would, and the order is simple enough to hold in one's head.

PostgreSQL: a transaction-scoped advisory lock on the org id's 64-bit hash, released at
commit or rollback. SQLite has one writer for the whole database; what it lacks is that the
reads before the first write see the data the write will land on, so the lock starts the
write transaction at once (a write that changes nothing), and waits for the writer ahead.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_org_writes(session: Session, org_id: str) -> None:
    """Wait until no other transaction writes this org's data, and hold it until commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:org_id, 0))"),
            {"org_id": f"reengage.org:{org_id}"},
        )
    else:
        # A write that matches no row: enough for SQLite to take the database's write lock
        # (waiting, up to the connection's timeout, for the writer ahead) and keep it.
        session.execute(text("DELETE FROM derived_status WHERE 0 = 1"))
