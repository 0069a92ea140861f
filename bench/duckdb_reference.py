"""The reference for ``bench/run.py``: DuckDB answering ``risk-metrics`` and the ``performance``
counts straight from an org's raw events exported to Parquet.

Its answers have the API's shapes (the frontend team's seed, ``shared/seed``): the tier counts
under ``risk_summary`` as ``critical_risk`` ... ``engaged``, the performance totals under
``reengagement_metrics`` and the funnels under ``communication_channels``. The names are
written out here, not taken from ``reengage.risk.schemas`` and ``reengage.outreach.schemas``,
so a rename there shows up as a mismatch instead of being followed silently.

No derived table, no cache: every query reads the four event tables (patients, appointments,
communications, followups) as the clinic sent them and applies the contract's definitions
(``shared/contract.md``; the Python reference is ``reengage.domain``). The benchmark times
these queries against the API and checks that both give the same numbers.

Left out: ``avg_days_to_reengage``, which needs every patient's tier at the end of every day
(at-risk spells), a per-day walk over each history that is not a fair one-query reference.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Table
from sqlalchemy.engine import make_url

from reengage.db.types import UTCDateTime
from reengage.demo.loader import TABLES
from reengage.domain.settings import OrgSettings

# The seed's key in ``risk_summary`` for each tier's count, in the seed's order.
RISK_SUMMARY_KEYS = {
    "critical": "critical_risk",
    "high": "high_risk",
    "medium": "medium_risk",
    "low": "low_risk",
    "engaged": "engaged",
}
ALERTS = (
    "missed_appointments_14d",
    "failed_communications",
    "overdue_followups",
    "no_future_appointments",
)
CHANNELS = ("sms", "email", "phone")
EXPORT_CHUNK = 200_000


# -- export --------------------------------------------------------------------------------


def export(url: str, org_id: str, folder: Path) -> dict[str, Path]:
    """Write each event table's rows of ``org_id`` to ``folder/<table>.parquet``, every column,
    timestamps as TIMESTAMPTZ (UTC). Returns the Parquet path per table."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = _export_postgres if url.startswith("postgresql") else _export_sqlite
    out: dict[str, Path] = {}
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        for table in TABLES:
            source = raw(url, org_id, table, folder)
            target = folder / f"{table.name}.parquet"
            db.execute(
                f"COPY (SELECT {_typed_columns(table)} FROM {source}) "
                f"TO '{target}' (FORMAT parquet)"
            )
            out[table.name] = target
    return out


def _typed_columns(table: Table) -> str:
    """Text as stored, cast back: instants to TIMESTAMPTZ, everything else stays text."""
    parts = []
    for column in table.columns:
        if isinstance(column.type, UTCDateTime):
            parts.append(f"CAST({column.name} AS TIMESTAMPTZ) AS {column.name}")
        else:
            parts.append(column.name)
    return ", ".join(parts)


def _export_postgres(url: str, org_id: str, table: Table, folder: Path) -> str:
    """PostgreSQL's own ``COPY ... TO STDOUT`` as CSV; DuckDB reads it back as text."""
    import psycopg
    from psycopg import sql

    path = folder / f"{table.name}.csv"
    names = [column.name for column in table.columns]
    query = sql.SQL("COPY (SELECT {} FROM {} WHERE org_id = {} ORDER BY id) TO STDOUT (FORMAT csv)")
    statement = query.format(
        sql.SQL(", ").join(sql.Identifier(name) for name in names),
        sql.Identifier(table.name),
        sql.Literal(org_id),
    )
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with (
        psycopg.connect(conninfo) as conn,
        conn.cursor() as cursor,
        path.open("wb") as out,
        cursor.copy(statement) as copy,
    ):
        for block in copy:
            out.write(block)
    columns = ", ".join(f"'{name}': 'VARCHAR'" for name in names)
    # An unquoted empty field is NULL in PostgreSQL's CSV; a quoted one is an empty string.
    return (
        f"read_csv('{path}', header = false, columns = {{{columns}}}, "
        "allow_quoted_nulls = false, quote = '\"', escape = '\"')"
    )


