"""Table uploads (CSV or XLSX) checked at the door: a plain file name, a known type, a size limit."""

from __future__ import annotations

import re
from pathlib import PurePath

from fastapi import HTTPException, UploadFile

# A lab book or a year of stock-takes is a few hundred kB; 2 MiB leaves room and keeps a parse cheap.
MAX_BYTES = 2 * 1024 * 1024
# A plain name: no directory part, no leading dot, no "..": the name only labels errors, yet a
# path-like name says the client is not what it claims to be.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _().-]{0,119}$")
TYPES = {".csv": "CSV", ".xlsx": "XLSX"}
ZIP_MAGIC = b"PK\x03\x04"  # an XLSX is a zip archive


def _refuse(msg: str, code: int = 422) -> HTTPException:
    return HTTPException(code, [{"loc": ["body", "file"], "msg": msg, "type": "value_error"}])


def check_name(name: str | None) -> str:
    """The upload's file name if it is plain and ends in .csv or .xlsx, else 422 saying why."""
    if not name:
        raise _refuse("file name: missing (send the file as multipart form field 'file' with its name)")
    if "/" in name or "\\" in name or ".." in name or PurePath(name).name != name or not NAME.match(name):
        raise _refuse(f"file name: {name[:120]!r} is not a plain file name (letters, digits, ' _().-', no path)")
    suffix = PurePath(name).suffix.lower()
    if suffix not in TYPES:
        raise _refuse(f"file name: {name!r}: only {', '.join(TYPES)} files are taken")
    return name


def check_content(name: str, data: bytes) -> None:
    """The bytes look like the type the name says: an XLSX is a zip, a CSV is UTF-8 text."""
    if PurePath(name).suffix.lower() == ".xlsx":
        if not data.startswith(ZIP_MAGIC):
            raise _refuse(f"{name}: not an XLSX workbook (no zip signature)")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(f"{name}: not UTF-8 text at byte {exc.start} (save the CSV as UTF-8)") from None
    if "\x00" in text:
        raise _refuse(f"{name}: binary content in a CSV file")


def read_upload(file: UploadFile, limit: int = MAX_BYTES) -> tuple[str, bytes]:
    """(name, bytes) of an upload that passes the name, size and type checks; 422 or 413 otherwise.

    Sync on purpose: the handlers parse the table with pandas, so they run in the thread pool.
    """
    name = check_name(file.filename)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise _refuse(f"{name}: larger than {limit // 1024} KiB", 413)
    if not data:
        raise _refuse(f"{name}: empty file")
    check_content(name, data)
    return name, data
