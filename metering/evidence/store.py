"""Evidence files stored content-addressed under `<data_dir>/evidence/`, their metadata and links in the state store.

A file is named by the SHA-256 of its bytes and written through a temporary file renamed
into place (never half a file). A second upload of the same bytes stores nothing new and
adds its links. Metadata (first name, size, type, kind, who, when) and links live in the
metering state database next to the audit log; every upload, link and download is audited.
Refused input (metering/evidence/filetypes.py, links.py) leaves nothing behind: checks run
before anything is written, and a failed write removes its temporary file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from metering.evidence.filetypes import MAX_BYTES, Refused, detect
from metering.evidence.links import KINDS, Link, parse_all
from metering.evidence.models import EvidenceFileRow, EvidenceLinkRow
from metering.state.store import NotFound, Store, _utc, now

ENTITY = "evidence"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def links_of(texts: list[str]) -> list[Link]:
    """Parsed links, or Refused on the `links` field naming each bad one."""
    try:
        return parse_all(texts)
    except ValueError as exc:
        raise Refused("links", str(exc)) from None


class EvidenceStore:
    """Files under `root`, rows in the shared `Store` (same database, same audit log)."""

    def __init__(self, store: Store, root: Path, max_bytes: int = MAX_BYTES):
        self.store, self.root, self.max_bytes = store, root, max_bytes
        # The tables are this sub-system's own; created here (idempotent) whoever built the Store.
        tables = [EvidenceFileRow.__table__, EvidenceLinkRow.__table__]
        EvidenceFileRow.metadata.create_all(store.engine, tables=tables)  # type: ignore[arg-type]

    def path(self, sha: str) -> Path:
        return self.root / sha

    # --- writing --------------------------------------------------------------------------

    def put(self, data: bytes, name: str, kind: str, links: list[str], actor: str) -> tuple[dict[str, Any], bool]:
        """Store the bytes (once) and link them; (the file's record, whether the bytes were new)."""
        detected = detect(data, name, self.max_bytes)
        if kind not in KINDS:
            raise Refused("kind", f"kind {kind[:40]!r} is not one of {', '.join(KINDS)}")
        parsed = links_of(links)
        sha = sha256_of(data)
        try:
            return self._put(data, sha, name, kind, detected.media_type, parsed, actor)
        except IntegrityError:
            # The same bytes uploaded at the same moment by someone else: theirs is stored; add our links.
            return self._put(data, sha, name, kind, detected.media_type, parsed, actor)

    def _put(
        self, data: bytes, sha: str, name: str, kind: str, media_type: str, links: list[Link], actor: str
    ) -> tuple[dict[str, Any], bool]:
        with self.store.session() as s:
            row = s.get(EvidenceFileRow, sha)
            new = row is None
            if row is None:
                row = EvidenceFileRow(
                    sha256=sha,
                    size=len(data),
                    media_type=media_type,
                    kind=kind,
                    original_name=name,
                    uploaded_by=actor,
                    uploaded_at=now(),
                )
                s.add(row)
            added = self._link(s, sha, links, actor)
            after = {"name": name, "kind": kind, "size": len(data), "media_type": media_type, "links": added}
            if not new:
                after["stored_as"] = {"name": row.original_name, "kind": row.kind}  # the bytes were there already
            self.store.audit(s, actor, "upload" if new else "upload-again", ENTITY, sha, None, after)
            s.flush()  # the rows are checked before the file is written; committed after it is in place
            self._write(sha, data)
            return self._record(s, row), new

    def _write(self, sha: str, data: bytes) -> None:
        """The bytes to `<root>/<sha>` through a temporary file renamed into place (skipped when there)."""
        target = self.path(sha)
        if target.is_file() and target.stat().st_size == len(data):
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o440)  # stored evidence is never changed in place
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def add_links(self, sha: str, links: list[str], actor: str) -> dict[str, Any]:
        parsed = links_of(links)
        if not parsed:
            raise Refused("links", "no link given")
        with self.store.session() as s:
            row = s.get(EvidenceFileRow, sha)
            if row is None:
                raise NotFound(f"no evidence file {sha}")
            added = self._link(s, sha, parsed, actor)
            if added:
                self.store.audit(s, actor, "link", ENTITY, sha, None, {"links": added})
            s.flush()
            return self._record(s, row)

    def _link(self, s: Session, sha: str, links: list[Link], actor: str) -> list[str]:
        have = set(s.scalars(select(EvidenceLinkRow.link).where(EvidenceLinkRow.sha256 == sha)).all())
        added = [lk.text for lk in links if lk.text not in have]
        for text in added:
            s.add(EvidenceLinkRow(sha256=sha, link=text, added_by=actor, added_at=now()))
        return added

    def note_download(self, sha: str, actor: str) -> None:
        self.store.record_audit(actor, "download", ENTITY, sha)

    # --- reading --------------------------------------------------------------------------

    def get(self, sha: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = s.get(EvidenceFileRow, sha)
            if row is None:
                raise NotFound(f"no evidence file {sha}")
            return self._record(s, row)

    def find(self, link: str | None = None, kind: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Files, newest first; with `link`, those linked to it; with `kind`, of that kind."""
        with self.store.session() as s:
            q = select(EvidenceFileRow).order_by(EvidenceFileRow.uploaded_at.desc()).limit(limit)
            if link is not None:
                q = q.where(
                    EvidenceFileRow.sha256.in_(select(EvidenceLinkRow.sha256).where(EvidenceLinkRow.link == link))
                )
            if kind is not None:
                q = q.where(EvidenceFileRow.kind == kind)
            return [self._record(s, r) for r in s.scalars(q).all()]

    def for_links(self, links: list[str]) -> list[dict[str, Any]]:
        """Files linked to any of `links` (each with all its links), oldest first."""
        with self.store.session() as s:
            hit = select(EvidenceLinkRow.sha256).where(EvidenceLinkRow.link.in_(sorted(set(links))))
            q = select(EvidenceFileRow).where(EvidenceFileRow.sha256.in_(hit)).order_by(EvidenceFileRow.uploaded_at)
            return [self._record(s, r) for r in s.scalars(q).all()]

    def content(self, sha: str) -> tuple[dict[str, Any], bytes]:
        """The record and the bytes, checked against the name (a file changed on disk is not served)."""
        rec = self.get(sha)
        try:
            data = self.path(sha).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"evidence file {sha} is recorded but its bytes are missing from {self.root}") from None
        if sha256_of(data) != sha:
            raise ValueError(f"evidence file {sha} changed on disk: its bytes no longer match its SHA-256")
        return rec, data

    @staticmethod
    def _record(s: Session, r: EvidenceFileRow) -> dict[str, Any]:
        q = select(EvidenceLinkRow).where(EvidenceLinkRow.sha256 == r.sha256).order_by(EvidenceLinkRow.id)
        return {
            "sha256": r.sha256,
            "name": r.original_name,
            "size": r.size,
            "media_type": r.media_type,
            "kind": r.kind,
            "uploaded_by": r.uploaded_by,
            "uploaded_at": _utc(r.uploaded_at),
            "links": [
                {"link": x.link, "added_by": x.added_by, "added_at": _utc(x.added_at)} for x in s.scalars(q).all()
            ],
        }
