"""The filing months and their locked revisions on SQLite and on PostgreSQL, with their audit rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from harness.postgres import Postgres
from metering.compliance.store import ComplianceStore
from metering.state.store import Conflict, NotFound, Store, make_engine

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def cs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ComplianceStore]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
        yield ComplianceStore(s)
        s.close()
        return
    pg: Postgres = request.getfixturevalue("postgres")
    name = "t_" + uuid.uuid4().hex[:12]
    eng = make_engine(pg.url).execution_options(isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    s = Store(pg.url.rsplit("/", 1)[0] + "/" + name)
    yield ComplianceStore(s)
    s.close()
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE "{name}"'))
    eng.dispose()


def snap(direct: float, lab: list[str]) -> dict[str, Any]:
    return {
        "figures": {"direct_co2_t": direct, "clinker_t": 155000.123456789, "fuels": {"coal": {"co2_t": 1.0 / 3.0}}},
        "parameters": [{"material": "clinker", "parameter": "cao", "value": 0.6551234567891234, "basis": "measured"}],
        "inputs": {
            "lab": lab,
            "fills": [],
            "defaults": [],
            "factors": [],
            "stocks": [],
            "readings": {"sha256": "ab" * 32, "count": 3},
        },
        "method": "m@1",
    }


def test_the_lifecycle_and_its_audit_rows(cs: ComplianceStore) -> None:
    site, unit, month = "cem-t", "kiln-1", "2026-01"
    assert cs.get(site, unit, month)["state"] == "open"
    with pytest.raises(Conflict, match="only a month in review can be approved"):
        cs.lock(site, unit, month, snap(1.0, []), "approved", "em", revise=False)
    with pytest.raises(NotFound, match="never reviewed"):
        cs.file(site, unit, month, "r", "em")
    cs.set_review(site, unit, month, {"complete": True, "blocking": [], "items": []}, "qc")
    s1 = snap(129047.30847083747, ["CL-20260110@1 clinker cao"])
    m = cs.lock(site, unit, month, s1, "approved", "em", revise=False)
    assert (m["state"], m["revision"]) == ("approved", 1)
    with pytest.raises(Conflict, match="locked"):
        cs.set_review(site, unit, month, {"complete": True, "blocking": [], "items": []}, "qc")
    with pytest.raises(Conflict, match="only a month in review"):
        cs.lock(site, unit, month, s1, "approved", "em", revise=False)
    cs.file(site, unit, month, "CETS-1", "em")
    s2 = snap(129100.0, ["CL-20260110@2 clinker cao"])
    m = cs.lock(site, unit, month, s2, "late lab value", "em2", revise=True)
    assert (m["state"], m["revision"], m["filed_reference"]) == ("approved", 2, None)  # to be filed again
    revs = cs.revisions(site, unit, month)
    assert [r["revision"] for r in revs] == [1, 2]
    assert revs[0]["snapshot"] == s1 and revs[1]["snapshot"] == s2  # floats and nesting come back exactly
    assert revs[1]["reason"] == "late lab value" and revs[1]["created_by"] == "em2"
    assert revs[1]["created_at"].tzinfo is not None
    assert [m["month"] for m in cs.list_months(site, unit)] == [month]
    assert cs.list_months(site, "kiln-2") == []
    audit = list(reversed(cs.store.list_audit("compliance_month")))
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("review", "qc"),
        ("approve", "em"),
        ("file", "em"),
        ("revise", "em2"),
    ]
    assert audit[-1]["before"] == {"state": "filed", "revision": 1}
    assert audit[-1]["after"]["inputs"]["lab"] == ["CL-20260110@2 clinker cao"]
    assert {a["entity_id"] for a in audit} == {"cem-t/kiln-1/2026-01"}


def test_a_concurrent_lock_of_the_same_revision_is_a_conflict_not_an_error(cs: ComplianceStore) -> None:
    from metering.state.models import ComplianceRevisionRow
    from metering.state.store import now

    site, unit, month = "cem-t", "kiln-1", "2026-02"
    cs.set_review(site, unit, month, {"complete": True, "blocking": [], "items": []}, "qc")
    # someone else's approval landed between our read of the month and our write
    with cs.store.session() as s:
        s.add(
            ComplianceRevisionRow(
                site=site,
                unit=unit,
                month=month,
                revision=1,
                snapshot=snap(1.0, []),
                reason="approved",
                created_at=now(),
                created_by="other",
            )
        )
    with pytest.raises(Conflict, match="changed by someone else at the same time"):
        cs.lock(site, unit, month, snap(2.0, []), "approved", "em", revise=False)
    assert [r["created_by"] for r in cs.revisions(site, unit, month)] == ["other"]
    assert cs.get(site, unit, month)["state"] == "in_review"  # nothing half-written
    assert [a["action"] for a in cs.store.list_audit("compliance_month")] == ["review"]
