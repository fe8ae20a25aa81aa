"""The pure scheduling core (`orchrecon.scheduling.firetimes`), against docs/runs.md (Debian cron's DST rules).

Every expected instant below was derived by hand from the IANA rules and checked with zoneinfo, e.g.
`datetime(2026, 3, 29, 1, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Prague"))` is 03:00+02:00.

Transitions used (2026 unless noted):
- Europe/Prague: 03-29 01:00Z local 02:00 -> 03:00 (+01 -> +02); 10-25 01:00Z local 03:00 -> 02:00 (+02 -> +01).
- America/New_York: 03-08 07:00Z local 02:00 -> 03:00 (-05 -> -04); 11-01 06:00Z local 02:00 -> 01:00.
- Australia/Lord_Howe: 04-04 15:00Z local 04-05 02:00 -> 01:30 (+11 -> +10:30);
  10-03 15:30Z local 10-04 02:00 -> 02:30 (+10:30 -> +11).
- Pacific/Chatham: 04-04 14:00Z local 04-05 03:45 -> 02:45 (+13:45 -> +12:45);
  09-26 14:00Z local 09-27 02:45 -> 03:45 (+12:45 -> +13:45).
- America/Sao_Paulo 2018 (DST abolished in 2019): 02-18 02:00Z local 02-18 00:00 -> 02-17 23:00 (-02 -> -03);
  11-04 03:00Z local 00:00 -> 01:00 (-03 -> -02), so that local midnight does not exist.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from orchrecon.scheduling.firetimes import dst_transitions, fire_times, next_fire_times

PRAGUE = "Europe/Prague"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"
CHATHAM = "Pacific/Chatham"
SAO_PAULO = "America/Sao_Paulo"


def _at(text: str) -> datetime:
    """`2026-03-29T01:00Z` (or with seconds) as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _utc(t: datetime) -> str:
    assert t.tzinfo is UTC, f"{t!r} is not tzinfo=datetime.UTC"
    assert (t.second, t.microsecond) == (0, 0), f"{t!r} is not a whole minute"
    return t.strftime("%Y-%m-%dT%H:%MZ")


def _local(t: datetime, zone: str) -> str:
    return t.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes")


def _check(zone: str, cron: str, after: datetime, expected_utc: list[str]) -> list[datetime]:
    got = next_fire_times(cron, zone, after, len(expected_utc))
    assert [_utc(t) for t in got] == expected_utc
    assert list(itertools.islice(fire_times(cron, zone, after), len(expected_utc))) == got
    return got


