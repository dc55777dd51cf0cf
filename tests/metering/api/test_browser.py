"""Browser test in headless Debian Chromium: set a threshold through the form, cross it, see and acknowledge the alert.

Screenshots of both pages are saved under out/browser/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
import pytest
import uvicorn

from harness.browser import CHROMIUM_ARGS, ensure_chromium
from harness.mosquitto import Mosquitto
from harness.process import free_port, port_open, wait_until
from harness.web import ensure_web_assets
from metering.api.app import create_app
from metering.api.settings import ApiSettings
from metering.state.store import Store
from plantcarbon_core.influx import InfluxTarget, line, write_lines
from plantcarbon_core.plant import load_plant
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, encode_batch
from tests.metering.api.conftest import PLANT

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[3] / "out" / "browser"


class Served:
    def __init__(self, base: str, store: Store):
        self.base, self.store = base, store


@pytest.fixture
def served(mosquitto: Mosquitto, seeded_influx: InfluxTarget, tmp_path: Path) -> Iterator[Served]:
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    settings = ApiSettings(env="development", mqtt_url=mosquitto.url)
    app = create_app(settings, store=store, plant=load_plant(PLANT), influx=seeded_influx, start_alerts=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    wait_until(lambda: port_open("127.0.0.1", port), 15, "metering API")
    yield Served(f"http://127.0.0.1:{port}", store)
    server.should_exit = True
    t.join(10)
    store.close()


def seed_today(target: InfluxTarget) -> None:
    """Today's intervals and a live reading, as metering and ingest would have written them."""
    now = datetime.now(UTC)
    # All four intervals inside the site's "today" whatever the wall clock: spread them between
    # local midnight and now (just after midnight, "now - 15 min × i" would fall in yesterday).
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    lines = []
    for i in range(1, 5):
        ts = int((midnight + (now - midnight) * (5 - i) / 5).timestamp() * 1000)
        tags = {
            "site": "plant-a",
            "area": "substation",
            "device": "tr-01",
            "carrier": "electricity",
            "role": "main",
            "tou": "peak",
        }
        lines.append(line("energy", tags, {"amount": 950.0, "unit": "kWh", "tce_kg": 116.755, "cost": 959.5}, ts))
        etags = {
            "site": "plant-a",
            "area": "substation",
            "device": "tr-01",
            "carrier": "electricity",
            "scope": "2",
            "method": "location",
        }
        lines.append(line("emissions", etags, {"co2_kg": 475.0, "co2e_kg": 479.75, "factor": "test@1"}, ts))
    write_lines(target, target.metering_bucket, lines)


