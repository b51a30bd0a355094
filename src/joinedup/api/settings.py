"""The API's settings: ``[api]`` in the estate's joinedup.toml, each with a documented default (docs/api.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from joinedup.errors import EstateError
from joinedup.estate import Estate
from joinedup.sharing.records import MAX_LIMIT

#: Bounds of each setting, so a typo cannot make tokens live for a year or switch quotas off by accident.
_BOUNDS: dict[str, tuple[int, int]] = {
    "token_ttl_seconds": (30, 3600),
    "quota_per_minute": (1, 1_000_000),
    "quota_burst": (1, 100_000),
    "anonymous_quota_per_minute": (1, 1_000_000),
    "anonymous_quota_burst": (1, 100_000),
    "page_limit_default": (1, MAX_LIMIT),
    "page_limit_max": (1, MAX_LIMIT),
    "agreement_cache_seconds": (0, 60),
    "audit_commit_delay_us": (0, 10_000),
}


@dataclass(frozen=True)
class ApiSettings:
    #: How long a bearer token lives (RFC 6749 ``expires_in``).
    token_ttl_seconds: int = 300
    #: Requests a client may make per minute on average (a token bucket refilled at this rate) ...
    quota_per_minute: int = 600
    #: ... and how many it may make at once before the bucket runs dry.
    quota_burst: int = 60
    #: The same for each remote address's requests that carry no valid token (anonymous reads, a missing,
    #: malformed, forged or expired token, failed token requests): nobody is identified, so the address is counted.
    anonymous_quota_per_minute: int = 120
    anonymous_quota_burst: int = 30
    #: Records on a page when the request gives no ``limit``, and the most it may ask for.
    page_limit_default: int = 100
    page_limit_max: int = 1000
    #: How long an agreement's terms (datasets, fields, dates) are kept in memory between reads of the catalogue.
    #: Revocation of a client or agreement is checked on every request whatever this says.
    agreement_cache_seconds: int = 5
    #: Microseconds an audit commit waits, after a read's entry arrives, for other concurrent reads' entries
    #: to share it (it stops early once 16 are waiting). Durability is the same either way: no response is sent
    #: before its entry is committed. 0 commits at once.
    audit_commit_delay_us: int = 500

    @classmethod
    def from_estate(cls, estate: Estate) -> ApiSettings:
        """``[api]`` from joinedup.toml; one line naming the setting when a value is not allowed."""
        section = estate.config.extra.get("api", {})
        if not isinstance(section, dict):
            raise EstateError("joinedup.toml: [api] must be a table of settings")
        return cls.from_mapping(section)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> ApiSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise EstateError(f"joinedup.toml: [api] has no setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        for name, value in values.items():
            low, high = _BOUNDS[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise EstateError(f"joinedup.toml: [api] {name} must be a whole number from {low} to {high:,}")
        made = cls(**values)
        if made.page_limit_default > made.page_limit_max:
            raise EstateError("joinedup.toml: [api] page_limit_default must not exceed page_limit_max")
        return made
