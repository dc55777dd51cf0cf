"""Evidence files: upload (operator), list and metadata (viewer), download (energy manager, admin, auditor), links.

Uploads are multipart (`file`, `kind`, `links`), checked from their bytes against the
allow-list and the size limit before anything is stored (metering/evidence/filetypes.py);
the body's declared length is checked before it is read, so an oversize upload is refused
without being spooled. Downloads are attachments with the stored type, `nosniff` and a
sandboxing CSP: a browser never renders or runs them. Every upload, link and download is
in the audit log.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.datastructures import UploadFile

from metering.api.deps import EnergyManager, Operator, Services, Svc, Viewer
from metering.direct.config import CarbonConfigError, carbon_config
from metering.evidence.filetypes import Refused
from metering.evidence.links import KINDS, MAX_LINKS, PATTERN, Link
from metering.evidence.store import EvidenceStore, links_of
from metering.state.store import NotFound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])

Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file's bytes (hex).")]
LinkText = Annotated[str, StringConstraints(pattern=PATTERN, max_length=200)]
Kind = Literal["lab_report", "weighbridge_ledger", "calibration_certificate", "invoice", "other"]
# Room for the multipart framing and the small fields around the file.
FORM_OVERHEAD = 64 * 1024
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "kind"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, PNG, JPEG, CSV or XLSX, at most 20 MiB; the type is read from the "
                            "bytes and must agree with the name's extension.",
                        },
                        "kind": {"type": "string", "enum": list(KINDS)},
                        "links": {
                            "type": "array",
                            "maxItems": MAX_LINKS,
                            "items": {"type": "string", "pattern": PATTERN, "maxLength": 200},
                            "description": "What the file supports: lab_sample:<id>, stock:<material>:<YYYY-MM>, "
                            "instrument:<id>, unit_month:<unit>:<YYYY-MM> (a repeated form field).",
                        },
                    },
                }
            }
        },
    }
}
REFUSALS: dict[int | str, dict[str, Any]] = {
    411: {"description": "no Content-Length"},
    413: {"description": "too big (the file, or a workbook that would unpack too far)"},
    415: {"description": "not an allowed type, or the name's extension disagrees with the bytes"},
}


class LinksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    links: list[LinkText] = Field(min_length=1, max_length=MAX_LINKS, description="Links to add to the file.")


def evidence_store(svc: Services) -> EvidenceStore:
    return EvidenceStore(svc.store, svc.data_dir / "evidence")


def _refused(exc: Refused) -> HTTPException:
    return HTTPException(exc.status, [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}])


def _check_targets(svc: Services, links: list[Link]) -> None:
    """Links to units and materials must name ones of the plant's carbon block (else no workbook would list them)."""
    named = [lk for lk in links if lk.type in ("unit_month", "stock")]
    if not named:
        return
    need = "links to emission units or materials need the plant file's carbon: block"
    if svc.plant is None:
        raise Refused("links", f"{need}; the service has no plant file")
    try:
        cfg, _ = carbon_config(svc.plant)
    except CarbonConfigError:
        raise Refused("links", need) from None
    units, materials = {u.id for u in cfg.units}, set(cfg.materials)
    bad = [
        f"{lk.text}: no emission unit {lk.parts['unit']!r} (units: {', '.join(sorted(units))})"
        for lk in named
        if lk.type == "unit_month" and lk.parts["unit"] not in units
    ] + [
        f"{lk.text}: no material {lk.parts['material']!r} (materials: {', '.join(sorted(materials))})"
        for lk in named
        if lk.type == "stock" and lk.parts["material"] not in materials
    ]
    if bad:
        raise Refused("links", "; ".join(bad))


def _declared_length(request: Request, limit: int) -> None:
    raw = request.headers.get("content-length")
    if raw is None:
        raise HTTPException(status.HTTP_411_LENGTH_REQUIRED, "send the upload with a Content-Length")
    try:
        n = int(raw)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Content-Length is not a number") from None
    if n > limit + FORM_OVERHEAD:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            [
                {
                    "loc": ["body", "file"],
                    "msg": f"the upload is {n} bytes; a file may have at most {limit} bytes",
                    "type": "value_error",
                }
            ],
        )


@router.post(
    "",
    status_code=201,
    summary="Upload an evidence file and link it (operator); the same bytes again add links only",
    openapi_extra=UPLOAD_BODY,
    responses={200: {"description": "these bytes were stored already: links added"}, **REFUSALS},
)
async def upload(request: Request, key: Operator, svc: Svc) -> JSONResponse:
    es = evidence_store(svc)
    _declared_length(request, es.max_bytes)
    async with request.form(max_files=1, max_fields=MAX_LINKS + 2, max_part_size=64 * 1024) as form:
        file = form.get("file")
        kind = form.get("kind")
        links = form.getlist("links")
        if not isinstance(file, UploadFile):
            raise _refused(Refused("file", "no file: send it as the multipart field 'file'"))
        if not isinstance(kind, str):
            raise _refused(Refused("kind", f"no kind: one of {', '.join(KINDS)}"))
        if any(not isinstance(x, str) for x in links):
            raise _refused(Refused("links", "links are text fields, not files"))
        data = await file.read(es.max_bytes + 1)
        name = file.filename or ""
    try:
        parsed = links_of([str(x) for x in links])
        _check_targets(svc, parsed)
        rec, new = await run_in_threadpool(es.put, data, name, kind, [lk.text for lk in parsed], key.name)
    except Refused as exc:
        raise _refused(exc) from None
    return JSONResponse(jsonable_encoder({**rec, "new": new}), status_code=201 if new else 200)


@router.get("", summary="Evidence files (metadata), newest first; filter by link or kind")
def list_evidence(
    _key: Viewer,
    svc: Svc,
    link: Annotated[
        str | None, Query(pattern=PATTERN, max_length=200, description="e.g. lab_sample:CL-20260110")
    ] = None,
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return evidence_store(svc).find(link, kind, limit)


@router.get("/{sha256}", summary="One evidence file's metadata and links")
def get_evidence(_key: Viewer, svc: Svc, sha256: Sha) -> dict[str, Any]:
    try:
        return evidence_store(svc).get(sha256)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.get(
    "/{sha256}/content",
    summary="Download the file (energy manager, admin, auditor): an attachment, never rendered",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the stored bytes"}},
)
def get_content(key: EnergyManager, svc: Svc, sha256: Sha) -> Response:
    es = evidence_store(svc)
    try:
        rec, data = es.content(sha256)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ValueError as exc:
        log.error("%s", exc)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    es.note_download(sha256, key.name)
    return Response(data, media_type=rec["media_type"], headers=download_headers(rec["name"]))


def download_headers(name: str) -> dict[str, str]:
    """Attachment (RFC 6266, the UTF-8 name per RFC 5987), no sniffing, sandboxed if a browser opens it anyway."""
    ascii_name = "".join(c if c.isascii() and c not in '"\\;' else "_" for c in name)
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store",
    }


@router.post("/{sha256}/links", summary="Link an uploaded file to more values (operator)")
def post_links(body: LinksIn, key: Operator, svc: Svc, sha256: Sha) -> dict[str, Any]:
    try:
        parsed = links_of(body.links)
        _check_targets(svc, parsed)
        return evidence_store(svc).add_links(sha256, [lk.text for lk in parsed], key.name)
    except Refused as exc:
        raise _refused(exc) from None
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