def test_energy_manager_sets_threshold_and_operator_acknowledges(
    served: Served, mosquitto: Mosquitto, seeded_influx: InfluxTarget
) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = ensure_chromium()
    ensure_web_assets()
    em_key = served.store.create_key("em-anna", "energy_manager")
    op_key = served.store.create_key("op-li", "operator")
    seed_today(seeded_influx)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(served.base + "/ui/thresholds.html")
            page.fill("#key", em_key)
            page.click("#key-form button")
            expect(page.locator("input[name=site]")).to_have_value("plant-a")

            # A rule the API refuses: the page shows the API's reason next to the form.
            form = page.locator("#rule")
            form.locator("input[name=id]").fill("tr-01-power")
            form.locator("input[name=name]").fill("Transformer 1 overload")
            form.locator("input[name=device]").fill("tr-01")
            form.locator("input[name=threshold]").fill("4000")
            form.locator("input[name=clear]").fill("4100")
            form.locator("select[name=severity]").select_option("critical")
            page.click("#save")
            expect(page.locator("#form-msg")).to_contain_text("clear (4100.0) must not be above threshold (4000.0)")

            form.locator("input[name=clear]").fill("3800")
            page.click("#save")
            expect(page.locator("#form-msg")).to_contain_text("Saved: tr-01-power")
            expect(page.locator("#rules tr[data-rule=tr-01-power]")).to_contain_text("critical")
            assert served.store.get_threshold("tr-01-power")["updated_by"] == "em-anna"
            page.screenshot(path=str(ARTIFACTS / "thresholds.png"), full_page=True)

            # The plant crosses the threshold: an edge publishes a reading batch; ingest's row for live power.
            now_ms = int(time.time() * 1000)
            write_lines(
                seeded_influx,
                seeded_influx.raw_bucket,
                [
                    line(
                        "electricity",
                        {
                            "site": "plant-a",
                            "area": "substation",
                            "device": "tr-01",
                            "kind": "transformer",
                            "edge": "e1",
                        },
                        {"p_kw": 4230.0},
                        now_ms,
                    )
                ],
            )
            batch = ReadingBatch("edge-01", "tr-01", 1, [Sample(now_ms, {"p_kw": 4230.0})])
            pub.publish(data_topic("plant-a", "tr-01"), encode_batch(batch), qos=1).wait_for_publish(5)

            ctl = browser.new_page(viewport={"width": 1280, "height": 860})
            ctl.goto(served.base + "/")
            ctl.fill("#key", op_key)
            ctl.click("#key-form button")
            row = ctl.locator("#alerts tr[data-rule=tr-01-power]")
            expect(row).to_contain_text("firing", timeout=10_000)
            expect(row).to_contain_text("Transformer 1 overload")
            expect(ctl.locator("#power")).to_have_text("4,230")
            expect(ctl.locator("#energy")).to_have_text("3,800")
            expect(ctl.locator("#limit")).to_have_text("4,000")
            ctl.screenshot(path=str(ARTIFACTS / "control-room-firing.png"), full_page=True)

            row.locator("button.ack").click()
            expect(ctl.locator("#alerts tr[data-rule=tr-01-power][data-state=acknowledged]")).to_have_count(1)
            expect(ctl.locator("#alerts button.ack")).to_have_count(0)
            alert = served.store.list_alerts("open")[0]
            assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == "op-li"

            ctl.click("header button.link")  # 中文
            expect(ctl.locator("h1")).to_contain_text("集控室")
            expect(ctl.locator("[data-t=alerts]")).to_have_text("当前告警")
            expect(ctl.locator("#dr")).to_have_text("当前无响应事件")
            expect(row).to_contain_text("已确认")
            ctl.screenshot(path=str(ARTIFACTS / "control-room-acknowledged-zh.png"), full_page=True)

            # Back on the thresholds page: edit the rule, then delete it.
            page.goto(served.base + "/ui/thresholds.html")
            rule_row = page.locator("#rules tr[data-rule=tr-01-power]")
            rule_row.locator("button.edit").click()
            expect(form.locator("input[name=threshold]")).to_have_value("4000")
            form.locator("input[name=threshold]").fill("4500")
            form.locator("input[name=clear]").fill("4300")
            page.click("#save")
            expect(page.locator("#form-msg")).to_contain_text("Saved: tr-01-power")
            expect(rule_row).to_contain_text("4500")
            assert served.store.get_threshold("tr-01-power")["version"] == 2
            rule_row.locator("button.delete").click()
            expect(rule_row).to_have_count(0)
            assert served.store.list_thresholds() == []
            assert [a["action"] for a in served.store.list_audit("threshold")] == ["delete", "update", "create"]
            print(f"screenshots in {ARTIFACTS}")
        finally:
            browser.close()
            pub.loop_stop()
            pub.disconnect()


FIGURES = [
    "power",
    "demand",
    "limit",
    "energy",
    "tce",
    "cost",
    "co2-ets",
    "co2-scope1",
    "co2-location",
    "co2-market",
]
CHARTS = ["chart-power", "chart-demand", "chart-sankey", "chart-breakdown"]


def _chart_points(page, chart_id: str) -> int:  # type: ignore[no-untyped-def]
    """Data points the page gave the ECharts instance drawing `chart_id` (0 when it has none)."""
    return int(
        page.evaluate(
            """(id) => { const c = echarts.getInstanceByDom(document.getElementById(id)); if (!c) return 0;
                 const o = c.getOption(); return o.series.reduce((n, s) => n + (s.data || s.links || []).length
                   + ((s.links || []).length), 0); }""",
            chart_id,
        )
    )