# (zone, cron, after, next fire times in UTC, the same in local time)
DST_CASES = [
    # --- Europe/Prague ---
    pytest.param(
        PRAGUE,
        "30 2 * * *",
        "2026-03-27T12:00Z",
        ["2026-03-28T01:30Z", "2026-03-29T01:00Z", "2026-03-30T00:30Z"],
        ["2026-03-28T02:30+01:00", "2026-03-29T03:00+02:00", "2026-03-30T02:30+02:00"],
        id="prague-spring-wallclock-in-gap-fires-at-03:00-once",
    ),
    pytest.param(
        PRAGUE,
        "30 2 * * *",
        "2026-10-24T12:00Z",
        ["2026-10-25T00:30Z", "2026-10-26T01:30Z"],
        ["2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00"],
        id="prague-fall-wallclock-repeated-fires-once-first-copy",
    ),
    pytest.param(
        PRAGUE,
        "30 2 * * *",
        "2026-10-25T00:30Z",
        ["2026-10-26T01:30Z"],
        ["2026-10-26T02:30+01:00"],
        id="prague-fall-wallclock-after-first-copy-skips-second-copy",
    ),
    pytest.param(
        PRAGUE,
        "30 2 * * *",
        "2026-10-25T01:15Z",
        ["2026-10-26T01:30Z"],
        ["2026-10-26T02:30+01:00"],
        id="prague-fall-wallclock-after-inside-second-copy",
    ),
    pytest.param(
        PRAGUE,
        "*/15 * * * *",
        "2026-03-29T00:30Z",
        ["2026-03-29T00:45Z", "2026-03-29T01:00Z", "2026-03-29T01:15Z"],
        ["2026-03-29T01:45+01:00", "2026-03-29T03:00+02:00", "2026-03-29T03:15+02:00"],
        id="prague-spring-realtime-every-15-nothing-in-skipped-hour",
    ),
    pytest.param(
        PRAGUE,
        "30 * * * *",
        "2026-03-28T23:45Z",
        ["2026-03-29T00:30Z", "2026-03-29T01:30Z"],
        ["2026-03-29T01:30+01:00", "2026-03-29T03:30+02:00"],
        id="prague-spring-realtime-half-past-skips-02:30",
    ),
    pytest.param(
        PRAGUE,
        "30 * * * *",
        "2026-10-24T23:00Z",
        ["2026-10-24T23:30Z", "2026-10-25T00:30Z", "2026-10-25T01:30Z", "2026-10-25T02:30Z"],
        ["2026-10-25T01:30+02:00", "2026-10-25T02:30+02:00", "2026-10-25T02:30+01:00", "2026-10-25T03:30+01:00"],
        id="prague-fall-realtime-half-past-both-copies",
    ),
    pytest.param(
        PRAGUE,
        "*/20 2 * * *",
        "2026-10-24T12:00Z",
        [
            "2026-10-25T00:00Z",
            "2026-10-25T00:20Z",
            "2026-10-25T00:40Z",
            "2026-10-25T01:00Z",
            "2026-10-25T01:20Z",
            "2026-10-25T01:40Z",
            "2026-10-26T01:00Z",
        ],
        [
            "2026-10-25T02:00+02:00",
            "2026-10-25T02:20+02:00",
            "2026-10-25T02:40+02:00",
            "2026-10-25T02:00+01:00",
            "2026-10-25T02:20+01:00",
            "2026-10-25T02:40+01:00",
            "2026-10-26T02:00+01:00",
        ],
        id="prague-fall-minute-star-fixed-hour-is-realtime-both-copies",
    ),
    pytest.param(
        PRAGUE,
        "*/20 2 * * *",
        "2026-10-25T00:45Z",
        ["2026-10-25T01:00Z", "2026-10-25T01:20Z", "2026-10-25T01:40Z", "2026-10-26T01:00Z"],
        ["2026-10-25T02:00+01:00", "2026-10-25T02:20+01:00", "2026-10-25T02:40+01:00", "2026-10-26T02:00+01:00"],
        id="prague-fall-realtime-after-inside-first-copy-gets-second-copy",
    ),
    pytest.param(
        PRAGUE,
        "30 2 * * *",
        "2026-03-29T00:59:30Z",
        ["2026-03-29T01:00Z", "2026-03-30T00:30Z"],
        ["2026-03-29T03:00+02:00", "2026-03-30T02:30+02:00"],
        id="prague-spring-wallclock-after-just-before-gap",
    ),
    pytest.param(
        PRAGUE,
        "*/30 2 * * *",
        "2026-03-28T12:00Z",
        ["2026-03-30T00:00Z", "2026-03-30T00:30Z", "2026-03-31T00:00Z"],
        ["2026-03-30T02:00+02:00", "2026-03-30T02:30+02:00", "2026-03-31T02:00+02:00"],
        id="prague-spring-minute-star-fixed-hour-is-realtime-nothing-on-gap-day",
    ),
    pytest.param(
        PRAGUE,
        "0 * * * *",
        "2026-03-28T23:30Z",
        ["2026-03-29T00:00Z", "2026-03-29T01:00Z", "2026-03-29T02:00Z"],
        ["2026-03-29T01:00+01:00", "2026-03-29T03:00+02:00", "2026-03-29T04:00+02:00"],
        id="prague-spring-hourly",
    ),
    pytest.param(
        PRAGUE,
        "0 * * * *",
        "2026-10-24T23:30Z",
        ["2026-10-25T00:00Z", "2026-10-25T01:00Z", "2026-10-25T02:00Z"],
        ["2026-10-25T02:00+02:00", "2026-10-25T02:00+01:00", "2026-10-25T03:00+01:00"],
        id="prague-fall-hourly",
    ),
    pytest.param(
        PRAGUE,
        "0,30 2 * * *",
        "2026-03-28T12:00Z",
        ["2026-03-29T01:00Z", "2026-03-30T00:00Z", "2026-03-30T00:30Z"],
        ["2026-03-29T03:00+02:00", "2026-03-30T02:00+02:00", "2026-03-30T02:30+02:00"],
        id="prague-spring-two-slots-in-gap-fire-once",
    ),
    pytest.param(
        PRAGUE,
        "0 2,3 * * *",
        "2026-03-28T12:00Z",
        ["2026-03-29T01:00Z", "2026-03-30T00:00Z", "2026-03-30T01:00Z"],
        ["2026-03-29T03:00+02:00", "2026-03-30T02:00+02:00", "2026-03-30T03:00+02:00"],
        id="prague-spring-gap-slot-and-03:00-slot-same-instant-fire-once",
    ),
    pytest.param(
        PRAGUE,
        "30 2 * * sun",
        "2026-03-20T00:00Z",
        ["2026-03-22T01:30Z", "2026-03-29T01:00Z", "2026-04-05T00:30Z"],
        ["2026-03-22T02:30+01:00", "2026-03-29T03:00+02:00", "2026-04-05T02:30+02:00"],
        id="prague-spring-weekly-sunday-in-gap",
    ),
    pytest.param(
        PRAGUE,
        "30 2 29 3 *",
        "2026-01-01T00:00Z",
        ["2026-03-29T01:00Z", "2027-03-29T00:30Z", "2028-03-29T00:30Z"],
        ["2026-03-29T03:00+02:00", "2027-03-29T02:30+02:00", "2028-03-29T02:30+02:00"],
        id="prague-yearly-date-in-gap-only-in-2026",
    ),
    # --- America/New_York ---
    pytest.param(
        NEW_YORK,
        "30 2 * * *",
        "2026-03-07T00:00Z",
        ["2026-03-07T07:30Z", "2026-03-08T07:00Z", "2026-03-09T06:30Z"],
        ["2026-03-07T02:30-05:00", "2026-03-08T03:00-04:00", "2026-03-09T02:30-04:00"],
        id="new-york-spring-wallclock-in-gap",
    ),
    pytest.param(
        NEW_YORK,
        "30 1 * * *",
        "2026-10-31T12:00Z",
        ["2026-11-01T05:30Z", "2026-11-02T06:30Z"],
        ["2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"],
        id="new-york-fall-wallclock-repeated-once",
    ),
    pytest.param(
        NEW_YORK,
        "0 1 * * *",
        "2026-11-01T05:00Z",
        ["2026-11-02T06:00Z"],
        ["2026-11-02T01:00-05:00"],
        id="new-york-fall-wallclock-after-first-copy-skips-second",
    ),
    pytest.param(
        NEW_YORK,
        "*/15 * * * *",
        "2026-03-08T06:30Z",
        ["2026-03-08T06:45Z", "2026-03-08T07:00Z", "2026-03-08T07:15Z"],
        ["2026-03-08T01:45-05:00", "2026-03-08T03:00-04:00", "2026-03-08T03:15-04:00"],
        id="new-york-spring-realtime-every-15",
    ),
    pytest.param(
        NEW_YORK,
        "30 * * * *",
        "2026-11-01T04:00Z",
        ["2026-11-01T04:30Z", "2026-11-01T05:30Z", "2026-11-01T06:30Z", "2026-11-01T07:30Z"],
        ["2026-11-01T00:30-04:00", "2026-11-01T01:30-04:00", "2026-11-01T01:30-05:00", "2026-11-01T02:30-05:00"],
        id="new-york-fall-realtime-both-copies",
    ),
    pytest.param(
        NEW_YORK,
        "0 * * * *",
        "2026-03-08T05:30Z",
        ["2026-03-08T06:00Z", "2026-03-08T07:00Z", "2026-03-08T08:00Z"],
        ["2026-03-08T01:00-05:00", "2026-03-08T03:00-04:00", "2026-03-08T04:00-04:00"],
        id="new-york-spring-hourly",
    ),
    pytest.param(
        NEW_YORK,
        "0 * * * *",
        "2026-11-01T04:30Z",
        ["2026-11-01T05:00Z", "2026-11-01T06:00Z", "2026-11-01T07:00Z"],
        ["2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00", "2026-11-01T02:00-05:00"],
        id="new-york-fall-hourly",
    ),
    pytest.param(
        NEW_YORK,
        "15,45 2 * * *",
        "2026-03-08T00:00Z",
        ["2026-03-08T07:00Z", "2026-03-09T06:15Z", "2026-03-09T06:45Z"],
        ["2026-03-08T03:00-04:00", "2026-03-09T02:15-04:00", "2026-03-09T02:45-04:00"],
        id="new-york-spring-two-slots-in-gap-fire-once",
    ),
    pytest.param(
        NEW_YORK,
        "0 1,2,3 * * *",
        "2026-03-08T00:00Z",
        ["2026-03-08T06:00Z", "2026-03-08T07:00Z", "2026-03-09T05:00Z"],
        ["2026-03-08T01:00-05:00", "2026-03-08T03:00-04:00", "2026-03-09T01:00-04:00"],
        id="new-york-spring-02:00-and-03:00-same-instant-fire-once",
    ),
    # --- Australia/Lord_Howe: 30-minute shifts ---
    pytest.param(
        LORD_HOWE,
        "15 2 * * *",
        "2026-10-02T00:00Z",
        ["2026-10-02T15:45Z", "2026-10-03T15:30Z", "2026-10-04T15:15Z"],
        ["2026-10-03T02:15+10:30", "2026-10-04T02:30+11:00", "2026-10-05T02:15+11:00"],
        id="lord-howe-spring-wallclock-in-gap-fires-at-02:30",
    ),
    pytest.param(
        LORD_HOWE,
        "0,15,30 2 * * *",
        "2026-10-03T00:00Z",
        ["2026-10-03T15:30Z", "2026-10-04T15:00Z", "2026-10-04T15:15Z", "2026-10-04T15:30Z"],
        ["2026-10-04T02:30+11:00", "2026-10-05T02:00+11:00", "2026-10-05T02:15+11:00", "2026-10-05T02:30+11:00"],
        id="lord-howe-spring-two-gap-slots-and-02:30-fire-once",
    ),
    pytest.param(
        LORD_HOWE,
        "45 1 * * *",
        "2026-04-03T12:00Z",
        ["2026-04-03T14:45Z", "2026-04-04T14:45Z", "2026-04-05T15:15Z"],
        ["2026-04-04T01:45+11:00", "2026-04-05T01:45+11:00", "2026-04-06T01:45+10:30"],
        id="lord-howe-fall-wallclock-repeated-half-hour-once",
    ),
    pytest.param(
        LORD_HOWE,
        "30 * * * *",
        "2026-04-04T13:00Z",
        ["2026-04-04T13:30Z", "2026-04-04T14:30Z", "2026-04-04T15:00Z", "2026-04-04T16:00Z"],
        ["2026-04-05T00:30+11:00", "2026-04-05T01:30+11:00", "2026-04-05T01:30+10:30", "2026-04-05T02:30+10:30"],
        id="lord-howe-fall-realtime-half-past-both-copies",
    ),
    pytest.param(
        LORD_HOWE,
        "*/15 * * * *",
        "2026-04-04T14:15Z",
        ["2026-04-04T14:30Z", "2026-04-04T14:45Z", "2026-04-04T15:00Z", "2026-04-04T15:15Z", "2026-04-04T15:30Z"],
        [
            "2026-04-05T01:30+11:00",
            "2026-04-05T01:45+11:00",
            "2026-04-05T01:30+10:30",
            "2026-04-05T01:45+10:30",
            "2026-04-05T02:00+10:30",
        ],
        id="lord-howe-fall-realtime-every-15-both-copies",
    ),
    pytest.param(
        LORD_HOWE,
        "*/15 * * * *",
        "2026-10-03T15:00Z",
        ["2026-10-03T15:15Z", "2026-10-03T15:30Z", "2026-10-03T15:45Z"],
        ["2026-10-04T01:45+10:30", "2026-10-04T02:30+11:00", "2026-10-04T02:45+11:00"],
        id="lord-howe-spring-realtime-every-15-skips-02:00-02:15",
    ),
    pytest.param(
        LORD_HOWE,
        "0 * * * *",
        "2026-10-03T14:00Z",
        ["2026-10-03T14:30Z", "2026-10-03T16:00Z", "2026-10-03T17:00Z"],
        ["2026-10-04T01:00+10:30", "2026-10-04T03:00+11:00", "2026-10-04T04:00+11:00"],
        id="lord-howe-spring-hourly-90-minutes-apart",
    ),
    pytest.param(
        LORD_HOWE,
        "0 * * * *",
        "2026-04-04T13:30Z",
        ["2026-04-04T14:00Z", "2026-04-04T15:30Z", "2026-04-04T16:30Z"],
        ["2026-04-05T01:00+11:00", "2026-04-05T02:00+10:30", "2026-04-05T03:00+10:30"],
        id="lord-howe-fall-hourly-90-minutes-apart",
    ),
    # --- Pacific/Chatham: transitions at 02:45 local ---
    pytest.param(
        CHATHAM,
        "0 3 * * *",
        "2026-09-25T00:00Z",
        ["2026-09-25T14:15Z", "2026-09-26T14:00Z", "2026-09-27T13:15Z"],
        ["2026-09-26T03:00+12:45", "2026-09-27T03:45+13:45", "2026-09-28T03:00+13:45"],
        id="chatham-spring-wallclock-in-gap-fires-at-03:45",
    ),
    pytest.param(
        CHATHAM,
        "0,30 3 * * *",
        "2026-09-26T00:00Z",
        ["2026-09-26T14:00Z", "2026-09-27T13:15Z", "2026-09-27T13:45Z"],
        ["2026-09-27T03:45+13:45", "2026-09-28T03:00+13:45", "2026-09-28T03:30+13:45"],
        id="chatham-spring-two-slots-in-gap-fire-once",
    ),
    pytest.param(
        CHATHAM,
        "50 2,3 * * *",
        "2026-09-26T00:00Z",
        ["2026-09-26T14:00Z", "2026-09-26T14:05Z", "2026-09-27T13:05Z", "2026-09-27T14:05Z"],
        ["2026-09-27T03:45+13:45", "2026-09-27T03:50+13:45", "2026-09-28T02:50+13:45", "2026-09-28T03:50+13:45"],
        id="chatham-spring-02:50-in-gap-03:50-after-gap",
    ),
    pytest.param(
        CHATHAM,
        "0 3 * * *",
        "2026-04-03T12:00Z",
        ["2026-04-03T13:15Z", "2026-04-04T13:15Z", "2026-04-05T14:15Z"],
        ["2026-04-04T03:00+13:45", "2026-04-05T03:00+13:45", "2026-04-06T03:00+12:45"],
        id="chatham-fall-wallclock-repeated-once",
    ),
    pytest.param(
        CHATHAM,
        "*/30 * * * *",
        "2026-04-04T13:00Z",
        ["2026-04-04T13:15Z", "2026-04-04T13:45Z", "2026-04-04T14:15Z", "2026-04-04T14:45Z", "2026-04-04T15:15Z"],
        [
            "2026-04-05T03:00+13:45",
            "2026-04-05T03:30+13:45",
            "2026-04-05T03:00+12:45",
            "2026-04-05T03:30+12:45",
            "2026-04-05T04:00+12:45",
        ],
        id="chatham-fall-realtime-every-30-both-copies",
    ),
    pytest.param(
        CHATHAM,
        "*/15 * * * *",
        "2026-09-26T13:30Z",
        ["2026-09-26T13:45Z", "2026-09-26T14:00Z", "2026-09-26T14:15Z"],
        ["2026-09-27T02:30+12:45", "2026-09-27T03:45+13:45", "2026-09-27T04:00+13:45"],
        id="chatham-spring-realtime-every-15",
    ),
    pytest.param(
        CHATHAM,
        "0 * * * *",
        "2026-09-26T12:30Z",
        ["2026-09-26T13:15Z", "2026-09-26T14:15Z", "2026-09-26T15:15Z"],
        ["2026-09-27T02:00+12:45", "2026-09-27T04:00+13:45", "2026-09-27T05:00+13:45"],
        id="chatham-spring-hourly-skips-03:00",
    ),
    pytest.param(
        CHATHAM,
        "0 * * * *",
        "2026-04-04T12:30Z",
        ["2026-04-04T13:15Z", "2026-04-04T14:15Z", "2026-04-04T15:15Z"],
        ["2026-04-05T03:00+13:45", "2026-04-05T03:00+12:45", "2026-04-05T04:00+12:45"],
        id="chatham-fall-hourly-03:00-twice",
    ),
    # --- America/Sao_Paulo 2018: transitions at local midnight ---
    pytest.param(
        SAO_PAULO,
        "@daily",
        "2018-11-02T12:00Z",
        ["2018-11-03T03:00Z", "2018-11-04T03:00Z", "2018-11-05T02:00Z"],
        ["2018-11-03T00:00-03:00", "2018-11-04T01:00-02:00", "2018-11-05T00:00-02:00"],
        id="sao-paulo-2018-midnight-in-gap-fires-at-01:00",
    ),
    pytest.param(
        SAO_PAULO,
        "30 23 * * *",
        "2018-02-16T12:00Z",
        ["2018-02-17T01:30Z", "2018-02-18T01:30Z", "2018-02-19T02:30Z"],
        ["2018-02-16T23:30-02:00", "2018-02-17T23:30-02:00", "2018-02-18T23:30-03:00"],
        id="sao-paulo-2018-fall-wallclock-repeated-23:30-once",
    ),
    pytest.param(
        SAO_PAULO,
        "0 * * * *",
        "2018-11-04T01:30Z",
        ["2018-11-04T02:00Z", "2018-11-04T03:00Z", "2018-11-04T04:00Z"],
        ["2018-11-03T23:00-03:00", "2018-11-04T01:00-02:00", "2018-11-04T02:00-02:00"],
        id="sao-paulo-2018-spring-hourly-no-midnight",
    ),
    pytest.param(
        SAO_PAULO,
        "0 * * * *",
        "2018-02-18T00:30Z",
        ["2018-02-18T01:00Z", "2018-02-18T02:00Z", "2018-02-18T03:00Z"],
        ["2018-02-17T23:00-02:00", "2018-02-17T23:00-03:00", "2018-02-18T00:00-03:00"],
        id="sao-paulo-2018-fall-hourly-23:00-twice",
    ),
    pytest.param(
        SAO_PAULO,
        "@daily",
        "2026-11-03T12:00Z",
        ["2026-11-04T03:00Z", "2026-11-05T03:00Z"],
        ["2026-11-04T00:00-03:00", "2026-11-05T00:00-03:00"],
        id="sao-paulo-2026-no-dst-any-more",
    ),
]


