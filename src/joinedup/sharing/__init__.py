"""Sharing: agreements enforced field by field, objections, partner clients and extracts (docs/sharing.md).

What the API (and lifecycle) use is exported here; the CLI uses the modules.
"""

from joinedup.sharing.agreements import Agreement, live_agreement, public_register
from joinedup.sharing.clients import Client, authenticate_client
from joinedup.sharing.errors import (
    AgreementNotLive,
    BadCredentials,
    BadRequest,
    ClientRefused,
    FilterNotPermitted,
    NotFound,
    NotPermitted,
    SharingError,
)
from joinedup.sharing.recipients import Recipient, open_datasets, recipients_for
from joinedup.sharing.records import (
    RecordPage,
    SharedDataset,
    read_held_record,
    read_record,
    read_records,
    shared_datasets,
)

__all__ = [
    "Agreement",
    "AgreementNotLive",
    "BadCredentials",
    "BadRequest",
    "Client",
    "ClientRefused",
    "FilterNotPermitted",
    "NotFound",
    "NotPermitted",
    "Recipient",
    "RecordPage",
    "SharedDataset",
    "SharingError",
    "authenticate_client",
    "live_agreement",
    "open_datasets",
    "public_register",
    "read_held_record",
    "read_record",
    "read_records",
    "recipients_for",
    "shared_datasets",
]
