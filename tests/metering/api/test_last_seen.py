"""The last-seen tracker: max(InfluxDB seed, MQTT) per device, odd input ignored, the seed refreshed off the caller."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from metering.api.last_seen import LastSeen
from tests.support.waiting import wait_until

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_newest_of_seed_and_live_per_device() -> None:
    ls = LastSeen()
    ls.note("plant-a", "tr-01", _ms(T0))
    ls.note("plant-a", "tr-01", _ms(T0 - timedelta(seconds=9)))  # an older batch arriving late changes nothing
    ls.note("plant-b", "pv-01", _ms(T0))  # another site
    seed = {"tr-01": T0 - timedelta(hours=1), "kiln-1": T0 - timedelta(hours=3), "pv-01": T0 + timedelta(seconds=1)}
    got = ls.get("plant-a", lambda: seed)
    assert got == {"tr-01": T0, "kiln-1": T0 - timedelta(hours=3), "pv-01": T0 + timedelta(seconds=1)}


def test_odd_notes_are_counted_and_ignored() -> None:
    ls = LastSeen()
    odd: list[tuple[object, object, object]] = [
        (None, "tr-01", _ms(T0)), ("plant-a", "", _ms(T0)), ("plant-a", 7, _ms(T0)),
        ("plant-a", "tr-01", "1700000000000"), ("plant-a", "tr-01", float("nan")), ("plant-a", "tr-01", True),
        ("plant-a", "tr-01", float("inf")), ("plant-a", "tr-01", -1), ("plant-a", "tr-01", 10**30),
        ("plant-a", "tr-01", 1_700_000_000),  # seconds, not ms: year 1970
    ]  # fmt: skip
    for site, device, ts in odd:
        ls.note(site, device, ts)
    assert ls.ignored == len(odd) and ls.live("plant-a") == {}
    ls.note("plant-a", "tr-01", _ms(T0))
    assert ls.live("plant-a") == {"tr-01": T0}


def test_the_seed_is_read_once_then_refreshed_in_the_background() -> None:
    ls = LastSeen(refresh_s=0.0)
    calls: list[int] = []
    gate = threading.Event()

    def seed() -> dict[str, datetime]:
        calls.append(1)
        if len(calls) > 1:
            gate.wait(10)  # the refresh is slow: callers must not wait for it
        return {"kiln-1": T0 + timedelta(minutes=len(calls))}

    assert ls.get("plant-a", seed) == {"kiln-1": T0 + timedelta(minutes=1)}
    # Due for a refresh: the caller gets the seed it has while one background read runs.
    assert ls.get("plant-a", seed) == {"kiln-1": T0 + timedelta(minutes=1)}
    assert ls.get("plant-a", seed) == {"kiln-1": T0 + timedelta(minutes=1)}
    assert wait_until(lambda: len(calls) == 2, 10)
    gate.set()
    assert wait_until(lambda: ls.get("plant-a", seed)["kiln-1"] >= T0 + timedelta(minutes=2), 10)
    assert len(calls) >= 2


def test_a_failing_refresh_keeps_the_old_seed() -> None:
    ls = LastSeen(refresh_s=0.0)
    calls: list[int] = []

    def seed() -> dict[str, datetime]:
        calls.append(1)
        if len(calls) > 1:
            raise ConnectionError("influxdb away")
        return {"kiln-1": T0}

    assert ls.get("plant-a", seed) == {"kiln-1": T0}
    ls.get("plant-a", seed)
    assert wait_until(lambda: len(calls) >= 2 and not ls._refreshing, 10)
    assert ls.get("plant-a", seed) == {"kiln-1": T0}