@pytest.mark.parametrize(("zone", "cron", "after", "expected_utc", "expected_local"), DST_CASES)
def test_dst_boundaries(zone: str, cron: str, after: str, expected_utc: list[str], expected_local: list[str]) -> None:
    got = _check(zone, cron, _at(after), expected_utc)
    assert [_local(t, zone) for t in got] == expected_local


# (zone, cron, after, next fire times in UTC)
CALENDAR_CASES = [
    pytest.param("UTC", "@hourly", "2026-01-15T10:20Z", ["2026-01-15T11:00Z", "2026-01-15T12:00Z"], id="hourly"),
    pytest.param(
        "UTC",
        "@daily",
        "2026-01-15T10:20Z",
        ["2026-01-16T00:00Z", "2026-01-17T00:00Z", "2026-01-18T00:00Z"],
        id="daily",
    ),
    pytest.param("UTC", "@midnight", "2026-01-15T10:20Z", ["2026-01-16T00:00Z", "2026-01-17T00:00Z"], id="midnight"),
    pytest.param(
        "UTC",
        "@weekly",
        "2026-01-15T10:20Z",
        ["2026-01-18T00:00Z", "2026-01-25T00:00Z", "2026-02-01T00:00Z"],
        id="weekly-sundays",
    ),
    pytest.param(
        "UTC",
        "@monthly",
        "2026-01-15T10:20Z",
        ["2026-02-01T00:00Z", "2026-03-01T00:00Z", "2026-04-01T00:00Z"],
        id="monthly",
    ),
    pytest.param(
        "UTC",
        "@yearly",
        "2026-01-15T10:20Z",
        ["2027-01-01T00:00Z", "2028-01-01T00:00Z", "2029-01-01T00:00Z"],
        id="yearly",
    ),
    pytest.param("UTC", "@annually", "2026-01-15T10:20Z", ["2027-01-01T00:00Z", "2028-01-01T00:00Z"], id="annually"),
    pytest.param(
        PRAGUE,
        "@hourly",
        "2026-01-15T10:20Z",
        ["2026-01-15T11:00Z", "2026-01-15T12:00Z"],
        id="prague-hourly",
    ),
    pytest.param(
        PRAGUE,
        "@daily",
        "2026-01-15T10:20Z",
        ["2026-01-15T23:00Z", "2026-01-16T23:00Z"],
        id="prague-daily-local-midnight",
    ),
    pytest.param(
        PRAGUE,
        "@weekly",
        "2026-01-15T10:20Z",
        ["2026-01-17T23:00Z", "2026-01-24T23:00Z"],
        id="prague-weekly-local-sunday-midnight",
    ),
    pytest.param(
        PRAGUE,
        "@monthly",
        "2026-01-15T10:20Z",
        ["2026-01-31T23:00Z", "2026-02-28T23:00Z", "2026-03-31T22:00Z"],
        id="prague-monthly-across-dst",
    ),
    pytest.param(
        PRAGUE,
        "@yearly",
        "2026-01-15T10:20Z",
        ["2026-12-31T23:00Z", "2027-12-31T23:00Z"],
        id="prague-yearly",
    ),
    pytest.param(
        "UTC",
        "0 12 29 2 *",
        "2026-01-01T00:00Z",
        ["2028-02-29T12:00Z", "2032-02-29T12:00Z", "2036-02-29T12:00Z"],
        id="feb-29-leap-years-only",
    ),
    pytest.param(
        "UTC",
        "0 12 29 2 *",
        "2096-03-01T00:00Z",
        ["2104-02-29T12:00Z"],
        id="feb-29-skips-2100",
    ),
    pytest.param(
        PRAGUE,
        "0 12 29 2 *",
        "2026-01-01T00:00Z",
        ["2028-02-29T11:00Z", "2032-02-29T11:00Z"],
        id="prague-feb-29",
    ),
    pytest.param(
        "UTC",
        "0 0 31 * *",
        "2026-01-31T00:00Z",
        ["2026-03-31T00:00Z", "2026-05-31T00:00Z", "2026-07-31T00:00Z", "2026-08-31T00:00Z"],
        id="day-31-only-in-long-months",
    ),
    pytest.param(
        "UTC",
        "0 0 13 * 5",
        "2026-04-01T00:00Z",
        [
            "2026-04-03T00:00Z",
            "2026-04-10T00:00Z",
            "2026-04-13T00:00Z",  # a Monday: the 13th
            "2026-04-17T00:00Z",
            "2026-04-24T00:00Z",
            "2026-05-01T00:00Z",
        ],
        id="13th-or-friday",
    ),
    pytest.param(
        "UTC",
        "0 0 13 * 5",
        "2026-02-01T00:00Z",
        ["2026-02-06T00:00Z", "2026-02-13T00:00Z", "2026-02-20T00:00Z", "2026-02-27T00:00Z", "2026-03-06T00:00Z"],
        id="friday-the-13th-fires-once",
    ),
    pytest.param(
        "UTC",
        "0 0 */2 * 5",
        "2026-02-01T00:00Z",
        [
            "2026-02-13T00:00Z",
            "2026-02-27T00:00Z",
            "2026-03-13T00:00Z",
            "2026-03-27T00:00Z",
            "2026-04-03T00:00Z",
            "2026-04-17T00:00Z",
        ],
        id="odd-day-and-friday",
    ),
    pytest.param(
        "UTC",
        "0 0 13 * *",
        "2026-02-01T00:00Z",
        ["2026-02-13T00:00Z", "2026-03-13T00:00Z", "2026-04-13T00:00Z"],
        id="13th-weekday-star",
    ),
    pytest.param(
        "UTC",
        "0 0 * * 5",
        "2026-02-01T00:00Z",
        ["2026-02-06T00:00Z", "2026-02-13T00:00Z", "2026-02-20T00:00Z"],
        id="friday-day-star",
    ),
    pytest.param(
        "UTC",
        "0 0 13 * 0-6",
        "2026-02-01T00:00Z",
        ["2026-02-02T00:00Z", "2026-02-03T00:00Z", "2026-02-04T00:00Z"],
        id="13th-or-0-6-is-every-day",  # 0-6 does not start with `*`: OR, as in Debian
    ),
    pytest.param(
        "UTC",
        "0 9 * * 0",
        "2026-01-01T00:00Z",
        ["2026-01-04T09:00Z", "2026-01-11T09:00Z", "2026-01-18T09:00Z"],
        id="sunday-0",
    ),
    pytest.param(
        "UTC",
        "0 9 * * 7",
        "2026-01-01T00:00Z",
        ["2026-01-04T09:00Z", "2026-01-11T09:00Z", "2026-01-18T09:00Z"],
        id="sunday-7",
    ),
    pytest.param(
        "UTC",
        "0 9 * * sun",
        "2026-01-01T00:00Z",
        ["2026-01-04T09:00Z", "2026-01-11T09:00Z", "2026-01-18T09:00Z"],
        id="sunday-name",
    ),
    pytest.param(
        "UTC",
        "0 9 * * 5-7",
        "2026-01-01T00:00Z",
        ["2026-01-02T09:00Z", "2026-01-03T09:00Z", "2026-01-04T09:00Z", "2026-01-09T09:00Z"],
        id="friday-to-sunday-7",
    ),
]


