"""Lifecycle and individual rights: the requests register, finding a person, legal holds, erasure that is real.

See docs/lifecycle.md.
"""

from joinedup.lifecycle.deadlines import add_months, due_date
from joinedup.lifecycle.erasure import STEPS, ErasureIncomplete
from joinedup.lifecycle.erasure import approve as approve_erasure
from joinedup.lifecycle.erasure import certificate as erasure_certificate
from joinedup.lifecycle.erasure import propose as propose_erasure
from joinedup.lifecycle.find import Match, decide, find_subject, matches
from joinedup.lifecycle.holds import Hold, add_hold, list_holds, remove_hold
from joinedup.lifecycle.recipients import recipients_to_notify
from joinedup.lifecycle.requests import (
    KINDS,
    RequestInfo,
    close_request,
    extend_request,
    get_request,
    identifiers,
    list_requests,
    open_request,
)
from joinedup.lifecycle.retention import purged_versions, rule_of
from joinedup.lifecycle.scan import ScanResult, scan

__all__ = [
    "KINDS",
    "STEPS",
    "ErasureIncomplete",
    "Hold",
    "Match",
    "RequestInfo",
    "ScanResult",
    "add_hold",
    "add_months",
    "approve_erasure",
    "close_request",
    "decide",
    "due_date",
    "erasure_certificate",
    "extend_request",
    "find_subject",
    "get_request",
    "identifiers",
    "list_holds",
    "list_requests",
    "matches",
    "open_request",
    "propose_erasure",
    "purged_versions",
    "recipients_to_notify",
    "remove_hold",
    "rule_of",
    "scan",
]
