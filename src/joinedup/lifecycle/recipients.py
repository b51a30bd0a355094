"""Who to tell about an erasure: the one place the certificate asks (UK GDPR Art. 19).

The sharing capability records agreements and extracts; when it is installed and
offers ``recipients_for(estate, datasets)`` its answer is used. Without it there is
no record of anyone the data went to, and the certificate says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from joinedup.estate import Estate


def recipients_to_notify(estate: Estate, datasets: Iterable[str]) -> dict[str, Any]:
    """``{"recipients": [...], "source": ...}``: the parties the datasets' data was shared with."""
    wanted = sorted(set(datasets))
    try:
        sharing = importlib.import_module("joinedup.sharing")
    except ImportError:
        sharing = None
    lookup = getattr(sharing, "recipients_for", None)
    if lookup is None:
        return {"recipients": [], "source": "not applicable: no sharing records (sharing not installed)"}
    found = lookup(estate, wanted)
    return {"recipients": [to_plain(r) for r in found], "source": "sharing agreements and extracts"}


def to_plain(recipient: Any) -> Any:
    to_dict = getattr(recipient, "to_dict", None)
    return to_dict() if callable(to_dict) else recipient
