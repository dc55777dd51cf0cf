"""Headless Chromium for browser tests: Debian's package, installed with apt when missing.

Playwright drives it through `executable_path`; `playwright install` (a browser download) is
never used. The launch flags keep Chromium off the network and quiet in a container.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.once import apt_install

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# A small CJK font, so pages in Simplified Chinese render (and screenshot) as text, not boxes.
CJK_FONT_PACKAGE = "fonts-wqy-microhei"


def ensure_chromium() -> Path:
    """Path to Debian's chromium, installing it (and a CJK font) with apt when missing."""
    found = shutil.which("chromium") or next((p for p in ("/usr/bin/chromium",) if Path(p).exists()), None)
    missing = [] if found else ["chromium"]
    if not _has_cjk_font():
        missing.append(CJK_FONT_PACKAGE)
    if missing:
        apt_install(missing)
    if found:
        return Path(found)
    if Path("/usr/bin/chromium").exists():
        return Path("/usr/bin/chromium")
    raise RuntimeError("chromium was installed but /usr/bin/chromium was not found")


def _has_cjk_font() -> bool:
    fc = shutil.which("fc-list")
    if fc is None:
        return False
    out = subprocess.run([fc, ":lang=zh-cn", "family"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())