@pytest.mark.parametrize(("zone", "cron", "after", "expected_utc"), CALENDAR_CASES)
def test_macros_and_calendar_rules(zone: str, cron: str, after: str, expected_utc: list[str]) -> None:
    _check(zone, cron, _at(after), expected_utc)


YEAR_ZONES = [
    pytest.param(PRAGUE, 2026, id="prague-2026"),
    pytest.param(NEW_YORK, 2026, id="new-york-2026"),
    pytest.param(LORD_HOWE, 2026, id="lord-howe-2026"),
    pytest.param(CHATHAM, 2026, id="chatham-2026"),
    pytest.param("UTC", 2026, id="utc-2026"),
    pytest.param(SAO_PAULO, 2018, id="sao-paulo-2018-with-dst"),
    pytest.param(SAO_PAULO, 2026, id="sao-paulo-2026-without-dst"),
    pytest.param("Antarctica/Troll", 2026, id="troll-2026-two-hour-gap"),
]


@pytest.mark.parametrize("cron", ["0 6 * * *", "30 2 * * *"])
@pytest.mark.parametrize(("zone", "year"), YEAR_ZONES)
def test_daily_fixed_time_fires_365_times_in_a_year(zone: str, year: int, cron: str) -> None:
    tz = ZoneInfo(zone)
    start = datetime(year, 1, 1, tzinfo=tz)
    end = datetime(year + 1, 1, 1, tzinfo=tz)
    fires = list(itertools.takewhile(lambda t: t < end, fire_times(cron, zone, start)))
    assert len(fires) == 365
    days = [t.astimezone(tz).date() for t in fires]
    assert days == [date(year, 1, 1) + timedelta(days=n) for n in range(365)]


