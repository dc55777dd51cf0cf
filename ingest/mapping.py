"""From one MQTT message (topic + payload) to line protocol, with tags from the plant files.

Bad input: anything may arrive on a data or status topic — a topic outside the contract, a
payload `plantcarbon_core.wire.decode_batch` refuses, a payload whose `device` disagrees with the topic,
a site that none of the loaded plant files describes. `map_data` never returns a partial
result: it raises `Rejected` with a short `reason` code (the dead-letter counter's label) and
a message saying where. Devices that the plant file does not list are not bad input: their
readings are stored under the measurement `unregistered` (tags site, device, edge) and the
result says so, so they can be counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from plantcarbon_core import schema as sc
from plantcarbon_core.influx import DeviceTags, batch_lines, line
from plantcarbon_core.plant import Plant
from plantcarbon_core.wire import ReadingBatch, WireError, decode_batch, parse_topic

# Readings of devices missing from the plant file: their carrier is unknown, so they get a
# measurement of their own instead of polluting a carrier's totals; area and kind stay empty
# (and are therefore left out of the line).
UNREGISTERED = "unregistered"


class Rejected(ValueError):
    """A message that cannot be stored; `reason` is a short code for dead-letter counting."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    tags: DeviceTags
    # Samples the device should deliver per accounting interval (from its poll interval);
    # None when the plant file gives no poll interval (no source, or unregistered).
    interval_s: float | None


@dataclass(frozen=True)
class TagBook:
    """Which sites ingest accepts and what the plant files say about each device.

    With no plant file every site is accepted and every device is unregistered.
    """

    devices: dict[tuple[str, str], DeviceInfo]
    sites: frozenset[str]

    @classmethod
    def from_plants(cls, plants: Iterable[Plant]) -> TagBook:
        devices: dict[tuple[str, str], DeviceInfo] = {}
        sites: set[str] = set()
        for p in plants:
            sites.add(p.site.id)
            for d in p.devices:
                interval = d.source.interval_s if d.source is not None else None
                devices[(p.site.id, d.id)] = DeviceInfo(DeviceTags(p.site.id, d.carrier, d.area, d.kind), interval)
        return cls(devices, frozenset(sites))

    def accepts_site(self, site: str) -> bool:
        return not self.sites or site in self.sites

    def lookup(self, site: str, device: str) -> DeviceInfo | None:
        return self.devices.get((site, device))


@dataclass(frozen=True, slots=True)
class Mapped:
    site: str
    batch: ReadingBatch
    lines: list[str]
    registered: bool
    values: int  # field values in `lines`


def map_data(topic: str, payload: bytes, book: TagBook, prefix: str, max_ts_ms: int | None = None) -> Mapped:
    """A data message as line protocol; raises `Rejected` for anything that breaks the contract.

    `max_ts_ms`: the latest sample time accepted (now + the allowed clock skew); a later one
    refuses the message as `future_ts`.
    """
    try:
        t = parse_topic(topic, prefix)
    except WireError as exc:
        raise Rejected(exc.reason, str(exc)) from None
    if t.kind != "data" or t.site is None or t.device is None:
        raise Rejected("bad_topic", f"topic {topic!r} is not a data topic")
    if not book.accepts_site(t.site):
        raise Rejected("site_mismatch", f"topic {topic!r}: site {t.site!r} is not in the loaded plant files")
    try:
        batch = decode_batch(payload)
    except WireError as exc:
        raise Rejected(exc.reason, str(exc)) from None
    if batch.device != t.device:
        raise Rejected("device_mismatch", f"topic {topic!r} names device {t.device!r}, payload {batch.device!r}")
    if max_ts_ms is not None:
        late = next((i for i, s in enumerate(batch.samples) if s.ts > max_ts_ms), None)
        if late is not None:
            ahead_s = (batch.samples[late].ts - max_ts_ms) / 1000
            raise Rejected(
                "future_ts",
                f"samples[{late}].ts {batch.samples[late].ts} is {ahead_s:.0f} s beyond now + the allowed clock skew",
            )
    info = book.lookup(t.site, t.device)
    tags = info.tags if info is not None else DeviceTags(t.site, UNREGISTERED, "", "")
    lines = batch_lines(batch, tags)
    values = sum(len(s.values) for s in batch.samples)
    return Mapped(t.site, batch, lines, info is not None, values)


def map_status(topic: str, payload: bytes, prefix: str, max_ts_ms: int | None = None) -> str | None:
    """A device status message (`{"online": bool, "ts": ms, "error"?: str, ...}`) as a
    `device_status` line; None for an empty retained-clear payload. Raises `Rejected`."""
    if not payload:
        return None  # clearing a retained status is not an error and holds nothing to store
    try:
        t = parse_topic(topic, prefix)
    except WireError as exc:
        raise Rejected(exc.reason, str(exc)) from None
    if t.kind != "status" or t.site is None or t.device is None:
        raise Rejected("bad_topic", f"topic {topic!r} is not a device status topic")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejected("bad_status", f"topic {topic!r}: status payload is not JSON") from None
    if not isinstance(doc, dict):
        raise Rejected("bad_status", f"topic {topic!r}: status must be a JSON object")
    online, ts = doc.get("online"), doc.get("ts")
    if not isinstance(online, bool) or type(ts) is not int or not 946_684_800_000 <= ts < 4_102_444_800_000:
        raise Rejected("bad_status", f"topic {topic!r}: status needs online (bool) and ts (epoch ms)")
    if max_ts_ms is not None and ts > max_ts_ms:
        raise Rejected("future_ts", f"topic {topic!r}: status ts {ts} is beyond now + the allowed clock skew")
    fields: dict[str, float | bool | str] = {"online": online}
    for key in ("poll_ms", "errors"):
        v = doc.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            fields[key] = float(v)  # always float: an int now and a float later would conflict
    if isinstance(doc.get("error"), str):
        fields["error"] = doc["error"][:500]
    tags = {"site": t.site, "device": t.device}
    if isinstance(doc.get("edge"), str):
        tags["edge"] = doc["edge"]
    return line(sc.DEVICE_STATUS, tags, fields, ts)
