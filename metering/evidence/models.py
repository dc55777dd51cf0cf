"""The evidence tables in the metering state database: one row per stored file, one per link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from metering.state.models import Base


class EvidenceFileRow(Base):
    """A stored file, named by the SHA-256 of its bytes; the first upload's name, kind and uploader."""

    __tablename__ = "evidence_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    original_name: Mapped[str] = mapped_column(String(255))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EvidenceLinkRow(Base):
    """What a file supports (metering/evidence/links.py grammar), who linked it and when. Never removed."""

    __tablename__ = "evidence_links"
    __table_args__ = (UniqueConstraint("sha256", "link"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("evidence_files.sha256"), index=True)
    link: Mapped[str] = mapped_column(String(200), index=True)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