@pytest.mark.parametrize(("zone", "year"), YEAR_ZONES)
def test_daily_midnight_fires_once_per_local_date(zone: str, year: int) -> None:
    tz = ZoneInfo(zone)
    start = datetime(year - 1, 12, 31, 23, 59, tzinfo=tz)
    end = datetime(year + 1, 1, 1, tzinfo=tz)
    fires = list(itertools.takewhile(lambda t: t < end, fire_times("@daily", zone, start)))
    days = [t.astimezone(tz).date() for t in fires]
    assert days == [date(year, 1, 1) + timedelta(days=n) for n in range(365)]


@pytest.mark.parametrize(
    ("zone", "cron", "after", "expected_utc"),
    [
        pytest.param("UTC", "0 6 * * *", "2026-05-01T06:00Z", ["2026-05-02T06:00Z"], id="daily-on-fire-time"),
        pytest.param(
            "UTC", "* * * * *", "2026-05-01T06:00Z", ["2026-05-01T06:01Z", "2026-05-01T06:02Z"], id="every-minute"
        ),
        pytest.param(PRAGUE, "30 2 * * *", "2026-03-29T01:00Z", ["2026-03-30T00:30Z"], id="on-gap-fire-time"),
        pytest.param(
            PRAGUE,
            "0 * * * *",
            "2026-10-25T00:00Z",
            ["2026-10-25T01:00Z", "2026-10-25T02:00Z"],
            id="on-first-copy-realtime",
        ),
    ],
)
def test_after_exactly_on_a_fire_time_is_excluded(zone: str, cron: str, after: str, expected_utc: list[str]) -> None:
    _check(zone, cron, _at(after), expected_utc)


