"""The control room against the demo stack on the small plant: history from the first look, every panel filled.

Runs `plantcarbon simulate demo --scenario small` (its own Mosquitto, InfluxDB, meters, edge,
ingest, metering, demand and API), waits for its 7-day history, then drives headless Chromium:
every figure and chart has data (no dash, no NaN), a top consumer opens its device page.
Screenshots land in out/browser/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harness.browser import CHROMIUM_ARGS, ensure_chromium
from harness.process import wait_until
from harness.web import ensure_web_assets
from plantcarbon.demo import DEMO_ADMIN_KEY

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "browser"
FIGURES = [
    "power", "energy", "tce", "cost", "co2-ets", "co2-scope1", "co2-location", "co2-market",
    "intensity", "intensity-direct", "completeness",
]  # fmt: skip
CHARTS = ["chart-power", "chart-demand", "chart-sankey", "chart-breakdown"]


class DemoRun:
    """The demo as a subprocess; its plain output lines collected as they come."""

    def __init__(self, workdir: Path):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plantcarbon", "simulate", "demo", "--scenario", "small", "--duration", "600",
             "--workdir", str(workdir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "1000"},
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for ln in self.proc.stdout:
            self.lines.append(ln)

    def text(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)


def test_control_room_on_the_demo_has_data_in_every_panel(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = ensure_chromium()
    ensure_web_assets()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    demo = DemoRun(tmp_path)
    try:
        wait_until(lambda: "history: 7 days seeded" in demo.text() or demo.proc.poll() is not None, 300, "seeding")
        assert "history: 7 days seeded" in demo.text(), demo.text()[-3000:]
        m = re.search(r"metering API\s+(http://127\.0\.0\.1:\d+)/", demo.text())
        assert m, demo.text()[-3000:]
        base = m.group(1)
        # Just after the site's midnight no interval of "today" is closed yet: today's figures are rightly empty.
        local = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
        day_started = local.hour > 0 or local.minute >= 20
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(base + "/")
                page.fill("#key", DEMO_ADMIN_KEY)
                page.click("#key-form button")
                for fig in FIGURES if day_started else ["power"]:
                    expect(page.locator(f"#{fig}")).not_to_have_text("–", timeout=60_000)
                    assert "NaN" not in page.locator(f"#{fig}").inner_text()
                for c in CHARTS if day_started else ["chart-power", "chart-demand"]:
                    page.wait_for_function(
                        "(id) => { const c = echarts.getInstanceByDom(document.getElementById(id));"
                        " return !!c && c.getOption().series.some((s) => (s.data || []).length > 1"
                        " || (s.links || []).length > 0); }",
                        arg=c,
                        timeout=60_000,
                    )
                # The power trend reaches back over the seeded hours, not only since the demo started.
                points = page.evaluate(
                    "() => echarts.getInstanceByDom(document.getElementById('chart-power')).getOption().series[0].data.length"
                )
                assert points > 200, points
                page.screenshot(path=str(ARTIFACTS / "demo-small-control-room.png"), full_page=True)
                if day_started:
                    link = page.locator("#top a.device-link").first
                    device = link.get_attribute("data-device")
                    link.click()
                    expect(page.locator("#dev-name")).to_contain_text(str(device))
                    expect(page.locator("#values tr").first).to_be_visible(timeout=30_000)
                    expect(page.locator("#amount")).not_to_have_text("–")
                    page.screenshot(path=str(ARTIFACTS / "demo-small-device.png"), full_page=True)
                assert errors == []
            finally:
                browser.close()
    finally:
        demo.stop()
    assert "stopped cleanly" in demo.text()
