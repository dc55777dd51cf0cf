"""The alert engine end to end: a real Mosquitto, reading batches crossing a threshold, MQTT + webhook + InfluxDB."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.mosquitto import Mosquitto
from metering.alerts.notify import AlertEvent, Webhook, webhook_name, webhook_sink
from metering.alerts.service import AlertService
from metering.state.store import Store
from plantcarbon_core.influx import InfluxTarget, influxql
from plantcarbon_core.mqtt import BrokerConfig
from plantcarbon_core.plant import Plant, load_plant
from plantcarbon_core.wire import Sample
from tests.metering.alerts.conftest import WebhookReceiver
from tests.support.mqtt import Collector, Publisher
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PLANT = Path(__file__).resolve().parents[3] / "examples" / "plant-a.yaml"


@pytest.fixture
def plant() -> Plant:
    return load_plant(PLANT)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield s
    s.close()


RULE = {
    "id": "tr-01-power",
    "site": "plant-a",
    "name": "Transformer 1 power",
    "device": "tr-01",
    "quantity": "p_kw",
    "condition": "above",
    "threshold": 4000.0,
    "clear": 3800.0,
    "severity": "critical",
}


def test_threshold_crossing_notifies_mqtt_webhooks_and_influx_within_5_s(
    mosquitto: Mosquitto,
    influx_target: InfluxTarget,
    plant: Plant,
    store: Store,
    webhook_receiver: WebhookReceiver,
    collector: Callable[..., Collector],
) -> None:
    hooks = [
        Webhook.model_validate({"url": webhook_receiver.url + "/generic", "format": "generic"}),
        Webhook.model_validate({"url": webhook_receiver.url + "/wecom", "format": "wecom"}),
        Webhook.model_validate(
            {"url": webhook_receiver.url + "/dingtalk?access_token=t", "format": "dingtalk", "secret": "s3"}
        ),
    ]
    store.create_threshold(RULE, "em-1")
    svc = AlertService(
        store,
        plant,
        mosquitto.url,
        influx=influx_target,
        extra_sinks=[(webhook_name(h), webhook_sink(h)) for h in hooks],
    ).start()
    alerts = collector(mosquitto, "pc/plant-a/alerts/#", skip_retained=True)  # retained: earlier news
    pub = Publisher(mosquitto)
    try:
        assert svc.wait_connected()
        assert svc.wait_subscribed()
        pub.send("tr-01", {"p_kw": 3900.0})
        pub.publish("pc/plant-a/tr-01/data", b"not json").wait_for_publish(5)
        assert wait_until(lambda: svc.readings >= 1 and svc.bad_payloads["not_json"] == 1, 5)
        assert alerts.messages == []

        sent_at = pub.send("tr-01", {"p_kw": 4210.5, "pf": 0.93})
        # The bound: from the reading's arrival to the notification, at most 5 s.
        assert wait_until(lambda: len(alerts.messages) >= 1 and len(webhook_receiver.got) >= 3, 5.0), (
            alerts.messages,
            webhook_receiver.got,
        )
        topic, payload, mqtt_at = alerts.messages[0].topic, alerts.messages[0].json(), alerts.messages[0].at
        print(
            f"reading → MQTT alert {mqtt_at - sent_at:.3f} s; → webhooks {max(r.at for r in webhook_receiver.got) - sent_at:.3f} s"
        )
        assert topic == "pc/plant-a/alerts/tr-01-power"
        assert payload["schema"] == "pc.alert/1" and payload["state"] == "firing" and payload["severity"] == "critical"
        assert payload["value"] == 4210.5 and payload["threshold"] == 4000.0
        by_path = {r.path.split("?")[0]: r for r in webhook_receiver.got}
        assert by_path["/generic"].body == payload
        assert (
            by_path["/wecom"].body["msgtype"] == "markdown"
            and "4210.5" in by_path["/wecom"].body["markdown"]["content"]
        )
        dt = next(r for r in webhook_receiver.got if r.path.startswith("/dingtalk"))
        assert "timestamp=" in dt.path and "sign=" in dt.path and "access_token=t" in dt.path

        # Hovering between the clear level and the threshold neither resolves nor fires again.
        pub.send("tr-01", {"p_kw": 3950.0})
        pub.send("tr-01", {"p_kw": 4050.0})
        # Heard (4 readings so far); a wrong event would come before the acknowledgement below.
        assert wait_until(lambda: svc.readings >= 4, 5)
        assert len(alerts.messages) == 1
        open_alert = store.list_alerts("open")[0]
        assert open_alert["state"] == "firing"

        svc.acknowledge(open_alert["id"], "operator-1")
        assert wait_until(lambda: len(alerts.messages) >= 2, 5)
        assert alerts.messages[1].json()["state"] == "acknowledged" and alerts.messages[1].json()["by"] == "operator-1"

        pub.send("tr-01", {"p_kw": 3700.0})
        assert wait_until(lambda: len(alerts.messages) >= 3, 5)
        assert alerts.messages[2].json()["state"] == "resolved" and alerts.messages[2].json()["value"] == 3700.0
        assert store.get_alert(open_alert["id"])["state"] == "resolved"
        assert wait_until(lambda: len(webhook_receiver.got) >= 9, 5)

        # Every state change is a point of the `alerts` measurement, for Grafana annotations.
        def points() -> list[str]:
            df = influxql(influx_target, 'SELECT "state", "value" FROM "alerts"', influx_target.metering_bucket)
            return [] if df.empty else list(df["state"])

        assert wait_until(lambda: points() == ["firing", "acknowledged", "resolved"], 10), points()
        assert svc.dispatcher.errors == {}
    finally:
        pub.close()
        svc.stop()


def test_alert_state_survives_a_restart_without_renotifying(mosquitto: Mosquitto, plant: Plant, store: Store) -> None:
    store.create_threshold(RULE, "em-1")
    events: list[AlertEvent] = []
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[("list", events.append)])
    svc.reload()
    svc.feed("plant-a", "tr-01", [Sample(1772589600000, {"p_kw": 4500.0})])
    svc.dispatcher.close()
    assert [e.state for e in events] == ["firing"]
    events2: list[AlertEvent] = []
    again = AlertService(store, plant, mosquitto.url, extra_sinks=[("list", events2.append)])
    again.reload()
    again.feed("plant-a", "tr-01", [Sample(1772589601000, {"p_kw": 4600.0})])
    again.feed("plant-a", "tr-01", [Sample(1772589602000, {"p_kw": 3000.0})])
    again.dispatcher.close()
    assert [e.state for e in events2] == ["resolved"]
    assert len(store.list_alerts()) == 1


def test_site_power_and_device_offline_rules(mosquitto: Mosquitto, plant: Plant, store: Store) -> None:
    store.create_threshold(
        {"id": "site-power", "site": "plant-a", "metric": "site_power", "condition": "above", "threshold": 4000.0}, "em"
    )
    store.create_threshold(
        {"id": "boiler-offline", "site": "plant-a", "metric": "data_age_s", "device": "boiler-1", "threshold": 60.0},
        "em",
    )
    events: list[AlertEvent] = []
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[("list", events.append)])
    svc.reload()
    ts = 1772589600000
    # Sub-meters (kiln-1 under tr-01) never add to the site's power: only tr-01 is a main electricity meter.
    svc.feed("plant-a", "kiln-1", [Sample(ts, {"p_kw": 3000.0})])
    svc.feed("plant-a", "tr-01", [Sample(ts, {"p_kw": 3500.0})])
    assert events == []
    svc.feed("plant-a", "tr-01", [Sample(ts + 1000, {"p_kw": 4100.0})])
    svc.tick(now_s=time.time() + 30)
    svc.tick(now_s=time.time() + 61)
    svc.dispatcher.close()
    assert [(e.rule, e.state) for e in events] == [("site-power", "firing"), ("boiler-offline", "firing")]
    assert events[1].value > 60


def test_deleting_a_rule_resolves_its_open_alert(mosquitto: Mosquitto, plant: Plant, store: Store) -> None:
    store.create_threshold(RULE, "em-1")
    events: list[AlertEvent] = []
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[("list", events.append)])
    svc.reload()
    svc.feed("plant-a", "tr-01", [Sample(1772589600000, {"p_kw": 4500.0})])
    store.delete_threshold("tr-01-power", "em-1")
    svc.reload()
    svc.dispatcher.close()
    assert [e.state for e in events] == ["firing", "resolved"] and "rule deleted" in events[1].message


def test_a_failing_webhook_does_not_stop_the_others(mosquitto: Mosquitto, plant: Plant, store: Store) -> None:
    store.create_threshold(RULE, "em-1")
    events: list[AlertEvent] = []
    dead = Webhook.model_validate({"url": "http://127.0.0.1:9/hook", "timeout_s": 0.5})
    svc = AlertService(
        store, plant, mosquitto.url, extra_sinks=[("dead", webhook_sink(dead, retries=0)), ("list", events.append)]
    )
    svc.reload()
    svc.feed("plant-a", "tr-01", [Sample(1772589600000, {"p_kw": 4500.0})])
    svc.dispatcher.close()
    assert [e.state for e in events] == ["firing"] and svc.dispatcher.errors["dead"] == 1


def test_co2_rate_rule_uses_the_grid_factor(mosquitto: Mosquitto, plant: Plant, store: Store) -> None:
    # plant-a is on the East China grid: 0.55 tCO2/MWh = 0.55 kg/kWh for 2023, the newest regional value
    # (生态环境部 国家统计局《关于发布2023年电力二氧化碳排放因子的公告》), carried forward by the registry.
    store.create_threshold(
        {"id": "co2-rate", "site": "plant-a", "metric": "site_co2_kg_h", "condition": "above", "threshold": 2000.0},
        "em",
    )
    events: list[AlertEvent] = []
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[("list", events.append)])
    assert svc.grid_kg_per_kwh == pytest.approx(0.55)
    svc.reload()
    ts = 1772589600000
    svc.feed("plant-a", "tr-01", [Sample(ts, {"p_kw": 3600.0})])  # 3600 kW × 0.55 = 1980 kg/h
    svc.feed("plant-a", "tr-01", [Sample(ts + 1000, {"p_kw": 3700.0})])  # 2035 kg/h
    svc.dispatcher.close()
    assert [(e.rule, e.state) for e in events] == [("co2-rate", "firing")]
    assert events[0].value == pytest.approx(2035.0)


def test_co2_rate_rule_takes_the_grid_factor_of_an_uploaded_factor_file(
    mosquitto: Mosquitto, plant: Plant, store: Store, tmp_path: Path
) -> None:
    """Regression (issue 15): the engine read the shipped and plant-file factors only, so a factor
    file an energy manager uploads through the API did not change the CO2 rate."""
    from fastapi.testclient import TestClient

    from metering.api.app import create_app
    from metering.api.settings import ApiSettings
    from metering.carbon.factor_registry import grid_factor_now

    data_dir = tmp_path / "data"
    in_force = grid_factor_now(plant, PLANT.parent, data_dir)  # the factor the registry applies today
    store.create_threshold(
        {"id": "co2-rate", "site": "plant-a", "metric": "site_co2_kg_h", "condition": "above", "threshold": 2000.0},
        "em",
    )
    events: list[AlertEvent] = []
    svc = AlertService(
        store, plant, mosquitto.url, extra_sinks=[("list", events.append)], plant_dir=PLANT.parent, data_dir=data_dir
    )
    assert svc.grid_kg_per_kwh == pytest.approx(in_force.kg_per("kWh"))
    svc.reload()
    ts = 1772589600000
    power_kw = 2000.0 / in_force.kg_per("kWh") * 0.8  # 80 % of the threshold with the factor in force
    svc.feed("plant-a", "tr-01", [Sample(ts, {"p_kw": power_kw})])
    assert events == []

    # The same id@version with a corrected value replaces the factor in force (docs/metering.md §3).
    corrected = {**in_force.model_dump(mode="json", exclude_none=True), "value": round(in_force.value * 1.5, 4)}
    settings = ApiSettings(env="development", data_dir=data_dir)
    app = create_app(settings, store=store, plant=plant, alerts_service=svc, start_alerts=False)
    key = store.create_key("em-upload", "energy_manager")
    with TestClient(app) as client:
        r = client.put(
            "/api/v1/factors/files/correction",
            json={"set": "correction", "factors": [corrected]},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 200, r.text
    assert svc.grid_kg_per_kwh == pytest.approx(corrected["value"])  # tCO2/MWh = kg/kWh

    svc.feed("plant-a", "tr-01", [Sample(ts + 1000, {"p_kw": power_kw})])  # 80 % × 1.5 = 120 % of the threshold
    svc.dispatcher.close()
    assert [(e.rule, e.state) for e in events] == [("co2-rate", "firing")]
    assert events[0].value == pytest.approx(power_kw * corrected["value"])


def test_demand_forecast_against_the_limit(
    mosquitto: Mosquitto, influx_target: InfluxTarget, plant: Plant, store: Store
) -> None:
    from plantcarbon_core.influx import line, write_lines

    store.create_threshold(
        {
            "id": "demand-prealarm",
            "site": "plant-a",
            "metric": "demand_forecast_pct",
            "condition": "above",
            "threshold": 95.0,
            "clear": 90.0,
            "severity": "critical",
        },
        "em",
    )
    events: list[AlertEvent] = []
    svc = AlertService(store, plant, mosquitto.url, influx=influx_target, extra_sinks=[("list", events.append)])
    svc.reload()
    now_ms = int(time.time() * 1000)
    tags = {"site": "plant-a", "device": "tr-01"}
    # Rows as the demand engine writes them: forecast 3880 of a 4000 kW limit = 97 %.
    write_lines(
        influx_target,
        influx_target.metering_bucket,
        [line("demand", tags, {"demand_kw": 3700.0, "forecast_kw": 3880.0, "limit_kw": 4000.0}, now_ms - 1000)],
    )
    svc.tick()
    write_lines(
        influx_target,
        influx_target.metering_bucket,
        [line("demand", tags, {"demand_kw": 3500.0, "forecast_kw": 3560.0, "limit_kw": 4000.0}, now_ms)],
    )
    svc.tick()
    svc.dispatcher.close()
    assert [(e.state, round(e.value, 1)) for e in events] == [("firing", 97.0), ("resolved", 89.0)]


def test_engine_over_tls_with_client_certificate_and_password(
    secure_mosquitto: Mosquitto, plant: Plant, store: Store
) -> None:
    from tests.conftest import SECURE_USERS

    tls = secure_mosquitto.tls
    assert tls is not None
    store.create_threshold(RULE, "em-1")
    events: list[AlertEvent] = []
    svc = AlertService(
        store,
        plant,
        BrokerConfig(
            url=secure_mosquitto.url,
            username="reader",
            password=SECURE_USERS["reader"],
            ca_file=str(tls.ca),
            cert_file=str(tls.client_cert),
            key_file=str(tls.client_key),
        ),
        extra_sinks=[("list", events.append)],
    ).start()
    pub = Publisher(secure_mosquitto, user="edge-01")
    try:
        assert svc.wait_subscribed()
        pub.send("tr-01", {"p_kw": 4500.0})
        assert wait_until(lambda: [e.state for e in events] == ["firing"], 5)
    finally:
        pub.close()
        svc.stop()


def test_energy_intensity_per_tonne(mosquitto: Mosquitto, store: Store) -> None:
    from plantcarbon_core.plant import parse_plant

    plant = parse_plant(
        """