@pytest.mark.parametrize(
    ("after", "expected_utc"),
    [
        ("2026-05-01T05:59:59.999999Z", "2026-05-01T06:00Z"),
        ("2026-05-01T05:59:30Z", "2026-05-01T06:00Z"),
        ("2026-05-01T06:00:00.000001Z", "2026-05-02T06:00Z"),
        ("2026-05-01T06:00:30Z", "2026-05-02T06:00Z"),
        ("2026-05-01T06:00:59.999999Z", "2026-05-02T06:00Z"),
    ],
)
def test_after_with_seconds(after: str, expected_utc: str) -> None:
    _check("UTC", "0 6 * * *", _at(after), [expected_utc])


def test_after_with_seconds_every_minute() -> None:
    _check("UTC", "* * * * *", _at("2026-05-01T06:00:30Z"), ["2026-05-01T06:01Z", "2026-05-01T06:02Z"])
    _check("UTC", "* * * * *", _at("2026-05-01T05:59:59.5Z"), ["2026-05-01T06:00Z", "2026-05-01T06:01Z"])


@pytest.mark.parametrize(
    ("zone", "cron", "after", "expected_utc"),
    [
        pytest.param(
            "UTC",
            "0 6 * * *",
            datetime(2026, 5, 1, 15, 0, tzinfo=ZoneInfo("Asia/Tokyo")),  # = 06:00Z
            ["2026-05-02T06:00Z"],
            id="tokyo-after-equal-to-fire-time",
        ),
        pytest.param(
            "UTC",
            "0 6 * * *",
            datetime(2026, 5, 1, 11, 29, 59, tzinfo=timezone(timedelta(hours=5, minutes=30))),  # = 05:59:59Z
            ["2026-05-01T06:00Z"],
            id="fixed-offset-after",
        ),
        pytest.param(
            PRAGUE,
            "0 8 * * *",
            datetime(2026, 5, 1, 2, 0, tzinfo=ZoneInfo(NEW_YORK)),  # = 06:00Z = 08:00 in Prague
            ["2026-05-02T06:00Z"],
            id="new-york-after-for-prague-schedule",
        ),
        pytest.param(
            NEW_YORK,
            "0 8 * * *",
            datetime(2026, 5, 1, 13, 59, tzinfo=ZoneInfo(PRAGUE)),  # = 11:59Z = 07:59 in New York
            ["2026-05-01T12:00Z"],
            id="prague-after-for-new-york-schedule",
        ),
        pytest.param(
            PRAGUE,
            "30 2 * * *",
            datetime(2026, 10, 25, 2, 15, tzinfo=ZoneInfo(PRAGUE)),  # fold=0: first 02:15 = 00:15Z
            ["2026-10-25T00:30Z", "2026-10-26T01:30Z"],
            id="prague-after-fold-0",
        ),
        pytest.param(
            PRAGUE,
            "30 2 * * *",
            datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=ZoneInfo(PRAGUE)),  # fold=1: second 02:15 = 01:15Z
            ["2026-10-26T01:30Z"],
            id="prague-after-fold-1",
        ),
    ],
)
def test_after_in_a_non_utc_zone(zone: str, cron: str, after: datetime, expected_utc: list[str]) -> None:
    _check(zone, cron, after, expected_utc)


