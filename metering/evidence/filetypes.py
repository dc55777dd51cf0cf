"""What an uploaded evidence file is, from its bytes: the allow-list (PDF, PNG, JPEG, CSV, XLSX) and the limits.

The type is read from the bytes (magic numbers, via puremagic; CSV, which has none, by
being plain text), never from the client's content type; the name's extension must agree
with it (a PNG named `.pdf` is refused). Bad input this expects and refuses, each with a
`Refused` naming the field and why: an empty file, one over the size limit, a name that is
a path (slashes, `..`, control characters, a leading dot) or has no allowed extension,
HTML, SVG/XML, scripts and executables, a ZIP that is not a workbook, a workbook with
macros, and ZIP bombs (too many members, too much declared content, an extreme
compression ratio). Nothing here writes anything: it is a pure check over bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import puremagic

MiB = 1024 * 1024
MAX_BYTES = 20 * MiB  # a scanned lab report or certificate is a few MiB; a ledger export far less
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Allowed types and the extensions a name may carry for each.
ALLOWED: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/csv": (".csv",),
    XLSX: (".xlsx",),
}
LABEL = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "text/csv": "CSV",
    XLSX: "XLSX",
}
# Magic numbers of the allowed binary types, at offset 0; puremagic names whatever else the bytes are.
SIGNATURE = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
# ZIP-bomb guards for XLSX: what a real ledger export never comes near.
ZIP_MAX_MEMBERS = 2000
ZIP_MAX_UNPACKED = 200 * MiB
ZIP_MAX_RATIO = 200
MAX_NAME = 200
# Text that a browser would take for markup or a script: refused even inside a CSV.
MARKUP = re.compile(rb"<\s*(script|html|svg|!doctype|\?xml|iframe|object|embed|body|head|meta)\b", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Control characters no CSV holds (tab, CR and LF are fine).
BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TEXT_MATCH = 0.5


class Refused(ValueError):
    """An upload that is not taken; `field` is the multipart field, `status` the HTTP status it maps to."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


@dataclass(frozen=True, slots=True)
class Detected:
    media_type: str
    label: str


def check_name(name: str) -> str:
    """The original file name, kept as metadata only (files are stored by SHA-256): refused when path-like."""
    if not name or not name.strip():
        raise Refused("file", "the file has no name")
    if len(name) > MAX_NAME:
        raise Refused("file", f"the file name is {len(name)} characters long (at most {MAX_NAME})")
    if "/" in name or "\\" in name or ".." in name or CONTROL.search(name) or name.startswith((".", " ")):
        raise Refused(
            "file",
            f"the file name {name!r} looks like a path (slashes, '..', a leading dot or control characters): "
            "send the bare file name",
        )
    if name != name.strip():
        raise Refused("file", f"the file name {name!r} starts or ends with spaces")
    ext = _ext(name)
    if not any(ext in exts for exts in ALLOWED.values()):
        raise Refused("file", f"the file name {name!r} has no allowed extension ({', '.join(_all_exts())})", 415)
    return name


def _ext(name: str) -> str:
    return "." + name.rsplit(".", 1)[1].lower() if "." in name else ""


def _all_exts() -> list[str]:
    return [e for exts in ALLOWED.values() for e in exts]


def detect(data: bytes, name: str, max_bytes: int = MAX_BYTES) -> Detected:
    """The file's type from its bytes, checked against the allow-list, the limits and the name's extension."""
    check_name(name)
    if not data:
        raise Refused("file", "the file is empty")
    if len(data) > max_bytes:
        raise Refused("file", f"the file is {len(data)} bytes; at most {max_bytes} bytes ({max_bytes // MiB} MiB)", 413)
    media_type = _sniff(data)
    if media_type == XLSX:
        _check_workbook(data)
    elif media_type == "text/csv":
        _check_csv(data)
    ext = _ext(name)
    if ext not in ALLOWED[media_type]:
        raise Refused(
            "file",
            f"the name {name!r} says {ext} but the bytes are a {LABEL[media_type]} "
            f"(name it {' or '.join(ALLOWED[media_type])})",
            415,
        )
    return Detected(media_type, LABEL[media_type])


