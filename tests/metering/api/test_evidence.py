"""Evidence files through the real app: upload, duplicate, list by link, download headers, refusals leave nothing."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest

from metering.evidence.filetypes import MAX_BYTES
from tests.metering.api.conftest import Api
from tests.metering.evidence import samples

pytestmark = pytest.mark.integration

URL = "/api/v1/evidence"


def _upload(api: Api, role: str, name: str, data: bytes, links: list[str], ctype: str = "application/pdf"):  # type: ignore[no-untyped-def]
    form = {"kind": "lab_report", "links": links}
    return api.client.post(URL, data=form, files={"file": (name, data, ctype)}, headers=api.as_(role))


def test_upload_download_round_trip_duplicates_and_refusals(api: Api) -> None:
    data, name = samples.pdf(), "化验报告 CL-20260110.pdf"
    sha = hashlib.sha256(data).hexdigest()
    r = _upload(api, "operator", name, data, ["lab_sample:CL-20260110", "instrument:xrf-1"])
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["sha256"] == sha and rec["new"] is True and rec["size"] == len(data) and rec["name"] == name
    assert rec["media_type"] == "application/pdf" and rec["uploaded_by"] == "operator-key"
    # the same bytes again: nothing stored, the new link added
    r = _upload(api, "energy_manager", "copy.pdf", data, ["instrument:tr-01"])
    assert r.status_code == 200 and r.json()["new"] is False
    assert [x["link"] for x in r.json()["links"]] == ["lab_sample:CL-20260110", "instrument:xrf-1", "instrument:tr-01"]
    store_dir = api.data_dir / "evidence"
    assert [p.name for p in store_dir.iterdir()] == [sha]
    listed = api.client.get(URL, params={"link": "instrument:tr-01"}, headers=api.as_("viewer")).json()
    assert [x["sha256"] for x in listed] == [sha]
    # downloads: energy manager, admin, auditor; never rendered
    assert api.client.get(f"{URL}/{sha}/content", headers=api.as_("viewer")).status_code == 403
    assert api.client.get(f"{URL}/{sha}/content", headers=api.as_("operator")).status_code == 403
    d = api.client.get(f"{URL}/{sha}/content", headers=api.as_("auditor"))
    assert d.status_code == 200 and d.content == data and hashlib.sha256(d.content).hexdigest() == sha
    assert d.headers["content-type"] == "application/pdf"
    assert d.headers["content-disposition"].startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name, safe='')}" in d.headers["content-disposition"]
    assert d.headers["x-content-type-options"] == "nosniff" and d.headers["content-security-policy"] == "sandbox"
    # refused: each leaves nothing on disk, in the list or in the audit log
    audit_before = api.store.list_audit("evidence")
    for fname, body, ctype, status in (
        ("report.html", samples.html(), "text/html", 415),
        ("chart.svg", samples.svg(), "image/svg+xml", 415),
        ("setup.pdf", samples.exe(), "application/pdf", 415),
        ("photo.pdf", samples.png(), "application/pdf", 415),  # a PNG renamed .pdf, sent as a PDF
        ("../../evidence/x.pdf", samples.pdf("other"), "application/pdf", 422),
        ("big.pdf", b"%PDF-1.4\n" + b"0" * (MAX_BYTES - 8), "application/pdf", 413),
    ):
        r = _upload(api, "operator", fname, body, ["lab_sample:CL-20260110"], ctype)
        assert r.status_code == status, (fname, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "file"], r.text
    r = api.client.post(
        URL,
        content=b"--x--",
        headers={
            **api.as_("operator"),
            "content-type": "multipart/form-data; boundary=x",
            "content-length": "999999999",
        },
    )
    assert r.status_code == 413  # refused on its declared length, before the body is read
    r = _upload(api, "operator", "r.pdf", samples.pdf("r"), ["unit_month:kiln-1:2026-01"])
    assert r.status_code == 422 and "carbon: block" in r.text  # plant-a has no emission units to link to
    r = _upload(api, "operator", "r.pdf", samples.pdf("r"), ["sample:CL-1"])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "links"]
    assert [p.name for p in store_dir.iterdir()] == [sha]
    assert len(api.client.get(URL, headers=api.as_("viewer")).json()) == 1
    # linking an existing file; an unknown one is 404
    r = api.client.post(f"{URL}/{sha}/links", json={"links": ["lab_sample:CL-20260111"]}, headers=api.as_("operator"))
    assert r.status_code == 200 and r.json()["links"][-1]["link"] == "lab_sample:CL-20260111"
    r = api.client.post(f"{URL}/{'0' * 64}/links", json={"links": ["lab_sample:X"]}, headers=api.as_("operator"))
    assert r.status_code == 404
    log = api.client.get("/api/v1/audit", params={"entity": "evidence"}, headers=api.as_("auditor")).json()
    assert len(log) == len(audit_before) + 1
    assert [(x["action"], x["actor"]) for x in reversed(log)] == [
        ("upload", "operator-key"),
        ("upload-again", "energy-manager-key"),
        ("download", "auditor-key"),
        ("link", "operator-key"),
    ]
