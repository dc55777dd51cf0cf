"""A device status set while the MQTT session is coming up reaches the broker (retained)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.metrics import Metrics
from edge.outbox import Outbox
from edge.publish import BrokerConfig, Publisher
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.integration


async def test_status_set_between_connack_and_connected_is_sent(mosquitto, collector, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    pub = Publisher(BrokerConfig(url=mosquitto.url), "st", "e1", outbox, Metrics())
    # The CONNACK has been read and the stored statuses sent; the loop has not yet marked the
    # session connected when a device's first poll sets its status: the window a poll can hit.
    session_up = pub._session_up

    def late_status(sent: dict[str, bytes]) -> None:
        pub.device_status("m-1", True)
        session_up(sent)

    pub._session_up = late_status  # type: ignore[method-assign]
    col = collector(mosquitto, "pc/st/#")
    pub.start()
    try:
        assert await wait_until_async(lambda: bool(col.status("/m-1/status")), 10)
        assert col.status("/m-1/status")[-1]["online"] is True
    finally:
        await pub.stop()
        outbox.close()