def _sniff(data: bytes) -> str:
    """One allowed media type, else Refused naming what the bytes look like."""
    for media_type, sig in SIGNATURE.items():
        if data.startswith(sig):
            return media_type
    if data.startswith(b"PK\x03\x04"):
        return XLSX  # confirmed by _check_workbook, which refuses any other ZIP
    text = _text(data)
    try:
        guesses = puremagic.magic_string(data)
    except puremagic.PureError:
        guesses = []
    # Short signatures match ordinary text by chance ("ID3,…" is an MP3's): on text only strong matches count.
    strong = [g for g in guesses if text is None or g.confidence >= TEXT_MATCH]
    if strong:
        seen = next((g for g in strong if g.mime_type), strong[0])  # a named type says more than a rare format
        raise Refused(
            "file",
            f"the bytes are {seen.name or seen.extension} ({seen.mime_type or seen.extension}), "
            f"not an allowed type ({', '.join(LABEL.values())})",
            415,
        )
    if text is None:
        raise Refused("file", f"the bytes are binary of no allowed type ({', '.join(LABEL.values())})", 415)
    return "text/csv"  # plain text, confirmed by _check_csv


def _text(data: bytes) -> str | None:
    """The bytes as text (UTF-8, or GB18030 as Chinese spreadsheet exports write it), None when binary."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        return None if BINARY.search(text) else text
    return None


def _check_workbook(data: bytes) -> None:
    """An OOXML spreadsheet without macros, and no ZIP bomb (declared sizes bound what zipfile would inflate)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Refused("file", f"the bytes are a damaged ZIP, not an XLSX workbook ({exc})", 415) from None
    if len(members) > ZIP_MAX_MEMBERS:
        raise Refused("file", f"the workbook holds {len(members)} parts (at most {ZIP_MAX_MEMBERS}): refused", 413)
    unpacked = sum(m.file_size for m in members)
    if unpacked > ZIP_MAX_UNPACKED:
        raise Refused("file", f"the workbook unpacks to {unpacked} bytes (at most {ZIP_MAX_UNPACKED}): refused", 413)
    for m in members:
        if m.file_size > 1 * MiB and m.file_size > ZIP_MAX_RATIO * max(m.compress_size, 1):
            raise Refused(
                "file", f"part {m.filename!r} inflates {m.file_size // max(m.compress_size, 1)}-fold: a ZIP bomb", 413
            )
    names = {m.filename for m in members}
    if "xl/vbaProject.bin" in names:
        raise Refused("file", "the workbook holds macros (xl/vbaProject.bin): send an .xlsx without macros", 415)
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise Refused("file", "the bytes are a ZIP archive but not an XLSX workbook (no xl/workbook.xml)", 415)
    if zf.getinfo("[Content_Types].xml").file_size > MiB:  # the only part read here: a few hundred bytes in a real one
        raise Refused("file", "the workbook's [Content_Types].xml is over 1 MiB: refused", 413)
    try:
        types = zf.read("[Content_Types].xml")
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Refused("file", f"the workbook is damaged ({exc})", 415) from None
    if b"spreadsheetml.sheet.main+xml" not in types:
        raise Refused("file", "the ZIP archive is not an XLSX workbook (its content types name no worksheet)", 415)


def _check_csv(data: bytes) -> None:
    """Plain text without markup or a script: a browser must never take it for a page."""
    text = _text(data) or ""
    head = text.lstrip()
    if head.startswith("#!"):
        raise Refused("file", "the text is a script (it starts with #!), not a CSV file", 415)
    if head.startswith("<") or MARKUP.search(data):
        raise Refused("file", "the text holds HTML/XML markup, not a CSV file", 415)
    if not head:
        raise Refused("file", "the CSV file holds only blank space")