site: {id: plant-b, name: B}
devices:
  - {id: tr-01, name: T1, kind: transformer, carrier: electricity}
  - {id: kiln-1, name: K1, kind: kiln, carrier: electricity, role: sub, parent: tr-01}
  - {id: line-1, name: Clinker line, kind: production_line, carrier: production}
"""
    )
    store.create_threshold(
        {
            "id": "kiln-intensity",
            "site": "plant-b",
            "metric": "intensity_kwh_per_t",
            "device": "line-1",
            "threshold": 62.0,
            "clear": 55.0,
            "window_s": 3600,
        },
        "em",
    )
    events: list[AlertEvent] = []
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[("list", events.append)])
    svc.reload()
    t0 = 1772589600000
    minute = 60_000
    # 60 minutes: tr-01 imports 3000 kWh (kiln-1 is its sub-meter and is not added), the line makes 50 t.
    for i in range(61):
        ts = t0 + i * minute
        svc.feed("plant-b", "tr-01", [Sample(ts, {"e_imp_kwh": 100_000.0 + 50.0 * i})])
        svc.feed("plant-b", "kiln-1", [Sample(ts, {"e_imp_kwh": 9_000.0 + 20.0 * i})])
        svc.feed("plant-b", "line-1", [Sample(ts, {"output_t": 1_000.0 + 50 / 60 * i})])
    assert events == []  # 3000 kWh / 50 t = 60 kWh/t: not above 62
    # The next half hour the line slows: 1500 kWh more for 20 t → over the last hour 3000 kWh / 35 t ≈ 85.7.
    for i in range(61, 91):
        ts = t0 + i * minute
        svc.feed("plant-b", "tr-01", [Sample(ts, {"e_imp_kwh": 100_000.0 + 50.0 * i})])
        svc.feed("plant-b", "line-1", [Sample(ts, {"output_t": 1_050.0 + 20 / 30 * (i - 60)})])
    svc.dispatcher.close()
    assert [e.state for e in events] == ["firing"]
    assert 62 < events[0].value < 86
