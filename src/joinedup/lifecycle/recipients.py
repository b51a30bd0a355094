"""Who to tell about an erasure: the one place the certificate asks (UK GDPR Art. 19).

The sharing capability records agreements, the API reads of each partner client
and extracts; :func:`joinedup.sharing.recipients_for` names the receiving parties
of every agreement under which the datasets' data actually went out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from joinedup.estate import Estate
from joinedup.sharing import recipients_for


def recipients_to_notify(estate: Estate, datasets: Iterable[str]) -> dict[str, Any]:
    """``{"recipients": [...], "source": ...}``: the parties the datasets' data was shared with."""
    found = recipients_for(estate, sorted(set(datasets)))
    return {"recipients": [r.to_dict() for r in found], "source": "sharing agreements, API reads and extracts"}
