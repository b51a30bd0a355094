"""Values from the data as JSON: ISO 8601 dates and times, exact numbers where JSON can hold them."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

#: Types JSON holds as they are (exact types: a subclass, an enum say, goes through the checks below).
_NATIVE = frozenset({str, int, bool, type(None)})


def jsonable(value: Any) -> Any:
    kind = type(value)
    if kind in _NATIVE:
        return value
    if kind is dict:
        return {str(k): v if type(v) in _NATIVE else jsonable(v) for k, v in value.items()}
    if kind is date:
        return value.isoformat()
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


#: One encoder: ``json.dumps`` with options builds a new one per call, which showed on the API's hottest path.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(document: Any) -> bytes:
    """``document`` as compact UTF-8 JSON (values converted by :func:`jsonable`)."""
    return _ENCODER.encode(jsonable(document)).encode()
