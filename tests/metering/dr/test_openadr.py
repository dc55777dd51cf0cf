"""OpenADR 2.0b intake: a real openleadr VTN on 127.0.0.1 sends events; our VEN stores or refuses them."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from openleadr import OpenADRServer

from harness.process import free_port
from metering.dr.events import EventError
from metering.dr.openadr import OadrVen, event_from_oadr
from metering.dr.store import EventStore

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:It is recommended to use web.AppKey")]  # fmt: skip


def oadr_event(signal: str, kind: str, payloads: list[float], start: dt.datetime) -> dict[str, object]:
    return {
        "event_descriptor": {"event_id": "EV-42", "market_context": "oadr://js", "modification_number": 0},
        "active_period": {"dtstart": start, "duration": dt.timedelta(hours=2)},
        "event_signals": [
            {"signal_name": signal, "signal_type": kind,
             "intervals": [{"dtstart": start, "duration": dt.timedelta(hours=1), "signal_payload": p} for p in payloads]}
        ],
    }  # fmt: skip


def test_signal_mapping() -> None:
    start = dt.datetime(2025, 7, 15, 6, tzinfo=dt.UTC)
    ev = event_from_oadr(oadr_event("LOAD_DISPATCH", "delta", [-600, -800], start), site="plant-a", meters=["tr-01"])
    assert (ev.id, ev.requested_reduction_kw, ev.end - ev.start, ev.source) == (
        "oadr-ev-42",
        800,
        dt.timedelta(hours=2),
        "openadr",
    )
    ev = event_from_oadr(oadr_event("LOAD_DISPATCH", "setpoint", [3500, 3300], start), site="plant-a", meters=["tr-01"])
    assert ev.target_kw == 3300 and ev.requested_reduction_kw is None
    ev = event_from_oadr(
        oadr_event("SIMPLE", "level", [2], start), site="plant-a", meters=["tr-01"], simple_levels_kw={1: 200, 2: 500}
    )
    assert ev.requested_reduction_kw == 500
    with pytest.raises(EventError) as exc:
        event_from_oadr(oadr_event("SIMPLE", "level", [2], start), site="plant-a", meters=["tr-01"])
    assert exc.value.reason == "unmapped_simple"
    with pytest.raises(EventError) as exc:
        event_from_oadr(oadr_event("ELECTRICITY_PRICE", "price", [1.2], start), site="plant-a", meters=["tr-01"])
    assert exc.value.reason == "unsupported_signal"


async def test_ven_receives_events_from_a_real_vtn(tmp_path: Path) -> None:
    port = free_port()
    vtn = OpenADRServer(vtn_id="test-vtn", http_host="127.0.0.1", http_port=port,
                        requested_poll_freq=dt.timedelta(seconds=1), verify_message_signatures=False)  # fmt: skip
    opts: list[tuple[str, str]] = []

    async def on_register(info: dict[str, object]) -> tuple[str, str]:
        return "ven-plant-a", "reg-1"

    async def on_opt(ven_id: str, event_id: str, opt_type: str) -> None:
        opts.append((event_id, opt_type))

    vtn.add_handler("on_create_party_registration", on_register)
    await vtn.run_async()
    # OpenADR drops events that are already over: schedule them in the future.
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    interval = {"dtstart": start, "duration": dt.timedelta(hours=2), "signal_payload": -800.0}
    vtn.add_event(ven_id="ven-plant-a", signal_name="LOAD_DISPATCH", signal_type="delta", intervals=[interval],
                  event_id="dispatch-1", callback=on_opt)  # fmt: skip
    vtn.add_event(ven_id="ven-plant-a", signal_name="SIMPLE", signal_type="level",
                  intervals=[{**interval, "signal_payload": 1.0}], event_id="simple-1", callback=on_opt)  # fmt: skip
    store = EventStore(tmp_path / "dr.sqlite")
    ven = OadrVen(store, f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b", ven_name="plant-a", site="plant-a", meters=["tr-01"],
                  allow_jitter=False)  # fmt: skip
    await ven.start()
    try:
        for _ in range(150):
            if len(opts) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await ven.stop()
        await vtn.stop()
    assert sorted(opts) == [("dispatch-1", "optIn"), ("simple-1", "optOut")]
    stored = store.list("plant-a")
    assert [(e.id, e.requested_reduction_kw, e.source) for e in stored] == [("oadr-dispatch-1", 800.0, "openadr")]
    assert stored[0].start == start and dict(ven.rejected) == {"unmapped_simple": 1}
