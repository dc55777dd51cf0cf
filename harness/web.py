"""The control room's web assets (ECharts, pinned in metering/api/web/package.json) installed with npm, no CDN.

`ensure_web_assets()` runs `npm install` into `metering/api/web/node_modules` when the pinned
version is missing (npm itself from apt when absent). The app serves the files from there
under `/ui/vendor/`, so the page works on an air-gapped plant network once set up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from harness.once import apt_install, locked

WEB = Path(__file__).resolve().parents[1] / "metering" / "api" / "web"
ECHARTS_DIST = WEB / "node_modules" / "echarts" / "dist"


def pinned(package: str = "echarts") -> str:
    deps: dict[str, str] = json.loads((WEB / "package.json").read_text("utf-8"))["dependencies"]
    return deps[package]


def installed(package: str = "echarts") -> str | None:
    meta = WEB / "node_modules" / package / "package.json"
    if not meta.exists():
        return None
    version: str = json.loads(meta.read_text("utf-8"))["version"]
    return version


def ensure_web_assets() -> Path:
    """The folder holding echarts.min.js at the pinned version, installing it with npm when needed."""
    if _ready():
        return ECHARTS_DIST
    with locked("web-assets"):  # parallel test workers: one npm install, the others wait for it
        if _ready():
            return ECHARTS_DIST
        _npm_install()
    return ECHARTS_DIST


def _ready() -> bool:
    return installed() == pinned() and (ECHARTS_DIST / "echarts.min.js").exists()


def _npm_install() -> None:
    if shutil.which("npm") is None:
        apt_install(["npm"])
    print(f"plantcarbon: npm install echarts@{pinned()} into {WEB} …", flush=True)
    # No lock file: echarts pins its own dependencies (zrender, tslib) to exact versions.
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"],
        cwd=WEB,
        check=True,
    )
    if installed() != pinned():
        raise RuntimeError(f"npm installed echarts {installed()}, package.json pins {pinned()}")
