"""Catalogue tables of sharing: agreements, partner clients, objections and extracts.

No table holds a key or a person's identifier in clear: pseudonym keys live in
``keys/sharing/``, client secrets are salted scrypt hashes, and objecting people
are keyed hashes (the audit log's subject hashes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.estate.db import Base, UTCDateTime


class AgreementRow(Base):
    __tablename__ = "sharing_agreements"

    id: Mapped[str] = mapped_column(sa.String(63), primary_key=True)
    #: The agreement as validated (plain JSON: dates as ISO 8601 text).
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    #: SHA-256 of the YAML file as given.
    source_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(sa.String(255))
    revoked_reason: Mapped[str | None] = mapped_column(sa.Text)


class ClientRow(Base):
    __tablename__ = "sharing_clients"

    id: Mapped[str] = mapped_column(sa.String(63), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    agreement_id: Mapped[str] = mapped_column(sa.ForeignKey("sharing_agreements.id"))
    #: The principal (kind ``client``) the audit log names for this client's reads.
    principal: Mapped[str] = mapped_column(sa.String(255))
    #: ``scrypt$n$r$p$salt$hash`` (hex); the secret itself is shown once and never kept.
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(255))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(sa.String(255))


class ObjectionRow(Base):
    __tablename__ = "sharing_objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Keyed hashes (as audit subjects) of the identifiers given: ``{"nhs_number": hash, ...}``.
    subject_hashes: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    purposes: Mapped[list[str]] = mapped_column(sa.JSON)
    source: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(255))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(sa.String(255))


class ExtractRow(Base):
    __tablename__ = "sharing_extracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[str] = mapped_column(sa.ForeignKey("sharing_agreements.id"))
    #: ``{dataset: version}`` of what was extracted.
    datasets: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    format: Mapped[str] = mapped_column(sa.String(16))
    out_dir: Mapped[str] = mapped_column(sa.String(1024))
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))
    rows: Mapped[int] = mapped_column(sa.BigInteger)
    excluded: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(255))