def test_fire_times_is_an_unbounded_lazy_iterator() -> None:
    after = _at("2026-12-31T23:58:30Z")
    minutes = list(itertools.islice(fire_times("* * * * *", "UTC", after), 3000))
    assert _utc(minutes[0]) == "2026-12-31T23:59Z"
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(minutes))
    assert next_fire_times("* * * * *", "UTC", after, 0) == []


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Adak"])
def test_fire_times_end_with_the_calendar_instead_of_overflowing(zone: str) -> None:
    fires = list(fire_times("0 0 29 2 *", zone, _at("9990-01-01T00:00Z")))
    assert [f.astimezone(ZoneInfo(zone)).year for f in fires] == [9992, 9996]  # 9998 is no leap year
    last = list(fire_times("59 23 * * *", zone, _at("9998-12-30T00:00Z")))[-1]
    assert last.astimezone(ZoneInfo(zone)).isoformat()[:16] == "9998-12-31T23:59"
    assert [t.at.year for t in dst_transitions(zone, _at("9998-01-01T00:00Z"), last)] in ([], [9998, 9998])


def _transitions(zone: str, start: str, end: str) -> list[tuple[str, timedelta, timedelta]]:
    result = dst_transitions(zone, _at(start), _at(end))
    for transition in result:
        assert transition.at.utcoffset() == timedelta(0)
    return [(_utc(t.at.astimezone(UTC)), t.before, t.after) for t in result]