def test_control_room_panels_device_page_language_and_theme(served: Served, seeded_influx: InfluxTarget) -> None:
    """Every figure and chart shows data; a top consumer opens its device page; 中文 relabels everything."""
    from playwright.sync_api import expect, sync_playwright

    from tests.metering.api.controlroom_seed import seed_today as seed_controlroom

    chromium = ensure_chromium()
    ensure_web_assets()
    key = served.store.create_key("op-wang", "operator")
    seed_controlroom(seeded_influx)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(served.base + "/")
            page.fill("#key", key)
            page.click("#key-form button")
            expect(page.locator("#co2-location")).to_have_text("2,000")
            expect(page.locator("#co2-market")).to_have_text("1,200")
            expect(page.locator("#co2-scope1")).to_have_text("400")
            # plant-a has no kiln line: the carbon market tile says so instead of showing the boiler's gas.
            expect(page.locator("#co2-ets")).to_have_text("no emission unit")
            expect(page.locator("#intensity-direct")).to_have_text("no emission unit")
            expect(page.locator("#cbam-clinker")).to_have_text("no emission unit")
            for fig in FIGURES:
                expect(page.locator(f"#{fig}")).not_to_have_text("–")
                assert "NaN" not in page.locator(f"#{fig}").inner_text()
            # Completeness of the day counts today's *closed* intervals: in the first interval after
            # local midnight there is none, and the page must say so rather than invent a share.
            closed = httpx.get(
                served.base + "/api/v1/controlroom/live", headers={"Authorization": f"Bearer {key}"}, timeout=30
            ).json()["completeness"]
            if closed["intervals"] == 0:
                expect(page.locator("#completeness")).to_have_text("–")
                expect(page.locator("#completeness-detail")).to_contain_text("0 ")
            else:
                expect(page.locator("#completeness")).not_to_have_text("–")
                assert "NaN" not in page.locator("#completeness").inner_text()
            expect(page.locator("#top a.device-link")).to_have_count(2)
            for c in CHARTS:
                page.wait_for_function(
                    "(id) => { const c = echarts.getInstanceByDom(document.getElementById(id));"
                    " return !!c && c.getOption().series.some((s) => (s.data || []).length > 0 || (s.links || []).length > 0); }",
                    arg=c,
                )
                assert _chart_points(page, c) > 0, c
            expect(page.locator("#health-counts [data-state=offline] b")).to_have_text("2")  # pv-01, boiler-1
            page.screenshot(path=str(ARTIFACTS / "control-room-dark-en.png"), full_page=True)

            # Chinese: every label changes (those with a Chinese text different from the English one).
            en = page.evaluate(
                "() => [...document.querySelectorAll('[data-t]')].map((e) => [e.dataset.t, e.textContent])"
            )
            page.click("#lang")
            expect(page.locator("h1")).to_contain_text("集控室")
            zh = page.evaluate(
                "() => [...document.querySelectorAll('[data-t]')].map((e) => [e.dataset.t, e.textContent])"
            )
            same = [k for (k, a), (_, b) in zip(en, zh, strict=True) if a == b and a != ""]
            assert same == [], f"labels not translated: {same}"
            expect(page.locator("[data-u=kgce]").first).to_have_text("千克标准煤")
            expect(page.locator("#co2-ets")).to_have_text("无排放单元")
            expect(page.locator("[data-t=co2_ets]")).to_have_text("今日全国碳市场直接排放")
            page.click("#theme")
            expect(page.locator("html")).to_have_attribute("data-theme", "light")
            page.wait_for_function("() => !!echarts.getInstanceByDom(document.getElementById('chart-sankey'))")
            page.screenshot(path=str(ARTIFACTS / "control-room-light-zh.png"), full_page=True)
            page.click("#lang")
            page.click("#theme")

            # A top consumer opens its device page: live values, 24 h trend, today's figures by boundary.
            page.locator("#top a.device-link[data-device=kiln-1]").click()
            expect(page).to_have_url(served.base + "/ui/device.html?id=kiln-1")
            expect(page.locator("#dev-name")).to_contain_text("kiln-1")
            expect(page.locator("#values tr[data-quantity=p_kw]")).to_contain_text("1,500")
            expect(page.locator("#amount")).to_have_text("1,600")
            expect(page.locator("#co2-location")).to_have_text("800")
            expect(page.locator("#co2-market")).to_have_text("–")  # a sub-meter has no market-based row
            page.wait_for_function(
                "() => { const c = echarts.getInstanceByDom(document.getElementById('chart-device'));"
                " return !!c && c.getOption().series.length > 0; }"
            )
            page.screenshot(path=str(ARTIFACTS / "device-kiln-1.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
