"""Date-times without an offset: refused unless their zone is known, then read as local times there.

Around the UK's clock changes a local time can be skipped (clocks forward at 01:00
GMT on the last Sunday of March) or repeated (back at 01:00 GMT on the last Sunday
of October); such a time is not one moment, so it is refused, never guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.standards import iso_datetime_in_zone, local_to_utc
from joinedup.standards.reference import canonical_iso_datetime, canonical_iso_datetime_in
from tests.standards.strategies import local_datetimes, near_valid

LONDON = "Europe/London"

# (local time in London, UTC, or None when the clocks skip or repeat it)
LONDON_EXAMPLES = [
    ("2024-01-15 09:00:00", "2024-01-15T09:00:00Z"),  # GMT
    ("2024-07-01T12:00:00", "2024-07-01T11:00:00Z"),  # BST
    ("2024-07-01T12:00:00.25", "2024-07-01T11:00:00.250000Z"),
    ("2024-03-31 00:59:59", "2024-03-31T00:59:59Z"),  # last second of GMT
    ("2024-03-31 01:00:00", None),  # clocks go forward: 01:00 to 01:59:59 never happen
    ("2024-03-31 01:30:00", None),
    ("2024-03-31 01:59:59.999999", None),
    ("2024-03-31 02:00:00", "2024-03-31T01:00:00Z"),  # first moment of BST
    ("2024-10-27 00:59:59", "2024-10-26T23:59:59Z"),  # still BST
    ("2024-10-27 01:00:00", None),  # clocks go back: 01:00 to 01:59:59 happen twice
    ("2024-10-27 01:30:00", None),
    ("2024-10-27 01:59:59", None),
    ("2024-10-27 02:00:00", "2024-10-27T02:00:00Z"),  # GMT again
    ("1800-06-01 12:00:00", "1800-06-01T12:01:15Z"),  # before railway time: London mean time
    ("2024-07-01T12:00:00+02:00", "2024-07-01T10:00:00Z"),  # an offset wins over the zone
    ("2024-10-27T01:30:00+01:00", "2024-10-27T00:30:00Z"),  # and settles a repeated time
    ("2024-10-27T01:30:00Z", "2024-10-27T01:30:00Z"),
    ("2024-02-30 12:00:00", None),  # not a date
]


def _macro(con: duckdb.DuckDBPyConnection, value: str, zone: str) -> str | None:
    return con.execute(f"SELECT {iso_datetime_in_zone('CAST(? AS VARCHAR)', zone)}", [value]).fetchone()[0]  # type: ignore[index]


@pytest.mark.parametrize(("local", "utc"), LONDON_EXAMPLES)
def test_local_times_in_london(local: str, utc: str | None, con: duckdb.DuckDBPyConnection) -> None:
    assert canonical_iso_datetime_in(local, LONDON) == utc
    assert _macro(con, local, LONDON) == utc


def test_without_a_zone_a_value_needs_its_offset(con: duckdb.DuckDBPyConnection) -> None:
    assert canonical_iso_datetime("2024-07-01T12:00:00") is None
    assert con.execute("SELECT jd_iso_datetime('2024-07-01T12:00:00')").fetchone() == (None,)
    assert canonical_iso_datetime("2024-07-01T12:00:00+01:00") == "2024-07-01T11:00:00Z"


def test_local_to_utc_on_parsed_timestamps(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        f"SELECT {local_to_utc('t', LONDON)} FROM unnest(CAST(? AS TIMESTAMP[])) WITH ORDINALITY AS u(t, i) ORDER BY i",
        [[datetime(2024, 7, 1, 12), datetime(2024, 3, 31, 1, 30), datetime(2024, 10, 27, 1, 30), None]],
    ).fetchall()
    assert [r[0] for r in rows] == [datetime(2024, 7, 1, 11), None, None, None]


ZONES = ["Europe/London", "UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Europe/Dublin"]


def _near_clock_changes() -> st.SearchStrategy[str]:
    """Local times within a few hours of 01:00 on the Sundays when zones change their clocks."""

    def around(year: int, month: int, week: int, minutes: int, micro: int) -> str:
        first_sunday = next(d for d in range(1, 8) if datetime(year, month, d).weekday() == 6)
        day = first_sunday + 7 * week
        if month in (3, 10) and day + 7 <= 31:
            day += 7 * ((31 - day) // 7) if week == 3 else 0  # the last Sunday, as in the UK
        moment = datetime(year, month, day) + timedelta(minutes=minutes, microseconds=micro)
        return moment.isoformat(" ")

    return st.builds(
        around, st.integers(1972, 2090), st.sampled_from([3, 4, 9, 10, 11]), st.integers(0, 3),
        st.integers(-180, 300), st.integers(0, 999_999),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    values=st.lists(
        st.one_of(local_datetimes(1900, 2100), _near_clock_changes(), near_valid("iso_datetime")),
        min_size=1,
        max_size=50,
    ),
)
def test_sql_agrees_with_the_reference_in_every_zone(
    zone: str, values: list[str], con: duckdb.DuckDBPyConnection
) -> None:
    rows = con.execute(
        (
            f"SELECT {iso_datetime_in_zone('v', zone)} "
            "FROM unnest(CAST(? AS VARCHAR[])) WITH ORDINALITY AS t(v, i) ORDER BY i"
        ),
        [[v.strip() for v in values]],
    ).fetchall()
    expected = [canonical_iso_datetime_in(v.strip(), zone) for v in values]
    disagreements = [(v, e, a) for v, e, (a,) in zip(values, expected, rows, strict=True) if e != a]
    assert not disagreements, f"(input, reference, sql): {disagreements}"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), st.one_of(local_datetimes(1900, 2100), _near_clock_changes()))
def test_a_local_time_read_is_that_local_time_again(zone: str, local: str) -> None:
    # Independent of how the reference finds the offset: back from UTC to the zone.
    utc = canonical_iso_datetime_in(local, zone)
    written = datetime.fromisoformat(local).replace(microsecond=0)
    if utc is None:
        # Refused only when no moment, or more than one, shows that local time.
        readings = {
            (written - offset).replace(tzinfo=UTC)
            for offset in (timedelta(hours=h, minutes=m) for h in range(-14, 15) for m in (0, 30, 45))
        }
        matching = [r for r in readings if r.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == written]
        assert len(matching) != 1, (local, matching)
    else:
        moment = datetime.fromisoformat(utc.replace("Z", "+00:00")).replace(microsecond=0)
        assert moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == written