def test_dst_transitions_prague_2026() -> None:
    assert _transitions(PRAGUE, "2026-01-01T00:00Z", "2027-01-01T00:00Z") == [
        ("2026-03-29T01:00Z", timedelta(hours=1), timedelta(hours=2)),
        ("2026-10-25T01:00Z", timedelta(hours=2), timedelta(hours=1)),
    ]


def test_dst_transitions_lord_howe_half_hour() -> None:
    assert _transitions(LORD_HOWE, "2026-01-01T00:00Z", "2027-01-01T00:00Z") == [
        ("2026-04-04T15:00Z", timedelta(hours=11), timedelta(hours=10, minutes=30)),
        ("2026-10-03T15:30Z", timedelta(hours=10, minutes=30), timedelta(hours=11)),
    ]


def test_dst_transitions_chatham_and_new_york() -> None:
    assert _transitions(CHATHAM, "2026-01-01T00:00Z", "2027-01-01T00:00Z") == [
        ("2026-04-04T14:00Z", timedelta(hours=13, minutes=45), timedelta(hours=12, minutes=45)),
        ("2026-09-26T14:00Z", timedelta(hours=12, minutes=45), timedelta(hours=13, minutes=45)),
    ]
    assert _transitions(NEW_YORK, "2026-01-01T00:00Z", "2027-01-01T00:00Z") == [
        ("2026-03-08T07:00Z", timedelta(hours=-5), timedelta(hours=-4)),
        ("2026-11-01T06:00Z", timedelta(hours=-4), timedelta(hours=-5)),
    ]


def test_dst_transitions_sao_paulo_before_and_after_abolition() -> None:
    assert _transitions(SAO_PAULO, "2018-01-01T00:00Z", "2019-01-01T00:00Z") == [
        ("2018-02-18T02:00Z", timedelta(hours=-2), timedelta(hours=-3)),
        ("2018-11-04T03:00Z", timedelta(hours=-3), timedelta(hours=-2)),
    ]
    assert _transitions(SAO_PAULO, "2026-01-01T00:00Z", "2027-01-01T00:00Z") == []
    assert _transitions("UTC", "2026-01-01T00:00Z", "2027-01-01T00:00Z") == []


def test_dst_transitions_interval_is_open_at_start_closed_at_end() -> None:
    spring = ("2026-03-29T01:00Z", timedelta(hours=1), timedelta(hours=2))
    assert _transitions(PRAGUE, "2026-03-29T01:00Z", "2026-03-30T00:00Z") == []
    assert _transitions(PRAGUE, "2026-03-28T00:00Z", "2026-03-29T01:00Z") == [spring]
    assert _transitions(PRAGUE, "2026-03-29T00:59Z", "2026-03-29T01:01Z") == [spring]
