"""The shapes of the API's responses, as the OpenAPI document describes them (snake_case, ISO 8601)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenResponse(_Strict):
    access_token: str = Field(description="The bearer token: send it as `Authorization: Bearer <token>`.")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the token expires.")


class TokenError(BaseModel):
    """An error from the token endpoint, as RFC 6749 section 5.2 has it (with the problem members as well)."""

    error: Literal[
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type"
    ]
    error_description: str
    type: str
    title: str
    status: int
    detail: str


class DatasetLinks(_Strict):
    self: str
    records: str | None = Field(None, description="The records, for datasets the caller's agreement covers.")


class DatasetSummary(_Strict):
    name: str
    title: str | None
    description: str | None
    open: bool = Field(description="Open data: its catalogue record needs no token.")
    shared: bool = Field(description="Covered by the caller's agreement: its records can be read.")
    links: DatasetLinks


class DatasetList(_Strict):
    data: list[DatasetSummary]


class FieldInfo(_Strict):
    name: str
    type: str
    pseudonymised: bool = Field(
        description="Values are replaced by a keyed hash, stable within the agreement and unlinkable across agreements."
    )


class DatasetDetail(_Strict):
    name: str
    title: str | None
    description: str | None
    open: bool
    shared: bool
    version: int | None = Field(description="The version served.")
    fields: list[FieldInfo] = Field(description="The fields served (for a shared dataset, those the agreement allows).")
    links: DatasetLinks


class PageLinks(_Strict):
    self: str
    next: str | None = Field(description="The next page, or null on the last page.")


class PageMeta(_Strict):
    dataset: str
    version: int | None
    count: int = Field(description="Records on this page.")
    limit: int


class RecordPage(_Strict):
    data: list[dict[str, Any]] = Field(description="The records: the permitted fields of each.")
    links: PageLinks
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
    meta: PageMeta


class RecordMeta(_Strict):
    dataset: str
    version: int | None


class OneRecord(_Strict):
    data: dict[str, Any]
    meta: RecordMeta


class AgreementRegister(_Strict):
    data: list[dict[str, Any]] = Field(description="Every agreement in the public register, as HMRC publishes its own.")


class Health(_Strict):
    status: Literal["ok"]
    version: str
    time: datetime
