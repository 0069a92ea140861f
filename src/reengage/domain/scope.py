"""What every figure is asked about: which org, under which settings, as of when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from reengage.domain.calendar import end_of_day, local_date
from reengage.domain.settings import OrgSettings


@dataclass(frozen=True)
class Scope:
    """One question's org, its settings and its instant. The services, the caches and the
    references all take this one value (there used to be three names for it)."""

    org_id: str
    settings: OrgSettings
    as_of: datetime

    @property
    def today(self) -> date:
        """as_of's calendar day in the org's timezone."""
        return local_date(self.as_of, self.settings.zone())

    @property
    def day_end(self) -> datetime:
        return end_of_day(self.today, self.settings.zone())

    @property
    def ends_its_day(self) -> bool:
        """as_of is its day's last instant: nothing later that day can change a day's count."""
        return self.as_of >= self.day_end

    def shown(self) -> datetime:
        """as_of as the clinic reads it: in the org's timezone."""
        return self.as_of.astimezone(self.settings.zone())