def _export_sqlite(url: str, org_id: str, table: Table, folder: Path) -> str:
    """SQLite's rows as text (instants are stored as ISO text), through Arrow to Parquet."""
    path = folder / f"{table.name}.raw.parquet"
    names = [column.name for column in table.columns]
    schema = pa.schema([(name, pa.string()) for name in names])
    database = make_url(url).database
    assert database, url
    conn = sqlite3.connect(database)
    try:
        cursor = conn.execute(
            f"SELECT {', '.join(names)} FROM {table.name} WHERE org_id = ? ORDER BY id", (org_id,)
        )
        with pq.ParquetWriter(path, schema) as writer:
            while rows := cursor.fetchmany(EXPORT_CHUNK):
                columns = list(zip(*rows, strict=True))
                arrays = [
                    pa.array([None if v is None else str(v) for v in values], pa.string())
                    for values in columns
                ]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    finally:
        conn.close()
    return f"read_parquet('{path}')"


# -- the queries ---------------------------------------------------------------------------


class Reference:
    """DuckDB over the exported Parquet files, for one org's settings and one as_of."""

    def __init__(
        self, files: dict[str, Path], settings: OrgSettings, as_of: datetime, threads: int = 0
    ) -> None:
        self.files = files
        self.settings = settings
        self.as_of = as_of.astimezone(UTC)
        self.zone = settings.timezone
        self.today = as_of.astimezone(ZoneInfo(settings.timezone)).date()
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        if threads:
            self.db.execute(f"SET threads = {int(threads)}")

    def close(self) -> None:
        self.db.close()

    # Literals shared by the queries.

    def _common(self) -> dict[str, str]:
        return {
            "patients": f"read_parquet('{self.files['patients']}')",
            "appointments": f"read_parquet('{self.files['appointments']}')",
            "communications": f"read_parquet('{self.files['communications']}')",
            "followups": f"read_parquet('{self.files['followups']}')",
            "as_of": f"TIMESTAMPTZ '{self.as_of.isoformat(sep=' ')}'",
            "zone": f"'{self.zone}'",
        }

    def _date(self, day: date) -> str:
        return f"DATE '{day.isoformat()}'"

    # risk-metrics ---------------------------------------------------------------------------

    def risk_metrics_sql(self) -> str:
        """Every population patient's tier and flags from events, then the counts.

        Contract readings: the population is patients with status ``active`` whose start
        (``registered_at``, else their earliest record timestamp, else when first received)
        is at or before as_of. Last contact is the latest of: ``booked_at`` of any
        appointment that exists at as_of (booked by then), ``starts_at`` of a ``completed``
        one that has started by as_of, ``sent_at`` of an inbound communication, and an
        outbound one's success time (``connected_at`` for phone, ``responded_at`` otherwise),
        each at or before as_of; with none, the start. Days are calendar days in the org's
        timezone. A future appointment exists at as_of, starts after it and is not
        ``cancelled``. A missed appointment is a ``no_show``/``late_cancelled`` one that exists
        at as_of and started in the last 14 days (as_of's date and the 13 before), counted only
        without a future appointment. A failed contact is an attempt sent in the last 14 days
        that failed by as_of or is a phone call not connected by as_of, with no contact at or
        after its ``sent_at``. A follow-up is overdue when ``due_at`` is before as_of and it
        was not completed by as_of. Priority 1 is tier ``critical`` or a missed appointment.
        """
        c = self._common()
        t = self.settings.tier_thresholds
        alert_from = self._date(self.today - timedelta(days=13))
        booked_engaged = "TRUE" if self.settings.booked_patients_are_engaged else "FALSE"
        local = f"CAST(timezone({c['zone']}, {{}}) AS DATE)"
        today = self._date(self.today)
        return f"""
WITH
a AS (SELECT patient_id, starts_at, status, booked_at FROM {c["appointments"]}),
m AS (SELECT patient_id, channel, direction, sent_at, delivered_at, opened_at, responded_at,
             connected_at, failed_at,
             CASE WHEN channel = 'phone' THEN connected_at ELSE responded_at END AS success_raw
      FROM {c["communications"]}),
f AS (SELECT patient_id, due_at, completed_at FROM {c["followups"]}),
earliest AS (
    SELECT patient_id, min(t) AS t FROM (
        SELECT patient_id, least(starts_at, booked_at) AS t FROM a
        UNION ALL
        SELECT patient_id, least(sent_at, delivered_at, opened_at, responded_at,
                                 connected_at, failed_at) FROM m
        UNION ALL
        SELECT patient_id, least(due_at, completed_at) FROM f
    ) GROUP BY patient_id
),
population AS (
    SELECT p.id, coalesce(p.registered_at, e.t, p.received_at) AS start
    FROM {c["patients"]} p LEFT JOIN earliest e ON e.patient_id = p.id
    WHERE p.status = 'active' AND coalesce(p.registered_at, e.t, p.received_at) <= {c["as_of"]}
),
contacts AS (
    SELECT patient_id, max(t) AS t FROM (
        SELECT patient_id, booked_at AS t FROM a WHERE booked_at <= {c["as_of"]}
        UNION ALL
        SELECT patient_id, starts_at FROM a
        WHERE status = 'completed' AND starts_at <= {c["as_of"]}
          AND (booked_at IS NULL OR booked_at <= {c["as_of"]})
        UNION ALL
        SELECT patient_id, sent_at FROM m
        WHERE direction = 'inbound' AND sent_at <= {c["as_of"]}
        UNION ALL
        SELECT patient_id, success_raw FROM m
        WHERE direction = 'outbound' AND success_raw <= {c["as_of"]}
    ) GROUP BY patient_id
),
future AS (
    SELECT DISTINCT patient_id FROM a
    WHERE (booked_at IS NULL OR booked_at <= {c["as_of"]}) AND starts_at > {c["as_of"]}
      AND status <> 'cancelled'
),
missed AS (
    SELECT DISTINCT patient_id FROM a
    WHERE status IN ('no_show', 'late_cancelled')
      AND (booked_at IS NULL OR booked_at <= {c["as_of"]})
      AND starts_at <= {c["as_of"]} AND {local.format("starts_at")} >= {alert_from}
),
failed_attempts AS (
    SELECT patient_id, sent_at FROM m
    WHERE direction = 'outbound' AND sent_at <= {c["as_of"]}
      AND {local.format("sent_at")} >= {alert_from}
      AND (failed_at <= {c["as_of"]}
           OR (channel = 'phone' AND (success_raw IS NULL OR success_raw > {c["as_of"]})))
),
failed AS (
    SELECT DISTINCT fa.patient_id FROM failed_attempts fa
    LEFT JOIN contacts ct ON ct.patient_id = fa.patient_id
    WHERE ct.t IS NULL OR ct.t < fa.sent_at
),
overdue AS (
    SELECT DISTINCT patient_id FROM f
    WHERE due_at < {c["as_of"]} AND (completed_at IS NULL OR completed_at > {c["as_of"]})
),
assessed AS (
    SELECT
        pop.id,
        {today} - {local.format("coalesce(ct.t, pop.start)")} AS days,
        fu.patient_id IS NOT NULL AS has_future,
        mi.patient_id IS NOT NULL AND fu.patient_id IS NULL AS missed_flag,
        fa.patient_id IS NOT NULL AS failed_flag,
        od.patient_id IS NOT NULL AS overdue_flag
    FROM population pop
    LEFT JOIN contacts ct ON ct.patient_id = pop.id
    LEFT JOIN future fu ON fu.patient_id = pop.id
    LEFT JOIN missed mi ON mi.patient_id = pop.id
    LEFT JOIN failed fa ON fa.patient_id = pop.id
    LEFT JOIN overdue od ON od.patient_id = pop.id
),
tiered AS (
    SELECT *,
        CASE
            WHEN {booked_engaged} AND has_future THEN 'engaged'
            WHEN days >= {t.critical} THEN 'critical'
            WHEN days >= {t.high} THEN 'high'
            WHEN days >= {t.medium} THEN 'medium'
            WHEN days >= {t.low} THEN 'low'
            ELSE 'engaged'
        END AS tier
    FROM assessed
)
SELECT
    count(*) FILTER (WHERE tier = 'critical') AS critical_risk,
    count(*) FILTER (WHERE tier = 'high') AS high_risk,
    count(*) FILTER (WHERE tier = 'medium') AS medium_risk,
    count(*) FILTER (WHERE tier = 'low') AS low_risk,
    count(*) FILTER (WHERE tier = 'engaged') AS engaged,
    count(*) FILTER (WHERE missed_flag) AS missed_appointments_14d,
    count(*) FILTER (WHERE failed_flag) AS failed_communications,
    count(*) FILTER (WHERE overdue_flag) AS overdue_followups,
    count(*) FILTER (WHERE NOT has_future) AS no_future_appointments,
    count(*) FILTER (WHERE tier = 'critical' OR missed_flag) AS immediate_actions_required
FROM tiered
"""

    def risk_metrics(self) -> dict[str, Any]:
        """The numbers of ``GET /risk-metrics``, at the paths and under the names of its
        response (``risk_summary.critical_risk``, ..., ``alerts.*``)."""
        row = self._one(self.risk_metrics_sql())
        return {
            "risk_summary": {key: row[key] for key in RISK_SUMMARY_KEYS.values()},
            "alerts": {name: row[name] for name in ALERTS},
            "immediate_actions_required": row["immediate_actions_required"],
        }

    # performance ----------------------------------------------------------------------------

    def performance_sql(self, days: int) -> str:
        """Funnels of the attempts sent in the last ``days`` days, and their conversions.

        Contract readings: an attempt is an outbound communication; it is in the window when
        ``sent_at`` is at or before as_of and its local date is one of the ``days`` calendar
        days ending on as_of's date. As of as_of: sms ``delivered`` = delivered_at or
        responded_at, email ``opened`` = opened_at or responded_at, ``responded`` =
        responded_at, phone ``connected`` = connected_at, each at or before as_of. A successful
        contact (its success time at or before as_of) converts when the same patient has an
        appointment with ``booked_at`` after the success time, at or before as_of, on or before
        the local date ``attribution_window_days`` after the success's date, and before the
        patient's next successful contact (the next by (success time, id) among attempts sent
        by as_of). Rates are percentages rounded half up to one decimal from the exact
        fraction, null when the denominator is 0.
        """
        c = self._common()
        first_day = self._date(self.today - timedelta(days=days - 1))
        today = self._date(self.today)
        window = self.settings.attribution_window_days
        local = f"CAST(timezone({c['zone']}, {{}}) AS DATE)"

        def rate(numerator: str, denominator: str) -> str:
            return (
                f"CASE WHEN {denominator} = 0 THEN NULL "
                f"ELSE ((2000 * {numerator} + {denominator}) // (2 * {denominator})) / 10 END"
            )

        return f"""
WITH
attempts AS (
    SELECT id, patient_id, channel, sent_at, delivered_at, opened_at, responded_at,
           connected_at,
           CASE WHEN (CASE WHEN channel = 'phone' THEN connected_at ELSE responded_at END)
                     <= {c["as_of"]}
                THEN (CASE WHEN channel = 'phone' THEN connected_at ELSE responded_at END)
           END AS success
    FROM {c["communications"]}
    WHERE direction = 'outbound' AND sent_at <= {c["as_of"]}
),
successes AS (
    SELECT id, patient_id, success,
           lead(success) OVER (PARTITION BY patient_id ORDER BY success, id) AS next_success
    FROM attempts WHERE success IS NOT NULL
),
windowed AS (
    SELECT * FROM attempts
    WHERE {local.format("sent_at")} BETWEEN {first_day} AND {today}
),
converted AS (
    SELECT DISTINCT s.id FROM successes s
    JOIN windowed w ON w.id = s.id
    JOIN (SELECT patient_id, booked_at FROM {c["appointments"]} WHERE booked_at IS NOT NULL) b
      ON b.patient_id = s.patient_id
     AND b.booked_at > s.success AND b.booked_at <= {c["as_of"]}
     AND {local.format("b.booked_at")} <= {local.format("s.success")} + {window}
     AND (s.next_success IS NULL OR b.booked_at < s.next_success)
),
funnel AS (
    SELECT
        w.channel,
        count(*) AS sent,
        count(*) FILTER (WHERE delivered_at <= {c["as_of"]} OR responded_at <= {c["as_of"]})
            AS delivered,
        count(*) FILTER (WHERE opened_at <= {c["as_of"]} OR responded_at <= {c["as_of"]})
            AS opened,
        count(*) FILTER (WHERE responded_at <= {c["as_of"]}) AS responded,
        count(*) FILTER (WHERE connected_at <= {c["as_of"]}) AS connected,
        count(cv.id) AS converted
    FROM windowed w LEFT JOIN converted cv ON cv.id = w.id
    GROUP BY w.channel
),
totals AS (
    SELECT
        coalesce(sum(sent), 0) AS attempts,
        coalesce(sum(CASE WHEN channel = 'phone' THEN connected ELSE responded END), 0)
            AS successes,
        coalesce(sum(converted), 0) AS conversions,
        coalesce(sum(sent) FILTER (WHERE channel = 'sms'), 0) AS sms_sent,
        coalesce(sum(delivered) FILTER (WHERE channel = 'sms'), 0) AS sms_delivered,
        coalesce(sum(responded) FILTER (WHERE channel = 'sms'), 0) AS sms_responded,
        coalesce(sum(sent) FILTER (WHERE channel = 'email'), 0) AS email_sent,
        coalesce(sum(opened) FILTER (WHERE channel = 'email'), 0) AS email_opened,
        coalesce(sum(responded) FILTER (WHERE channel = 'email'), 0) AS email_responded,
        coalesce(sum(sent) FILTER (WHERE channel = 'phone'), 0) AS phone_sent,
        coalesce(sum(connected) FILTER (WHERE channel = 'phone'), 0) AS phone_connected,
        coalesce(sum(converted) FILTER (WHERE channel = 'phone'), 0) AS phone_converted
    FROM funnel
)
SELECT *,
    {rate("successes", "attempts")} AS contact_success_rate,
    {rate("conversions", "successes")} AS conversion_rate,
    {rate("sms_responded", "sms_delivered")} AS sms_response_rate,
    {rate("email_responded", "email_opened")} AS email_response_rate,
    {rate("phone_converted", "phone_connected")} AS phone_conversion_rate
FROM totals
"""

    def performance(self, days: int = 30) -> dict[str, Any]:
        """The numbers of ``GET /performance`` (all but ``avg_days_to_reengage``), nested as
        in its response: totals under ``reengagement_metrics``, funnels under
        ``communication_channels``."""
        r = self._one(self.performance_sql(days))
        b = self.settings.benchmarks
        contact, conversion = r["contact_success_rate"], r["conversion_rate"]
        if contact is None or conversion is None:
            ours = "insufficient_data"
        else:
            above = (
                contact >= b.industry_avg_contact_rate,
                conversion >= b.industry_avg_conversion,
            )
            ours = (
                "above_average"
                if all(above)
                else ("below_average" if not any(above) else "average")
            )
        return {
            "period_start": (self.today - timedelta(days=days - 1)).isoformat(),
            "period_end": self.today.isoformat(),
            "reengagement_metrics": {
                "outreach_attempts": r["attempts"],
                "successful_contacts": r["successes"],
                "contact_success_rate": contact,
                "appointments_scheduled": r["conversions"],
                "conversion_rate": conversion,
            },
            "communication_channels": {
                "sms": {
                    "sent": r["sms_sent"],
                    "delivered": r["sms_delivered"],
                    "responded": r["sms_responded"],
                    "response_rate": r["sms_response_rate"],
                },
                "email": {
                    "sent": r["email_sent"],
                    "opened": r["email_opened"],
                    "responded": r["email_responded"],
                    "response_rate": r["email_response_rate"],
                },
                "phone": {
                    "attempted": r["phone_sent"],
                    "connected": r["phone_connected"],
                    "appointment_booked": r["phone_converted"],
                    "conversion_rate": r["phone_conversion_rate"],
                },
            },
            "benchmark_comparison": {
                "industry_avg_contact_rate": b.industry_avg_contact_rate,
                "industry_avg_conversion": b.industry_avg_conversion,
                "our_performance": ours,
            },
        }

    # plumbing -------------------------------------------------------------------------------

    def _one(self, query: str) -> dict[str, Any]:
        cursor = self.db.execute(query)
        names = [d[0] for d in cursor.description or ()]
        row = cursor.fetchone()
        assert row is not None
        return {
            name: (float(v) if isinstance(v, Decimal) else v)
            for name, v in zip(names, row, strict=True)
        }

    def timed(
        self, compute: Callable[[], dict[str, Any]], runs: int
    ) -> tuple[dict[str, Any], float]:
        """``compute``'s answer and the median of ``runs`` timings, in milliseconds."""
        times = []
        answer: dict[str, Any] = {}
        for _ in range(max(1, runs)):
            started = time.perf_counter()
            answer = compute()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        return answer, times[len(times) // 2]


def mismatches(api: Any, reference: Any, path: str = "") -> list[str]:
    """Every number (or value) the reference gives that the API's answer does not equal, and
    every path the reference has that the API's answer lacks (a null rate under a renamed or
    moved key is a mismatch, not a match with ``None``)."""
    out: list[str] = []
    if isinstance(reference, dict):
        if not isinstance(api, dict):
            return [f"{path or '.'}: API gave {api!r}, DuckDB an object"]
        for key, value in reference.items():
            where = f"{path}.{key}" if path else key
            if key not in api:
                out.append(f"{where}: missing from the API's answer (DuckDB {value!r})")
                continue
            out += mismatches(api[key], value, where)
        return out
    if api != reference:
        out.append(f"{path}: API {api!r} != DuckDB {reference!r}")
    return out
