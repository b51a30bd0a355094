"""Reads under an agreement: fields, rows, pseudonyms, cursors, objections and the audit entry they carry."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from joinedup.access import disable_principal, enable_principal
from joinedup.audit import log, record_now, who_accessed
from joinedup.lifecycle.recipients import recipients_to_notify
from joinedup.sharing import (
    BadCredentials,
    BadRequest,
    Client,
    ClientRefused,
    NotFound,
    NotPermitted,
    authenticate_client,
    live_agreement,
    read_record,
    read_records,
    recipients_for,
    shared_datasets,
)
from joinedup.sharing.clients import add_client, revoke_client, rotate_client
from joinedup.sharing.objections import add_objection, withdraw_objection
from tests.sharing.conftest import OBJECTOR, Shared


def _client(shared: Shared) -> Client:
    return authenticate_client(shared.estate, shared.client.client.id, shared.client.secret)


def _read(shared: Shared, agreement: str = "DSA-1", client: Client | None = None, **kwargs: Any) -> Any:
    args: dict[str, Any] = {"dataset": "people", "filters": {}, "cursor": None, "limit": 100, **kwargs}
    return read_records(
        shared.estate, client=client or _client(shared), agreement=live_agreement(shared.estate, agreement), **args
    )


def test_only_the_agreed_fields_and_rows_leave_pseudonymised_with_iso_dates(shared: Shared) -> None:
    page = _read(shared)
    assert [set(r) for r in page.records] == [{"person_id", "nhs_number", "postcode", "date_of_birth", "sex", "id"}] * 4
    # The row filter keeps sex M and F: Carla (X) is not shared.
    assert sorted(r["person_id"] for r in page.records) == [1, 2, 3, 5]
    first = next(r for r in page.records if r["person_id"] == 1)
    assert first["date_of_birth"] == "1980-02-29" and first["postcode"] == "LS1 4AP"
    assert len(first["nhs_number"]) == 64 and first["nhs_number"] != OBJECTOR
    assert next(r for r in page.records if r["person_id"] == 5)["nhs_number"] is None
    assert page.next_cursor is None and page.excluded == 0
    [listed] = shared_datasets(shared.estate, live_agreement(shared.estate, "DSA-1"))
    assert listed.fields[1] == ("nhs_number", "nhs_number", True) and listed.version == 1


def test_a_dataset_outside_the_agreement_is_not_permitted(shared: Shared) -> None:
    with pytest.raises(NotPermitted, match="'visits' is not shared under agreement DSA-1"):
        _read(shared, dataset="visits")


def test_filters_only_on_shared_fields_and_pseudonyms_by_their_pseudonym(shared: Shared) -> None:
    everyone = _read(shared).records
    target = next(r for r in everyone if r["person_id"] == 2)
    assert [r["person_id"] for r in _read(shared, filters={"postcode": "SW1A 1AA"}).records] == [2]
    assert [r["person_id"] for r in _read(shared, filters={"nhs_number": target["nhs_number"]}).records] == [2]
    assert _read(shared, filters={"nhs_number": "4000000004"}).records == []  # the raw value finds nothing
    assert [r["person_id"] for r in _read(shared, filters={"date_of_birth": "1970-01-01"}).records] == [2]
    with pytest.raises(BadRequest, match="filter 'name': not a field agreement DSA-1 shares from 'people'"):
        _read(shared, filters={"name": "Alice Alpha"})
    with pytest.raises(BadRequest, match="does not fit") as caught:
        _read(shared, filters={"person_id": "Alice Alpha"})
    assert "Alice" not in str(caught.value)
    for limit in (0, 10_001, True):
        with pytest.raises(BadRequest, match="limit"):
            _read(shared, limit=limit)


def test_pages_follow_their_cursor_and_a_cursor_from_another_query_is_refused(shared: Shared) -> None:
    first = _read(shared, limit=3)
    assert len(first.records) == 3 and first.next_cursor
    second = _read(shared, limit=3, cursor=first.next_cursor)
    assert second.next_cursor is None
    ids = [r["person_id"] for r in first.records + second.records]
    assert sorted(ids) == [1, 2, 3, 5] and len(set(ids)) == 4
    shared.agree(id="DSA-2")
    other = add_client(shared.estate, "tester", "other-api", "DSA-2")
    other_client = authenticate_client(shared.estate, other.client.id, other.secret)
    cursor = first.next_cursor
    for agreement, client, changes in (
        ("DSA-1", None, {"cursor": cursor, "filters": {"sex": "M"}}),
        ("DSA-2", other_client, {"cursor": cursor}),
        ("DSA-1", None, {"cursor": cursor[:-2] + "AA"}),
        ("DSA-1", None, {"cursor": "not a cursor!"}),
    ):
        with pytest.raises(BadRequest, match="cursor"):
            _read(shared, agreement, client=client, limit=3, **changes)


def test_pseudonyms_and_ids_are_stable_within_an_agreement_and_unlinkable_across(shared: Shared) -> None:
    shared.agree(id="DSA-2")
    other = add_client(shared.estate, "tester", "other-api", "DSA-2")
    other_client = authenticate_client(shared.estate, other.client.id, other.secret)
    once = {r["person_id"]: r for r in _read(shared).records}
    again = {r["person_id"]: r for r in _read(shared).records}
    there = {r["person_id"]: r for r in _read(shared, "DSA-2", client=other_client).records}
    assert once == again
    for person in (1, 2, 3):
        assert there[person]["nhs_number"] != once[person]["nhs_number"]
        assert there[person]["id"] != once[person]["id"]
    assert not {r["nhs_number"] for r in once.values()} & {r["nhs_number"] for r in there.values()} - {None}
    # A record read by its id under its own agreement; that id means nothing under another.
    agreement = live_agreement(shared.estate, "DSA-1")
    one = read_record(shared.estate, client=_client(shared), agreement=agreement, dataset="people",
                      record_id=once[2]["id"])  # fmt: skip
    assert one.records == [once[2]]
    with pytest.raises(NotFound):
        read_record(shared.estate, client=other_client, agreement=live_agreement(shared.estate, "DSA-2"),
                    dataset="people", record_id=once[2]["id"])  # fmt: skip
    with pytest.raises(NotPermitted):
        read_record(shared.estate, client=other_client, agreement=agreement, dataset="people", record_id=once[2]["id"])
    with pytest.raises(NotFound):
        read_record(shared.estate, client=_client(shared), agreement=agreement, dataset="people", record_id="zz")


def test_an_objector_is_left_out_counted_and_never_named(shared: Shared) -> None:
    assert 1 in {r["person_id"] for r in _read(shared).records}
    wanted = next(r for r in _read(shared).records if r["person_id"] == 1)["id"]
    research = add_objection(shared.estate, "dora", nhs_number="943 476 5919", purposes=("research",))
    # DSA-1 is for service delivery: an objection to research does not touch it.
    assert 1 in {r["person_id"] for r in _read(shared).records}
    withdraw_objection(shared.estate, "dora", research.id)
    found = add_objection(shared.estate, "dora", nhs_number=OBJECTOR, purposes=("service_delivery", "planning"))
    page = _read(shared)
    assert sorted(r["person_id"] for r in page.records) == [2, 3, 5]
    assert page.excluded == 1 and page.entry["detail"]["excluded"] == 1
    with pytest.raises(NotFound):
        read_record(shared.estate, client=_client(shared), agreement=live_agreement(shared.estate, "DSA-1"),
                    dataset="people", record_id=wanted)  # fmt: skip
    # Paged, the count is of the objectors passed over on the way to each page.
    first = _read(shared, limit=1)
    assert first.excluded == 1 and [r["person_id"] for r in first.records] == [2]
    rest = _read(shared, limit=1, cursor=first.next_cursor)
    assert rest.excluded == 0
    withdraw_objection(shared.estate, "dora", found.id)
    assert 1 in {r["person_id"] for r in _read(shared).records}
    entries = sqlite3.connect(shared.estate.root / "catalogue.db").execute("SELECT * FROM audit_entries").fetchall()
    stored = sqlite3.connect(shared.estate.root / "catalogue.db").execute("SELECT * FROM sharing_objections")
    assert OBJECTOR not in repr(entries) and OBJECTOR not in repr(stored.fetchall())


def test_the_entry_names_the_client_the_agreement_and_everyone_returned(shared: Shared) -> None:
    add_objection(shared.estate, "dora", nhs_number=OBJECTOR, purposes=("service_delivery",))
    page = _read(shared, filters={"postcode": "SW1A 1AA"})
    entry = page.entry
    assert entry["principal"] == "dwp-api" and entry["action"] == "sharing.read"
    assert entry["purpose"] == "agreement DSA-1: identify residents eligible for housing support"
    assert entry["dataset"] == "people" and entry["dataset_version"] == 1 and entry["row_count"] == 1
    assert entry["detail"]["filters"] == ["postcode"] and "SW1A" not in repr(entry["detail"])
    # Reading makes no entry of its own: the caller commits it before sending.
    assert not log(shared.estate, action="sharing.read")
    record_now(shared.estate, **entry)
    [stored] = log(shared.estate, action="sharing.read")
    assert stored.principal == "dwp-api" and stored.detail["excluded"] == 0 and len(stored.subjects) == 1
    found = who_accessed(shared.estate, "nhs_number", "4000000004")
    assert [(a.entry.principal, a.basis) for a in found.accesses if a.entry.action == "sharing.read"] == [
        ("dwp-api", "named")
    ]
    assert not [a for a in who_accessed(shared.estate, "nhs_number", "4000079190").accesses
                if a.entry.action == "sharing.read"]  # fmt: skip
    rows = sqlite3.connect(shared.estate.root / "catalogue.db").execute("SELECT * FROM audit_entries").fetchall()
    assert "4000000004" not in repr(rows) and "SW1A 1AA" not in repr(rows)


def test_recipients_are_the_parties_data_actually_went_to(shared: Shared) -> None:
    assert recipients_for(shared.estate, ["people"]) == []
    record_now(shared.estate, **_read(shared).entry)
    [recipient] = recipients_for(shared.estate, ["people", "visits"])
    assert recipient.to_dict() == {
        "party": "Department for Work and Pensions", "role": "controller", "agreement": "DSA-1",
        "datasets": ["people"], "via": ["api"],
    }  # fmt: skip
    assert recipients_for(shared.estate, ["visits"]) == []
    assert recipients_to_notify(shared.estate, ["people"])["recipients"] == [recipient.to_dict()]


def test_clients_authenticate_with_their_current_secret_only(shared: Shared) -> None:
    issued = shared.client
    assert _client(shared).principal == "dwp-api" and not _client(shared).revoked
    for client_id, secret in ((issued.client.id, "wrong"), ("jdc_unknown", issued.secret), ("", "")):
        with pytest.raises(BadCredentials):
            authenticate_client(shared.estate, client_id, secret)
    rotated = rotate_client(shared.estate, "tester", "dwp-api")
    with pytest.raises(BadCredentials):
        authenticate_client(shared.estate, issued.client.id, issued.secret)
    assert authenticate_client(shared.estate, issued.client.id, rotated.secret).id == issued.client.id
    stored = sqlite3.connect(shared.estate.root / "catalogue.db").execute("SELECT * FROM sharing_clients").fetchall()
    assert rotated.secret not in repr(stored) and "scrypt$" in repr(stored)
    disable_principal(shared.estate, "tester", "dwp-api")
    with pytest.raises(ClientRefused) as disabled:
        authenticate_client(shared.estate, issued.client.id, rotated.secret)
    enable_principal(shared.estate, "tester", "dwp-api")
    assert authenticate_client(shared.estate, issued.client.id, rotated.secret).name == "dwp-api"
    revoke_client(shared.estate, "tester", issued.client.id)
    with pytest.raises(ClientRefused) as revoked:
        authenticate_client(shared.estate, issued.client.id, rotated.secret)
    # The right secret names the client and why; the message is a wrong secret's, word for word.
    assert (disabled.value.reason, disabled.value.client.id) == ("client-disabled", issued.client.id)
    assert (revoked.value.reason, revoked.value.client.principal) == ("client-revoked", "dwp-api")
    with pytest.raises(BadCredentials) as wrong:
        authenticate_client(shared.estate, issued.client.id, "wrong")
    assert not isinstance(wrong.value, ClientRefused)
    assert str(wrong.value) == str(revoked.value) == str(disabled.value)
    # The secret it had before rotation proves nothing: a wrong secret, naming nobody.
    with pytest.raises(BadCredentials) as old:
        authenticate_client(shared.estate, issued.client.id, issued.secret)
    assert not isinstance(old.value, ClientRefused)
