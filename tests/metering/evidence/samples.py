"""Small real files of each allowed type, and the refused kinds, built in memory for the evidence tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from openpyxl import Workbook


def png(seed: int = 0) -> bytes:
    """A valid 1×1 PNG; `seed` changes its pixel (so its bytes and SHA-256)."""

    def chunk(typ: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + typ + body + struct.pack(">I", zlib.crc32(typ + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(bytes([0, seed % 256, 0, 0]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")


def pdf(text: str = "lab report CL-20260110") -> bytes:
    body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
        b"3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R>> endobj\n"
        + f"4 0 obj <</Length {len(body)}>> stream\n".encode()
        + body
        + b"\nendstream endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
    )


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["date", "truck", "net_t"])
    ws.append(["2026-01-10", "苏A-12345", 31.42])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_gb18030() -> bytes:
    return "日期,车号,净重(t)\n2026-01-10,苏A-12345,31.42\n".encode("gb18030")


def html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>fetch('/api/v1/keys')</script></body></html>"


def svg() -> bytes:
    return b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'


def exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"PE\x00\x00" + b"\x00" * 64


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("run.sh", "#!/bin/sh\nrm -rf /\n")
    return buf.getvalue()


def zip_bomb() -> bytes:
    """An XLSX-shaped archive whose sheet inflates a thousand-fold."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "spreadsheetml.sheet.main+xml")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * (4 * 1024 * 1024))
    return buf.getvalue()
