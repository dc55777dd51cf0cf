"""The running alert engine: reading batches from MQTT in, rule states in memory, alerts out.

Readings are evaluated as they arrive on `pc/+/+/data` (decoded with the wire codec), so an
alert goes out within a second or so of the reading; a 1 s tick evaluates data age (device
offline / data gap) and reloads rules changed by another process.

Bad input: anything on a data topic that is not a valid batch is counted by reason and logged
once per reason; stored rules that no longer validate are skipped and logged once. Nothing a
message does leaves `_on_message` (paho would end its network thread: no more alerts, no
reconnects): an unexpected error is logged with its traceback and counted as `internal_error`.
`liveness` reports the network and tick threads for /healthz.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from metering.alerts.engine import RuleState, evaluate
from metering.alerts.notify import AlertEvent, Dispatcher, Sink, alert_line
from metering.alerts.rules import RuleSpec
from metering.carbon.factor_registry import FactorNotFound, grid_factor_now
from metering.state.store import Store
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxQLError, InfluxTarget, influxql, quote_ident, quote_literal, write_lines
from plantcarbon_core.liveness import Liveness
from plantcarbon_core.mqtt import BrokerConfig, make_client
from plantcarbon_core.plant import Plant
from plantcarbon_core.wire import Sample, WireError, alert_topic, data_subscription, decode_batch, parse_topic

log = logging.getLogger(__name__)

MAX_WINDOW_MS = 24 * 3600 * 1000  # counters kept for intensity windows (rules allow up to 24 h)


@dataclass
class _Rule:
    spec: RuleSpec
    version: int
    state: RuleState = field(default_factory=RuleState)


class AlertService:
    def __init__(
        self,
        store: Store,
        plant: Plant | None,
        broker: BrokerConfig | str,
        prefix: str = "pc",
        extra_sinks: list[tuple[str, Sink]] | None = None,
        influx: InfluxTarget | None = None,
        tick_s: float = 1.0,
        plant_dir: Path | None = None,
        data_dir: Path | None = None,
    ):
        self.store = store
        self.plant = plant
        self.prefix = prefix
        self.tz = plant.site.tz if plant else ZoneInfo("UTC")
        self.influx = influx
        self.tick_s = tick_s
        self.bad_payloads: Counter[str] = Counter()
        self.readings = 0
        self._rules: dict[str, _Rule] = {}
        self._lock = threading.RLock()
        self._last_seen: dict[tuple[str, str], float] = {}
        self._power: dict[tuple[str, str], float] = {}
        # Cumulative counters for intensity: (site, device, quantity) → [(ts_ms, value)] over the window.
        self._counters: dict[tuple[str, str, str], deque[tuple[int, float]]] = {}
        self._started = time.time()
        # Called once per reading batch with (site, device, newest sample ts in ms): e.g. the control
        # room's last-seen tracker. Must be cheap and never raise (they run on paho's network thread).
        self.observers: list[Callable[[str, str, int], None]] = []
        # Periodic checks other parts add (the register's calibration check): run on the first tick, then
        # every `check_every_s`. Each raises its alerts through `notify`; a failing check is logged, never fatal.
        self.checks: list[Callable[[], None]] = []
        self.check_every_s = 3600.0
        self._checked_at: float | None = None
        self._stop = threading.Event()
        self._bad_rules: set[tuple[str, int]] = set()
        self.broker = BrokerConfig(url=broker) if isinstance(broker, str) else broker
        self._host, self._port = self.broker.host, self.broker.port
        # MQTT 3.1.1: the engine needs no MQTT 5 feature, and any broker speaks it.
        self.client = make_client(self.broker, f"pc-alerts-{id(self):x}", v5=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        sinks: list[tuple[str, Sink]] = [("mqtt", self._publish)]
        if influx is not None:
            sinks.append(("influx", self._write_influx))
        self.dispatcher = Dispatcher(sinks + list(extra_sinks or []))
        self._tick_thread = threading.Thread(target=self._tick_loop, name="alert-tick", daemon=True)
        self.liveness = Liveness()
        # Where the factor files are (the plant file's folder, the API's data dir): see grid_factor.
        self._plant_dir, self._data_dir = plant_dir, data_dir
        self._grid_problem: str | None = None
        self.grid_kg_per_kwh = self._grid_factor()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> AlertService:
        self.reload()
        self.client.connect_async(self._host, self._port, keepalive=30)
        self.client.loop_start()
        self._tick_thread.start()
        self.liveness.watch("tick", self._tick_thread, stale_after_s=max(30.0, 10 * self.tick_s))
        # No data for a while is not a fault (the tick reports silent devices): alive only.
        self.liveness.watch("mqtt", self._network_alive, stale_after_s=float("inf"))
        return self

    def _network_alive(self) -> bool:
        thread = getattr(self.client, "_thread", None)
        return self._stop.is_set() or (thread is not None and thread.is_alive())

    def stop(self) -> None:
        self._stop.set()
        self.dispatcher.close()
        self.client.loop_stop()
        self.client.disconnect()

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.client.is_connected():
                return True
            time.sleep(0.05)
        return False

    def wait_subscribed(self, timeout_s: float = 10.0) -> bool:
        """True once the broker acknowledged the engine's subscription (readings published after it are heard)."""
        return self._subscribed.wait(timeout_s)

    def _on_connect(self, client: mqtt.Client, _ud: object, _flags: object, rc: object, _props: object) -> None:
        client.subscribe(data_subscription(self.prefix), qos=1)

    # --- rules --------------------------------------------------------------------------

    def reload(self) -> None:
        """Take the thresholds from the store (an unchanged rule keeps its state) and the grid factor again."""
        self.grid_kg_per_kwh = self._grid_factor()
        fresh: dict[str, _Rule] = {}
        for doc in self.store.list_thresholds():
            body = {k: v for k, v in doc.items() if k not in ("version", "updated_at", "updated_by")}
            try:
                spec = RuleSpec.model_validate(body)
            except ValidationError as exc:
                if (doc["id"], doc["version"]) not in self._bad_rules:
                    self._bad_rules.add((doc["id"], doc["version"]))
                    log.warning("threshold %s v%s no longer validates, skipped: %s", doc["id"], doc["version"], exc)
                continue
            with self._lock:
                old = self._rules.get(spec.id)
            if old is not None and old.version == doc["version"]:
                fresh[spec.id] = old
            else:
                # A changed rule starts over; an alert it left open is picked up as active.
                fresh[spec.id] = _Rule(spec, doc["version"], RuleState(active=store_open(self.store, spec.id)))
        with self._lock:
            gone = set(self._rules) - set(fresh)
            self._rules = fresh
        for rule_id in gone:
            self._resolve_orphan(rule_id)

    def _resolve_orphan(self, rule_id: str) -> None:
        open_ = self.store.open_alert(rule_id)
        if open_ is not None:
            done = self.store.resolve_alert(open_["id"], datetime.now(UTC), open_["value"])
            self._emit(done, "rule deleted")

    # --- readings -----------------------------------------------------------------------

    def _on_message(self, _c: mqtt.Client, _ud: object, msg: mqtt.MQTTMessage) -> None:
        self.liveness.beat("mqtt")
        try:
            self._handle(msg)
        except Exception as exc:  # a bug must not end paho's network thread
            if self.bad_payloads["internal_error"] == 0:
                log.exception("alert engine: unexpected error on a message from %s", msg.topic)
            self._count_bad("internal_error", f"{type(exc).__name__}: {exc}")

    def _handle(self, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = parse_topic(msg.topic, self.prefix)
            batch = decode_batch(bytes(msg.payload))
        except WireError as exc:
            self._count_bad(exc.reason, str(exc))
            return
        if topic.site is None or topic.device != batch.device:
            self._count_bad("device_mismatch", f"topic {msg.topic} carries device {batch.device!r}")
            return
        self.feed(topic.site, batch.device, batch.samples)

    def _count_bad(self, reason: str, message: str) -> None:
        if self.bad_payloads[reason] == 0:
            log.warning("alert engine: bad payload (%s): %s", reason, message)
        self.bad_payloads[reason] += 1

    def feed(self, site: str, device: str, samples: list[Sample]) -> None:
        """Evaluate every rule that watches this device (or the site's power) on these samples."""
        arrival = time.time()
        # Samples with values only: one whose every value is bad writes no reading (as ingest does).
        read = [s.ts for s in samples if s.values]
        if read:
            newest = max(read)
            for observe in self.observers:
                observe(site, device, newest)
        with self._lock:
            self._last_seen[(site, device)] = arrival
            for sample in sorted(samples, key=lambda s: s.ts):
                self.readings += 1
                if "p_kw" in sample.values and self._counts_to_site(device):
                    self._power[(site, device)] = sample.values["p_kw"]
                for q in ("e_imp_kwh", "output_t"):
                    if q in sample.values and (q == "output_t" or self._counts_to_site(device)):
                        self._remember(site, device, q, sample.ts, sample.values[q])
                for rule in self._rules.values():
                    spec = rule.spec
                    if spec.site != site:
                        continue
                    if spec.metric == "quantity" and spec.device == device and spec.quantity in sample.values:
                        assert spec.quantity is not None
                        self._step(rule, sample.values[spec.quantity], sample.ts)
                    elif (
                        spec.metric in ("site_power", "site_co2_kg_h")
                        and "p_kw" in sample.values
                        and self._counts_to_site(device)
                    ):
                        total = sum(v for (s, _d), v in self._power.items() if s == site)
                        if spec.metric == "site_power":
                            self._step(rule, total, sample.ts)
                        elif self.grid_kg_per_kwh is not None:
                            # kW × kg/kWh = kg/h.
                            self._step(rule, total * self.grid_kg_per_kwh, sample.ts)
                    elif spec.metric == "intensity_kwh_per_t" and spec.device == device and "output_t" in sample.values:
                        value = self._intensity(site, device, spec.window_s)
                        if value is not None:
                            self._step(rule, value, sample.ts)

    def _remember(self, site: str, device: str, quantity: str, ts_ms: int, value: float) -> None:
        hist = self._counters.setdefault((site, device, quantity), deque())
        hist.append((ts_ms, value))
        while hist and hist[0][0] < ts_ms - MAX_WINDOW_MS:
            hist.popleft()

    def _intensity(self, site: str, product_device: str, window_s: float) -> float | None:
        """kWh of the site's main electricity meters per tonne of product over the last `window_s`.

        Counter deltas within the window; a counter that went backwards (reset, replaced meter)
        or no product made gives no value rather than a wrong one.
        """
        out = self._delta(self._counters.get((site, product_device, "output_t")), window_s)
        if out is None or out <= 0:
            return None
        energy = 0.0
        for (s, _d, q), hist in self._counters.items():
            if s == site and q == "e_imp_kwh":
                d = self._delta(hist, window_s)
                if d is None or d < 0:
                    return None
                energy += d
        return energy / out

    @staticmethod
    def _delta(hist: deque[tuple[int, float]] | None, window_s: float) -> float | None:
        if not hist:
            return None
        end_ts, end_v = hist[-1]
        start = next(((t, v) for t, v in hist if t >= end_ts - window_s * 1000), None)
        if start is None or start[0] == end_ts:
            return None
        return end_v - start[1]

    def _counts_to_site(self, device: str) -> bool:
        if self.plant is None:
            return True
        try:
            d = self.plant.device(device)
        except KeyError:
            return False
        return d.role == "main" and d.carrier == "electricity"

    def tick(self, now_s: float | None = None, demand: dict[str, float] | None = None) -> None:
        """Evaluate data-age rules (device offline, data gap) and demand forecast against the limit.

        `demand`: site → forecast % of limit; read from the `demand` measurement when not given.
        """
        t = time.time() if now_s is None else now_s
        with self._lock:
            sites = {r.spec.site for r in self._rules.values() if r.spec.metric == "demand_forecast_pct"}
        if demand is None:
            demand = {s: v for s in sites if (v := self._demand_pct(s)) is not None}
        with self._lock:
            for rule in self._rules.values():
                if rule.spec.metric == "demand_forecast_pct" and rule.spec.site in demand:
                    self._step(rule, demand[rule.spec.site], int(t * 1000))
            for rule in self._rules.values():
                spec = rule.spec
                if spec.metric == "data_age_s" and spec.device is not None:
                    seen = self._last_seen.get((spec.site, spec.device), self._started)
                    self._step(rule, t - seen, int(t * 1000))

    def _demand_pct(self, site: str) -> float | None:
        """The demand engine's latest forecast as % of the limit (written every minute or so)."""
        if self.influx is None:
            return None
        q = (
            f'SELECT last("forecast_kw") AS "f", last("limit_kw") AS "l" FROM {quote_ident(sc.DEMAND)} '
            f'WHERE "site" = {quote_literal(site)} AND time > now() - 30m AND time <= now()'
        )
        try:
            df = influxql(self.influx, q, self.influx.metering_bucket, timeout_s=5)
        except InfluxQLError as exc:
            self._count_bad("influx_down", str(exc))
            return None
        if df.empty or not df["l"].iloc[0]:
            return None
        return float(100 * df["f"].iloc[0] / df["l"].iloc[0])

    def _tick_loop(self) -> None:
        n = 0
        while not self._stop.wait(self.tick_s):
            self.liveness.beat("tick")
            n += 1
            try:
                self.tick()
                if n % 5 == 0:
                    self.reload()
            except Exception:  # the engine must keep going; the traceback says what broke
                log.exception("alert tick failed")
            if self._checked_at is None or time.monotonic() - self._checked_at >= self.check_every_s:
                self._checked_at = time.monotonic()
                self.run_checks()

    def run_checks(self) -> None:
        """Run the periodic checks now (each on its own: one failing does not stop the others)."""
        for chk in list(self.checks):
            try:
                chk()
            except Exception:
                log.exception("periodic alert check failed")

    def _step(self, rule: _Rule, value: float, ts_ms: int) -> None:
        out = evaluate(rule.spec, rule.state, value, ts_ms, self.tz)
        rule.state = out.state
        spec = rule.spec
        at = datetime.fromtimestamp(ts_ms / 1000, UTC)
        if out.change == "fire":
            if self.store.open_alert(spec.id) is not None:
                return  # already open (e.g. after a restart): do not notify twice
            name = spec.name or spec.describe()
            row = self.store.fire_alert(
                spec.id, spec.site, spec.severity, out.value, spec.reference, f"{name}: {out.value:g}", at
            )
            self._emit(row)
        elif out.change == "resolve":
            open_ = self.store.open_alert(spec.id)
            if open_ is not None:
                self._emit(self.store.resolve_alert(open_["id"], at, out.value))

    # --- notifications ------------------------------------------------------------------

    def acknowledge(self, alert_id: int, actor: str) -> dict[str, object]:
        row = self.store.acknowledge_alert(alert_id, actor)
        self._emit(row, by=actor)
        return row

    def notify(self, row: dict[str, object]) -> None:
        """Send an alert row changed outside the rules (fired or resolved by a periodic check) to every sink."""
        self._emit(row)

    def _emit(self, row: dict[str, object], note: str | None = None, by: str | None = None) -> None:
        ts = row.get("resolved_at") or row.get("acknowledged_at") or row["fired_at"]
        assert isinstance(ts, datetime)
        msg = str(row["message"]) + (f" ({note})" if note else "")
        ev = AlertEvent(
            site=str(row["site"]),
            rule=str(row["rule"]),
            alert_id=int(row["id"]),  # type: ignore[call-overload]
            state=str(row["state"]),
            severity=str(row["severity"]),
            value=float(row["value"]),  # type: ignore[arg-type]
            threshold=float(row["threshold"]),  # type: ignore[arg-type]
            message=msg,
            ts_ms=int(ts.timestamp() * 1000),
            by=by,
        )
        self.dispatcher.submit(ev)

    def _publish(self, ev: AlertEvent) -> None:
        info = self.client.publish(
            alert_topic(ev.site, ev.rule, self.prefix), json.dumps(ev.payload()), qos=1, retain=True
        )
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"MQTT publish failed with rc={info.rc}")

    def _write_influx(self, ev: AlertEvent) -> None:
        assert self.influx is not None
        write_lines(self.influx, self.influx.metering_bucket, [alert_line(ev)])

    def _grid_factor(self) -> float | None:
        """kg CO2 per kWh of the site's grid now (location-based), for the CO2-rate metric; None, said once, if none."""
        if self.plant is None:
            return None
        try:
            kg = grid_factor_now(self.plant, self._plant_dir, self._data_dir).kg_per("kWh")
        except (FactorNotFound, ValueError) as exc:  # ValueError: a bad factor file (DataFileError)
            problem = str(exc)
            if problem != self._grid_problem:
                log.warning(
                    "no grid factor for %s: CO2-rate rules will not fire (%s)", self.plant.site.grid_region, exc
                )
            self._grid_problem = problem
            return None
        self._grid_problem = None
        return kg


def store_open(store: Store, rule_id: str) -> bool:
    return store.open_alert(rule_id) is not None
