"""A running simulated plant: pymodbus servers and MQTT devices driven by the load model, plus its truth.

    sim = SimulatedPlant(load_scenario("small"), seed=1).start(mqtt_url=broker.url)
    sim.plant            # plantcarbon_core.plant.Plant whose sources point at the simulators
    sim.endpoints        # device id → Endpoint (host, port, unit, framer / topic)
    sim.truth(a, b)      # ground truth per device per 15 min, from the load model
    sim.stop()

Meters are grouped per port: a gateway answers for many unit ids on one port (Modbus TCP or
RTU-over-TCP framing), a stand-alone meter has its own port. One updater thread rewrites
every register image each `update_s`; an MQTT thread publishes device-native JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pymodbus.constants import ExcCodes

from plantcarbon_core.mqtt import BrokerConfig
from plantcarbon_core.plant import Plant, dump_plant
from plantcarbon_core.ports import free_port
from plantcarbon_core.profile import MeterProfile, load_profile
from simulators.faults import CounterDisplay, FaultWindow, counter_displays, modbus_fault, resolve_faults
from simulators.loads import SLOT_S
from simulators.meters import MeterImage, scale_exponents
from simulators.modbus_server import ModbusServer, start_modbus_server
from simulators.model import Integrator, PlantModel
from simulators.mqtt_devices import MqttDevice, native_payload
from simulators.scenario import Endpoint, Scenario, assign_endpoints, load_scenario, port_keys, to_plant

log = logging.getLogger(__name__)

# A timeout fault holds the answer at least this long: longer than any sane client timeout.
TIMEOUT_HOLD_S = 3.0


class SimulatedPlant:
    """The simulated plant of a scenario; `start()` brings its meters up on 127.0.0.1."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        seed: int | None = None,
        *,
        origin: datetime | None = None,
        host: str = "127.0.0.1",
        base_port: int | None = None,
        update_s: float = 1.0,
        speed: float = 1.0,
    ):
        if speed <= 0:
            raise ValueError(f"speed: {speed} is not > 0")
        # A compressed clock: `speed` simulated seconds per wall second (tests run hours of a
        # plant in a minute). Counters stay exact integrals of the model on simulated time;
        # readers stamp what they read with their own (wall) clock. Paused, a compressed clock
        # stops (the plant stands still) and resumes where it stopped: no jump in any counter.
        self.speed = speed
        self._sim_mark = self._wall_mark = time.time()
        self._frozen: float | None = None
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.model = PlantModel(self.scenario, seed, origin)
        self.host = host
        self.base_port = base_port
        self.update_s = update_s
        self.windows: list[FaultWindow] = resolve_faults(self.model)
        self.windows_of: dict[str, list[FaultWindow]] = {}
        for w in self.windows:
            self.windows_of.setdefault(w.device, []).append(w)
        self.profiles: dict[str, MeterProfile] = {
            d.id: load_profile(d.meter.profile)
            for d in self.scenario.metered
            if d.meter is not None and d.meter.profile and d.meter.protocol == "modbus"
        }
        self.displays: dict[str, dict[str, CounterDisplay]] = {
            d.id: counter_displays(self.model, d.id, self.windows, self.profiles.get(d.id))
            for d in self.scenario.metered
        }
        self.images: dict[str, MeterImage] = {}
        for dev_id, prof in self.profiles.items():
            d = self.model.devices[dev_id]
            full = _full_scale(d.rated, d.voltage_v)
            self.images[dev_id] = MeterImage(prof, d.ratios.ct_factor, d.ratios.pt_factor, scale_exponents(prof, full))
        self.endpoints: dict[str, Endpoint] = {}
        self.servers: dict[str, ModbusServer] = {}
        self.mqtt: dict[str, MqttDevice] = {}
        self.integrator = Integrator(self.model)
        self.shown: dict[str, tuple[float, dict[str, float]]] = {}  # device → (ts, values written)
        self.updates = 0
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._by_port_unit: dict[tuple[str, int], str] = {}

    def clock(self) -> float:
        """Simulated epoch seconds now: wall time, or the compressed clock when `speed` != 1."""
        if self.speed == 1.0:
            return time.time()
        frozen = self._frozen
        if frozen is not None:
            return frozen
        return self._sim_mark + (time.time() - self._wall_mark) * self.speed

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, mqtt_url: str | None = None) -> SimulatedPlant:
        """Start every Modbus server and (with a broker) every MQTT device; returns self."""
        keys = port_keys(self.scenario)
        ports = {k: (self.base_port + n if self.base_port else free_port(self.host)) for n, k in enumerate(keys)}
        self.endpoints = assign_endpoints(self.scenario, ports, self.host)
        for ep in self.endpoints.values():
            if ep.protocol == "modbus":
                self._by_port_unit[(ep.port_key, ep.unit)] = ep.device
        self.update(self.clock())  # images hold real values before the first request
        try:
            for key in keys:
                self._start_server(key, ports[key])
            if mqtt_url is not None:
                broker = BrokerConfig(url=mqtt_url)
                for d in self.scenario.metered:
                    if d.meter is not None and d.meter.protocol == "mqtt":
                        mine = [w for w in self.windows if w.device == d.id]
                        self.mqtt[d.id] = MqttDevice(d, self.endpoints[d.id].topic, broker, mine)
        except BaseException:
            self.stop()
            raise
        self._spawn(self._update_loop, "sim-update")
        if self.mqtt:
            self._spawn(self._mqtt_loop, "sim-mqtt")
        return self

    def _start_server(self, key: str, port: int) -> None:
        image: dict[int, dict[str, dict[int, int]]] = {}
        framer: Literal["socket", "rtu"] = "socket"
        for ep in self.endpoints.values():
            if ep.protocol == "modbus" and ep.port_key == key:
                image[ep.unit] = self._current_image(ep.device)
                framer = ep.framer
        self.servers[key] = start_modbus_server(
            image,  # type: ignore[arg-type]
            host=self.host,
            port=port,
            framer=framer,
            hook=self._hook_for(key),
        )

    def _current_image(self, device_id: str) -> dict[str, dict[int, int]]:
        img = self.images[device_id].layout()
        values = self.shown.get(device_id, (0.0, {}))[1]
        for table, addr, words in self.images[device_id].encode(values):
            for k, w in enumerate(words):
                img[table][addr + k] = w
        return img

    def _spawn(self, target: object, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        for s in self.servers.values():
            s.stop()
        for m in self.mqtt.values():
            with contextlib.suppress(Exception):
                m.disconnect()
        self._threads.clear()

    def __enter__(self) -> SimulatedPlant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pause(self) -> None:
        """Hold the register images still (tests compare what they read with `shown`).

        A compressed clock stops too: `shown[device][0]` is then the simulated time the held
        images show, and the plant goes on from there on `resume`.
        """
        if self.speed != 1.0 and self._frozen is None:
            self._frozen = self.clock()
        self._paused.set()
        with self._lock:  # an update already under way finishes first
            pass

    def resume(self) -> None:
        frozen = self._frozen
        if frozen is not None:
            self._sim_mark, self._wall_mark = frozen, time.time()
            self._frozen = None
        self._paused.clear()

    # --- the plant file and the truth -------------------------------------------------------

    @property
    def plant(self) -> Plant:
        return to_plant(self.scenario, self.endpoints)

    def plant_yaml(self) -> str:
        return dump_plant(self.plant)

    def write_plant(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(self.plant_yaml(), "utf-8")
        return p

    def truth(self, start: datetime, end: datetime, interval_s: int = 900) -> pd.DataFrame:
        """Ground truth per device and interval (see PlantModel.truth), from the load model."""
        return self.model.truth(start, end, interval_s)

    def dr_events(self) -> list[dict[str, object]]:
        return [{"id": w.id, "start": w.start, "end": w.end, "shed": w.shed} for w in self.model.dr]

    def values(self, device_id: str, ts: float | None = None) -> dict[str, float]:
        """Engineering values (primary, counters as displayed) the device's meter shows at `ts`."""
        ts = self.clock() if ts is None else ts
        with self._lock:
            rates, counters = self.integrator.at(ts)
        return self._values(device_id, ts, rates, counters)

    def _values(
        self, dev_id: str, ts: float, rates: dict[str, float], counters: dict[str, dict[str, float]]
    ) -> dict[str, float]:
        slot = np.array([int(ts // SLOT_S)], dtype=np.int64)
        vals = {k: float(v[0]) for k, v in self.model.gauges(dev_id, np.array([rates[dev_id]]), slot).items()}
        for c, integral in counters[dev_id].items():
            disp = self.displays.get(dev_id, {}).get(c)
            vals[c] = disp.show(ts, integral) if disp else integral
        return vals

    # --- live update -------------------------------------------------------------------------

    def update(self, ts: float) -> None:
        """Rewrite every meter's image for time `ts` (also called by the updater thread)."""
        with self._lock:
            self._write_images(ts)

    def _write_images(self, ts: float) -> None:
        """`update` with the lock held."""
        rates, counters = self.integrator.at(ts)
        for d in self.scenario.metered:
            vals = self._values(d.id, ts, rates, counters)
            self.shown[d.id] = (ts, vals)
            img = self.images.get(d.id)
            ep = self.endpoints.get(d.id)
            if img is None or ep is None or ep.port_key not in self.servers:
                continue
            fault = modbus_fault(self.windows_of.get(d.id, []), ts)
            mode = fault.kind if fault and fault.kind in ("garbage", "not_available", "zero") else None
            server = self.servers[ep.port_key]
            for table, addr, words in img.encode(vals, mode, salt=int(ts)):
                server.set_words(ep.unit, table, addr, words)  # type: ignore[arg-type]
        self.updates += 1

    def _update_loop(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            try:
                with self._lock:
                    # Checked under the lock: once `pause` has the lock, no update starts, so the
                    # held images are the ones `shown` says (and a compressed clock's time).
                    if not self._paused.is_set():
                        self._write_images(self.clock())
            except Exception:  # the simulator must keep serving; log the cause once per kind
                log.exception("simulator update failed")
            elapsed = time.time() - now
            # A big plant on a busy machine: never spend more than half a core rewriting images.
            self._stop.wait(max(0.05, self.update_s - elapsed, elapsed))

    def _hook_for(self, key: str):  # type: ignore[no-untyped-def]
        async def hook(unit: int, fc: int, address: int, count: int) -> ExcCodes | None:
            dev = self._by_port_unit.get((key, unit))
            if dev is None:
                return None
            now = self.clock()
            fault = modbus_fault(self.windows_of.get(dev, []), now)
            if fault is None:
                return None
            if fault.kind == "timeout":
                await asyncio.sleep(max(TIMEOUT_HOLD_S, min(fault.end - now, 10.0)))
                return None
            if fault.kind == "exception":
                return ExcCodes(fault.code)
            return None

        return hook

    def _mqtt_loop(self) -> None:
        due = dict.fromkeys(self.mqtt, 0.0)
        while not self._stop.is_set():
            now = time.time()
            for dev_id, m in self.mqtt.items():
                if now < due[dev_id]:
                    continue
                d = m.device
                assert d.meter is not None
                due[dev_id] = now + d.meter.period_s
                vals = self.values(dev_id, self.clock())
                try:
                    m.publish(lambda t, d=d, v=vals: native_payload(d, v, t, self.model.calendar.tz), now)
                except Exception:  # a broker away is a disconnect; try again next period
                    log.warning("mqtt device %s: publish failed", dev_id, exc_info=True)
                    m._connected = False
            self._stop.wait(0.1)


def _full_scale(rated: float, voltage_v: float) -> dict[str, float]:
    """Largest values a meter of this rating shows, to pick its scale-factor exponents."""
    i = rated * 1000.0 / (3 * voltage_v) * 3
    full = {"p_kw": rated * 3, "q_kvar": rated * 3, "s_kva": rated * 3, "demand_kw": rated * 3}
    full |= {f"p_l{n}_kw": rated * 2 for n in (1, 2, 3)} | {f"i_l{n}_a": i for n in (1, 2, 3)} | {"i_n_a": i}
    full |= {f"v_l{n}_v": voltage_v * 1.2 for n in (1, 2, 3)}
    full |= {f"v_l{n}_v": voltage_v * 2.1 for n in ("12", "23", "31")}
    full |= {"f_hz": 65.0, "pf": 1.0, "flow_nm3h": rated * 2, "flow_th": rated * 2}
    # Counters: room for years of running on the same scale factor.
    full |= dict.fromkeys(("e_imp_kwh", "e_exp_kwh", "eq_imp_kvarh", "eq_exp_kvarh", "vol_nm3", "mass_t"), 2e7)
    return full
