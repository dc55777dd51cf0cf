"""The allow-list read from the bytes: each allowed type passes, each refused kind is named, the name must agree."""

from __future__ import annotations

import pytest

from metering.evidence.filetypes import XLSX, Refused, detect
from tests.metering.evidence import samples


@pytest.mark.parametrize(
    ("name", "data", "media_type"),
    [
        ("化验报告 CL-20260110.pdf", samples.pdf(), "application/pdf"),
        ("ledger-photo.PNG", samples.png(), "image/png"),
        ("scan.jpeg", samples.jpeg(), "image/jpeg"),
        ("weighbridge-2026-01.xlsx", samples.xlsx(), XLSX),
        ("地磅台账.csv", samples.csv_gb18030(), "text/csv"),
        ("ledger.csv", b"date,truck,net_t\n2026-01-10,A-1,31.4\n", "text/csv"),
    ],
)
def test_allowed_types_are_read_from_the_bytes(name: str, data: bytes, media_type: str) -> None:
    assert detect(data, name).media_type == media_type


@pytest.mark.parametrize(
    ("name", "data", "status", "says"),
    [
        ("report.html", samples.html(), 415, "no allowed extension"),
        ("report.csv", samples.html(), 415, "HTML"),  # named like a CSV, still HTML
        ("chart.svg", samples.svg(), 415, "no allowed extension"),
        ("chart.csv", samples.svg(), 415, "not an allowed type"),
        ("notes.csv", b"date,note\n2026-01-10,<script>alert(1)</script>\n", 415, "markup"),
        ("run.csv", b"#!/bin/sh\nrm -rf /\n", 415, "script"),
        ("setup.pdf", samples.exe(), 415, "Executable"),
        ("ledger.xlsx", samples.plain_zip(), 415, "not an XLSX workbook"),
        ("ledger.xlsx", samples.zip_bomb(), 413, "ZIP bomb"),
        ("photo.pdf", samples.png(), 415, "the bytes are a PNG image"),  # a PNG renamed .pdf
        ("report.pdf", b"", 422, "empty"),
        ("../../etc/passwd.pdf", samples.pdf(), 422, "looks like a path"),
        ("C:\\reports\\lab.pdf", samples.pdf(), 422, "looks like a path"),
        (".hidden.pdf", samples.pdf(), 422, "looks like a path"),
        ("report\r\n.pdf", samples.pdf(), 422, "looks like a path"),
        ("", samples.pdf(), 422, "no name"),
    ],
)
def test_refused_kinds_are_named(name: str, data: bytes, status: int, says: str) -> None:
    with pytest.raises(Refused) as err:
        detect(data, name)
    assert err.value.status == status and err.value.field == "file"
    assert says in err.value.message


def test_the_size_limit_counts_bytes() -> None:
    data = samples.pdf()
    assert detect(data, "r.pdf", max_bytes=len(data)).media_type == "application/pdf"
    with pytest.raises(Refused) as err:
        detect(data, "r.pdf", max_bytes=len(data) - 1)
    assert err.value.status == 413 and f"the file is {len(data)} bytes" in err.value.message


def test_a_workbook_with_macros_is_refused() -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(samples.xlsx())) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    with pytest.raises(Refused, match="macros"):
        detect(buf.getvalue(), "ledger.xlsx")
