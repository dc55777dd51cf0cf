"""Content-addressed storage: bytes in, same bytes out under their SHA-256; duplicates stored once; refusals leave nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from metering.evidence.filetypes import Refused
from metering.evidence.store import EvidenceStore
from metering.state.store import Store
from tests.metering.evidence import samples


@pytest.fixture
def es(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(Store(f"sqlite:///{tmp_path / 'state.sqlite'}"), tmp_path / "evidence")


def test_round_trip_and_a_duplicate_stores_one_file(es: EvidenceStore) -> None:
    data = samples.pdf()
    sha = hashlib.sha256(data).hexdigest()
    rec, new = es.put(data, "CL-20260110.pdf", "lab_report", ["lab_sample:CL-20260110"], "qc-lead")
    assert new and rec["sha256"] == sha and rec["size"] == len(data) and rec["media_type"] == "application/pdf"
    assert (es.root / sha).read_bytes() == data
    again, new = es.put(data, "copy.pdf", "other", ["lab_sample:CL-20260110", "instrument:xrf-1"], "anna")
    assert not new and again["name"] == "CL-20260110.pdf" and again["kind"] == "lab_report"  # the first upload's
    assert [x["link"] for x in again["links"]] == ["lab_sample:CL-20260110", "instrument:xrf-1"]
    assert [p.name for p in es.root.iterdir()] == [sha]  # one file, no temporary left
    got, stored = es.content(sha)
    assert stored == data and hashlib.sha256(stored).hexdigest() == got["sha256"] == sha
    assert [r["sha256"] for r in es.find(link="instrument:xrf-1")] == [sha] and es.find(link="instrument:x") == []
    audit = es.store.list_audit("evidence")
    assert [(a["action"], a["actor"]) for a in audit] == [("upload-again", "anna"), ("upload", "qc-lead")]
    assert audit[0]["after"]["links"] == ["instrument:xrf-1"]  # only what was new


@pytest.mark.parametrize(
    ("name", "data", "kind", "links", "field"),
    [
        ("report.html", samples.html(), "lab_report", [], "file"),
        ("photo.pdf", samples.png(), "lab_report", [], "file"),
        ("../x.pdf", samples.pdf(), "lab_report", [], "file"),
        ("x.pdf", samples.pdf(), "selfie", [], "kind"),
        ("x.pdf", samples.pdf(), "lab_report", ["lab_sample:../../etc"], "links"),
        ("x.pdf", samples.pdf(), "lab_report", ["stock:clinker:2026-13"], "links"),
    ],
)
def test_refused_input_leaves_nothing(
    es: EvidenceStore, name: str, data: bytes, kind: str, links: list[str], field: str
) -> None:
    with pytest.raises(Refused) as err:
        es.put(data, name, kind, links, "qc-lead")
    assert err.value.field == field
    assert not es.root.exists() and es.find() == [] and es.store.list_audit("evidence") == []


def test_a_file_changed_on_disk_is_not_served(es: EvidenceStore) -> None:
    rec, _ = es.put(samples.png(), "p.png", "other", [], "qc-lead")
    path = es.path(rec["sha256"])
    path.chmod(0o640)
    path.write_bytes(samples.png(seed=7))
    with pytest.raises(ValueError, match="no longer match its SHA-256"):
        es.content(rec["sha256"])
