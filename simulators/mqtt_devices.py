"""Simulated MQTT devices: device-native JSON payloads (Tasmota ENERGY, a vendor gateway) and their publisher.

These are what real devices put on a broker, not plantcarbon's reading batch: the edge maps
them with `MqttSource.fields` (see `simulators.scenario.mqtt_fields`). Tasmota's `Time` is local
time with its UTC offset (Tasmota `SetOption52 1`); the gateway sends epoch milliseconds in `ts`
and uses its own field names and units (W, Wh, kg, bar).

MQTT faults act here: clock skew shifts the payload's time, duplicate publishes twice,
out_of_order holds a message back until after the next one, disconnect drops the connection
(a device without a buffer loses what it would have sent).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt

from plantcarbon_core.kinds import kind as kind_of
from plantcarbon_core.mqtt import BrokerConfig, make_client
from simulators.faults import FaultWindow
from simulators.scenario import SimDevice

log = logging.getLogger(__name__)


def tasmota_payload(d: SimDevice, values: dict[str, float], ts: float, tz: ZoneInfo) -> dict[str, object]:
    """A Tasmota `tele/<topic>/SENSOR` ENERGY payload: W, VA, var, V, A and kWh totals."""
    p_w = values.get("p_kw", 0.0) * 1000.0
    total = values.get("e_exp_kwh" if kind_of(d.kind).generates else "e_imp_kwh", 0.0)
    return {
        "Time": datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds"),
        "ENERGY": {
            "TotalStartTime": "2024-01-01T00:00:00",
            "Total": round(total, 3),
            "Power": round(abs(p_w)),
            "ApparentPower": round(values.get("s_kva", 0.0) * 1000.0),
            "ReactivePower": round(values.get("q_kvar", 0.0) * 1000.0),
            "Factor": round(values.get("pf", 1.0), 2),
            "Voltage": round(values.get("v_l1_v", 230.0)),
            "Current": round(values.get("i_l1_a", 0.0), 3),
        },
    }


def gateway_payload(d: SimDevice, values: dict[str, float], ts: float) -> dict[str, object]:
    """A vendor gateway's uplink: its own names and units, epoch-ms timestamp."""
    if d.carrier == "natural_gas":
        data = {
            "StdFlow_m3h": round(values.get("flow_nm3h", 0.0), 3),
            "StdTotal_m3": round(values.get("vol_nm3", 0.0), 3),
            "Temp_degC": round(values.get("temp_c", 0.0), 2),
            "Press_bar": round(values.get("press_kpa", 0.0) / 100.0, 4),
        }
    elif d.carrier == "steam":
        data = {
            "MassFlow_kgh": round(values.get("flow_th", 0.0) * 1000.0, 2),
            "MassTotal_kg": round(values.get("mass_t", 0.0) * 1000.0, 2),
            "Temp_degC": round(values.get("temp_c", 0.0), 2),
            "Press_bar": round(values.get("press_mpa", 0.0) * 10.0, 4),
        }
    elif d.carrier == "production":
        data = {
            "Rate_kgh": round(values.get("rate_th", 0.0) * 1000.0, 2),
            "Total_kg": round(values.get("output_t", 0.0) * 1000.0, 2),
        }
    else:
        data = {
            "Pt_W": round(values.get("p_kw", 0.0) * 1000.0, 1),
            "EpImp_Wh": round(values.get("e_imp_kwh", 0.0) * 1000.0, 1),
            "EpExp_Wh": round(values.get("e_exp_kwh", 0.0) * 1000.0, 1),
            "Ua_V": round(values.get("v_l1_v", 0.0), 2),
            "Ia_A": round(values.get("i_l1_a", 0.0), 3),
        }
    return {"devId": d.id, "ts": round(ts * 1000), "data": data}


def native_payload(d: SimDevice, values: dict[str, float], ts: float, tz: ZoneInfo) -> dict[str, object]:
    assert d.meter is not None
    if d.meter.payload == "tasmota":
        return tasmota_payload(d, values, ts, tz)
    return gateway_payload(d, values, ts)


@dataclass
class MqttDevice:
    """One simulated device's own MQTT connection, with its faults."""

    device: SimDevice
    topic: str
    broker: BrokerConfig
    windows: list[FaultWindow]
    published: int = 0
    dropped: int = 0
    _client: mqtt.Client | None = None
    _held: bytes | None = None
    _connected: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self) -> None:
        # A device speaks MQTT 3.1.1, as Tasmota and most gateways do.
        c = make_client(self.broker, f"sim-{self.device.id}", v5=False)
        c.connect(self.broker.host, self.broker.port, keepalive=30)
        c.loop_start()
        self._client = c
        self._connected = True

    def disconnect(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        self._connected = False

    def active(self, kind: str, ts: float) -> FaultWindow | None:
        return next((w for w in self.windows if w.kind == kind and w.active(ts)), None)

    def publish(self, doc_for: object, ts: float) -> None:
        """`doc_for(ts_in_payload)` builds the payload; faults decide what reaches the broker."""
        assert callable(doc_for)
        with self._lock:
            if self.active("disconnect", ts):
                if self._connected:
                    self.disconnect()
                self.dropped += 1
                return
            if not self._connected:
                self.connect()
            skew = self.active("clock_skew", ts)
            payload = json.dumps(doc_for(ts + (skew.skew_s if skew else 0.0)), separators=(",", ":")).encode()
            if self.active("out_of_order", ts) and self._held is None:
                self._held = payload  # sent after the next message
                return
            self._send(payload)
            if self._held is not None:
                self._send(self._held)
                self._held = None
            if self.active("duplicate", ts):
                self._send(payload)

    def _send(self, payload: bytes) -> None:
        assert self._client is not None
        self._client.publish(self.topic, payload, qos=1)
        self.published += 1
