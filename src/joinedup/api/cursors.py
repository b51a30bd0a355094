"""Page cursors bound to the query that made them.

The sharing layer's own cursor (where the next page starts) is wrapped with a
digest of the query (agreement, client, dataset, filters) and a MAC under the
API's key, so a cursor is opaque to clients, cannot be edited, and is refused
when presented with another query (another dataset, other filters, another
client). The cursor holds no personal data: only what the sharing layer put in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping

from joinedup.api.problems import ApiProblem
from joinedup.api.tokens import mac

_PURPOSE = "cursor"
_MAC_BYTES = 16


def query_digest(agreement_id: str, client_id: str, dataset: str, filters: Mapping[str, str]) -> str:
    text = json.dumps([agreement_id, client_id, dataset, sorted(filters.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def wrap(key: bytes, query: str, inner: str) -> str:
    payload = json.dumps({"q": query, "c": inner}, separators=(",", ":")).encode()
    signed = payload + mac(key, _PURPOSE, payload)[:_MAC_BYTES]
    return base64.urlsafe_b64encode(signed).rstrip(b"=").decode()


def unwrap(key: bytes, query: str, cursor: str) -> str:
    """The sharing layer's cursor inside ``cursor``; a 400 problem when it is not one of ours or not this query's."""
    refused = ApiProblem(
        400,
        "the cursor was not issued for this query; repeat the request with the same dataset and filters, "
        "or start again without a cursor",
        slug="bad-cursor",
        title="Invalid cursor",
    )
    if len(cursor) > 4096:
        raise refused
    try:
        signed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise refused from None
    payload, tag = signed[:-_MAC_BYTES], signed[-_MAC_BYTES:]
    if len(signed) <= _MAC_BYTES or not hmac.compare_digest(tag, mac(key, _PURPOSE, payload)[:_MAC_BYTES]):
        raise refused
    document = json.loads(payload)
    if not isinstance(document, dict) or document.get("q") != query or not isinstance(document.get("c"), str):
        raise refused
    inner: str = document["c"]
    return inner
