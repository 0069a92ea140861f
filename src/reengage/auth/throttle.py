"""Failed key checks, limited per client address and per org (``limits``, a moving window).

A key's secret has 256 bits, so guessing one is hopeless; what the limits stop is a client
hammering the key check (each failure is a database read) and a scripted guess at a
leaked key's neighbours. Both the API's bearer keys and the dashboard's sign-in (which
takes a key too) count here, and both answer 429 with ``Retry-After`` once a limit is
reached, before the key is even looked at.

- Per client address: ``CLIENT_LIMIT`` failures; then that address waits, whatever key it
  sends. A clinic's misconfigured integration trips this within seconds and says why.
- Per org: ``ORG_LIMIT`` failures naming the org's key ids (a key is ``rk_<id>_<secret>``,
  and ids are not secret), from any addresses; then keys with those ids wait. A correct
  key of the org with another id is unaffected, so a distributed guess at one key cannot
  lock the whole clinic out.

Counts live in the process (with ``serve --workers N``, each worker counts its own: up to N
times the limits). A success does not reset them: the window forgets failures on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from reengage.auth.keys import PREFIX

CLIENT_LIMIT = "20/minute"
ORG_LIMIT = "200/10 minutes"
# Key ids whose org is remembered (those that failed lately): enough for any attack's
# spread, bounded so a flood of made-up ids cannot grow memory.
REMEMBERED_KEY_IDS = 10_000


class Throttled(Exception):
    """Too many failed key checks: refuse for ``retry_after`` seconds; ``scope`` says whose."""

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(retry_after, scope)
        self.retry_after = retry_after
        self.scope = scope

    def message(self) -> str:
        whose = "from this address" if self.scope == "client" else "for this key"
        return f"too many failed key checks {whose}: try again in {self.retry_after} seconds"


def key_id_of(presented: str) -> str | None:
    """The id part of ``rk_<id>_<secret>``, or None for anything else."""
    if not presented.startswith(PREFIX):
        return None
    key_id, sep, _ = presented.removeprefix(PREFIX).partition("_")
    return key_id if sep and 0 < len(key_id) <= 32 else None


class KeyFailures:
    def __init__(self, client_limit: str = CLIENT_LIMIT, org_limit: str = ORG_LIMIT) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.client_item: RateLimitItem = parse(client_limit)
        self.org_item: RateLimitItem = parse(org_limit)
        self.lock = threading.Lock()
        self.org_of: OrderedDict[str, str] = OrderedDict()

    def check(self, client: str | None, presented: str) -> None:
        """Raise ``Throttled`` when this client, or the org of the key id it presents, has
        used up its failures."""
        if client is not None and not self.limiter.test(self.client_item, "client", client):
            raise Throttled(self._wait(self.client_item, "client", client), "client")
        key_id = key_id_of(presented)
        with self.lock:
            org_id = self.org_of.get(key_id) if key_id else None
        if org_id is not None and not self.limiter.test(self.org_item, "org", org_id):
            raise Throttled(self._wait(self.org_item, "org", org_id), "org")

    def failed(self, client: str | None, presented: str, org_id: str | None) -> None:
        """Count a failed check: against the client, and against ``org_id`` when the key's
        id is one of that org's (the caller looked it up)."""
        if client is not None:
            self.limiter.hit(self.client_item, "client", client)
        key_id = key_id_of(presented)
        if org_id is None or key_id is None:
            return
        with self.lock:
            self.org_of[key_id] = org_id
            self.org_of.move_to_end(key_id)
            while len(self.org_of) > REMEMBERED_KEY_IDS:
                self.org_of.popitem(last=False)
        self.limiter.hit(self.org_item, "org", org_id)

    def _wait(self, item: RateLimitItem, *identifiers: str) -> int:
        reset_at = self.limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset_at - time.time()))
