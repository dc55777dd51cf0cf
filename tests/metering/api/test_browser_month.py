"""The energy manager's month in headless Chromium: lab values through the page, review, approve, lock, correct, revise.

The simulated kiln line's January (readings in a real InfluxDB 2.7, the lab book without the
clinker CaO of 5 and 6 January, as tests/metering/compliance/test_api.py sets it up), served
by uvicorn. Screenshots go to out/browser/ (git-ignored).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from harness.browser import CHROMIUM_ARGS, ensure_chromium
from harness.process import free_port, port_open, wait_until
from harness.web import ensure_web_assets
from metering.state.store import Store
from plantcarbon_core.influx import InfluxTarget
from tests.metering.api.test_browser import ARTIFACTS
from tests.metering.compliance.test_api import month_app
from tests.metering.direct.case import LAB_HEADER

pytestmark = pytest.mark.integration


# The page's labels (data-t, data-tp) missing from either language of i18n.js.
UNLABELLED = """() => [...document.querySelectorAll('[data-t],[data-tp]')].map((e) => e.dataset.t || e.dataset.tp)
  .filter((k) => !(k in LABELS.en) || !(k in LABELS.zh))"""


@dataclass
class Month:
    base: str
    store: Store
    lab: Path


@pytest.fixture
def served_month(influx_target: InfluxTarget, tmp_path: Path) -> Iterator[Month]:
    app, store, _case, lab = month_app(influx_target, tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    wait_until(lambda: port_open("127.0.0.1", port), 15, "metering API")
    yield Month(f"http://127.0.0.1:{port}", store, lab)
    server.should_exit = True
    t.join(10)
    store.close()


def test_the_month_in_the_browser(served_month: Month, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Each month call computes the month (about a second, several on a loaded machine): wait up to 30 s.
    expect.set_options(timeout=30_000)
    chromium = ensure_chromium()
    ensure_web_assets()  # the control room's charts library (its header links to the workspace pages)
    m = served_month
    op = m.store.create_key("op-li", "operator")
    em = m.store.create_key("em-anna", "energy_manager")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    upload = tmp_path / "lab-0106.csv"
    upload.write_text(LAB_HEADER + "\nCL-20260106,1,clinker,cao,0.6587,1,2026-01-06,2026-01-06,GB/T 176,plant lab,,\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(LAB_HEADER + "\nCL-X1,1,clinker,cao,0.91,1,2026-01-07,2026-01-07,GB/T 176,plant lab,,\n")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # The control room's header leads to the lab page.
            page.goto(m.base + "/")
            page.fill("#key", op)
            page.click("#key-form button")
            page.click("header a[href='lab.html']")
            expect(page.locator("#me")).to_contain_text("op-li")
            expect(page.locator("#lab tr[data-sample=CL-20260110][data-parameter=cao]")).to_contain_text("0.6519")

            # One value through the form, one file, one refused file with the API's mistakes listed.
            form = page.locator("#entry")
            for name, value in (
                ("sample_id", "CL-20260105"),
                ("material", "clinker"),
                ("parameter", "cao"),
                ("value", "0.6612"),
                ("unit", "1"),
                ("period_start", "2026-01-05"),
                ("period_end", "2026-01-05"),
                ("standard", "GB/T 176"),
                ("lab", "plant lab"),
            ):
                form.locator(f"input[name={name}]").fill(value)
            page.click("#entry-save")
            expect(page.locator("#entry-msg")).to_contain_text("CL-20260105 cao")
            row = page.locator("#lab tr[data-sample=CL-20260105][data-parameter=cao]")
            expect(row).to_contain_text("op-li")
            page.set_input_files("#file", str(upload))
            page.click("#upload")
            expect(page.locator("#upload-msg")).to_contain_text("lab-0106.csv: 1 added")
            expect(page.locator("#lab tr[data-sample=CL-20260106][data-parameter=cao]")).to_contain_text("0.6587")
            page.set_input_files("#file", str(bad))
            page.click("#upload")
            expect(page.locator("#upload-msg-list li")).to_have_text(
                ["bad.csv: row 2 (sample CL-X1@1): value: 0.91 outside the valid range [0.55, 0.72] of clinker cao"]
            )
            expect(page.locator("#stocks tr[data-material=coal][data-month='2026-01']")).to_contain_text(
                "ST-2026-01-COAL"
            )
            page.screenshot(path=str(ARTIFACTS / "lab-en.png"), full_page=True)
            assert page.evaluate(UNLABELLED) == []

            # The month: the operator may review, not approve (the button says which role it needs).
            expect(page.locator("header a[href='month.html']")).to_be_visible()
            page.goto(m.base + "/ui/month.html?unit=kiln-1&month=2026-01")
            cao = page.locator("#review-items tr[data-material=clinker][data-parameter=cao]")
            expect(cao).to_have_attribute("data-status", "ok")
            expect(page.locator("#approve")).to_be_disabled()
            assert "energy manager" in (page.locator("#approve").get_attribute("title") or "")
            page.click("#review")
            expect(page.locator("#state")).to_have_text("in review")

            # The energy manager approves: the month is locked as revision 1.
            page.fill("#key", em)
            page.click("#key-form button")
            expect(page.locator("#approve")).to_be_enabled()
            page.click("#approve")
            expect(page.locator("#locked")).to_be_visible()
            expect(page.locator("#locked")).to_contain_text("Revision 1")
            rev1 = page.locator("#figures tr[data-figure=direct_co2_t] td").nth(1).inner_text()

            # A late lab value: corrected on the lab page with a reason (a new version, never an overwrite).
            page.goto(m.base + "/ui/lab.html")
            target = page.locator("#lab tr[data-sample=CL-20260110][data-parameter=cao]")
            target.locator("button.correct").click()
            page.fill("#c-value", "0.6701")
            page.fill("#c-reason", "re-analysed")
            page.click("#c-save")
            expect(page.locator("#lab-msg")).to_contain_text("Version 2, em-anna: re-analysed")
            expect(target).to_have_attribute("data-version", "2")
            page.check("#history")  # every version: the first one is kept, struck through
            versions = page.locator("#lab tr[data-sample=CL-20260110][data-parameter=cao]")
            expect(versions).to_have_count(2)
            expect(versions.nth(1)).to_have_class("superseded")
            expect(versions.nth(1)).to_contain_text("0.6519")

            # Back on the month: the recompute differs; revise; revisions side by side with the diff.
            page.goto(m.base + "/ui/month.html?unit=kiln-1&month=2026-01")
            expect(page.locator("#recompute")).to_contain_text("differs from locked revision 1")
            page.fill("#revise-reason", "late lab value CL-20260110")
            page.click("#revise")
            expect(page.locator("#locked")).to_contain_text("Revision 2")
            expect(page.locator("#figures thead th")).to_have_text(["Item", "Revision 1", "Revision 2", "Computed now"])
            direct = page.locator("#figures tr[data-figure=direct_co2_t] td")
            expect(direct.nth(1)).to_have_text(rev1)
            assert direct.nth(2).inner_text() != rev1
            expect(page.locator("#diff tr[data-kind=input][data-item=lab]")).to_contain_text(
                "CL-20260110@2 clinker cao"
            )
            page.screenshot(path=str(ARTIFACTS / "month-revision-2.png"), full_page=True)

            with page.expect_download() as dl:
                page.click("#dl-workbook")
            assert dl.value.suggested_filename == "cem-t-kiln-1-2026-01-r2.xlsx"
            wb = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
            cover = {r[0]: r[1] for r in wb["封面 Cover"].iter_rows(min_row=2, values_only=True)}
            assert cover["锁定版本 Locked revision"] == 2
            shown = float(direct.nth(2).inner_text().replace(",", ""))  # en-US, at most 4 decimals
            assert cover["直接排放合计 Total direct CO2 (t)"] == pytest.approx(shown, abs=5e-5)

            assert page.evaluate(UNLABELLED) == []
            en = page.evaluate("() => [...document.querySelectorAll('[data-t]')].map((e) => e.textContent)")
            with page.expect_download() as dl:
                page.click("#dl-annual")
            year = json.loads(Path(dl.value.path()).read_text("utf-8"))
            assert year["months"][0]["revision"] == 2
            assert year["totals"]["direct_co2_t"] == pytest.approx(cover["直接排放合计 Total direct CO2 (t)"])
            with page.expect_download() as dl:
                page.click("#dl-cbam")
            cbam = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
            assert "Summary_Communication 汇总" in cbam.sheetnames
            page.fill("#file-ref", "CETS-0042")
            page.click("#file")
            expect(page.locator("#state")).to_have_text("filed")
            expect(page.locator("#locked")).to_contain_text("CETS-0042")
            expect(page.locator("#deadlines tr[data-month='2026-01']")).to_have_attribute("data-state", "filed")

            page.click("#lang")  # 中文
            expect(page.locator("h1")).to_contain_text("月度核算")
            zh = page.evaluate("() => [...document.querySelectorAll('[data-t]')].map((e) => e.textContent)")
            assert [a for a, b in zip(en, zh, strict=True) if a == b] == []  # every label changes
            expect(page.locator("#locked")).to_contain_text("已锁定")
            page.screenshot(path=str(ARTIFACTS / "month-revision-2-zh.png"), full_page=True)
            page.click("#lang")
            assert errors == []
        finally:
            browser.close()
            expect.set_options(timeout=None)  # back to Playwright's default for the other tests
