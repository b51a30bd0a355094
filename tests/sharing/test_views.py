"""Single-record reads from the materialised view: the same answer as the query, and never a stale one.

Each test reads whole pages with :func:`read_records` (which never uses a view) as
the oracle, and checks :func:`read_record` against it after each change that must
invalidate a view: a new version, an objection added or withdrawn, a revoked
agreement, linkage tying a record to an objector.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from joinedup.estate import Estate
from joinedup.linkage import store
from joinedup.sharing import AgreementNotLive, Client, NotFound, authenticate_client, live_agreement, read_record
from joinedup.sharing import keys as sharing_keys
from joinedup.sharing.agreements import add_agreement, get_agreement, revoke_agreement
from joinedup.sharing.clients import add_client
from joinedup.sharing.objections import add_objection, withdraw_objection
from joinedup.sharing.records import read_records
from joinedup.sharing.views import VIEWS
from tests.conftest import PEOPLE_SCHEMA
from tests.lifecycle.conftest import Planted, planted  # noqa: F401 (the planted estate, as erasure's tests use it)
from tests.lifecycle.test_erasure import _request
from tests.sharing.conftest import OBJECTOR, PEOPLE, Cli, Shared, agreement_doc, load
from tests.sharing.test_linked import COUNCIL, GP_WITHOUT_NHS, _load


@pytest.fixture(autouse=True)
def _no_views_from_other_tests() -> None:
    VIEWS.clear()


def _client(shared: Shared) -> Client:
    return authenticate_client(shared.estate, shared.client.client.id, shared.client.secret)


def _everyone(shared: Shared, agreement: str = "DSA-1", client: Client | None = None) -> dict[int, dict[str, Any]]:
    terms = live_agreement(shared.estate, agreement)
    page = read_records(shared.estate, client=client or _client(shared), agreement=terms,
                        dataset="people", filters={}, cursor=None, limit=100)  # fmt: skip
    return {int(r["person_id"]): r for r in page.records}


def _one(shared: Shared, record_id: str, agreement: str = "DSA-1", client: Client | None = None) -> Any:
    terms = live_agreement(shared.estate, agreement)
    return read_record(shared.estate, client=client or _client(shared), agreement=terms,
                       dataset="people", record_id=record_id)  # fmt: skip


def _held(shared: Shared, agreement: str | None = None) -> int:
    return VIEWS.held(os.fspath(shared.estate.root), agreement)


def test_a_record_from_the_view_is_what_the_query_gives_with_the_same_audit_entry(shared: Shared) -> None:
    everyone = _everyone(shared)
    assert sorted(everyone) == [1, 2, 3, 5]
    built = VIEWS.builds
    for record in everyone.values():
        assert _one(shared, record["id"]).records == [record]
    assert _held(shared, "DSA-1") == 1 and VIEWS.builds == built + 1  # one query for all four
    from_view = _one(shared, everyone[2]["id"]).entry
    shared.estate.config.extra["sharing"] = {"view_cache_rows": 0}  # views off: the query of its own
    queried = _one(shared, everyone[2]["id"])
    assert queried.records == [everyone[2]] and queried.entry == from_view
    assert from_view["row_count"] == 1 and from_view["detail"]["excluded"] == 0
    assert [s.kind for s in from_view["subjects"]] == ["nhs_number"]


def test_a_row_the_agreement_filters_out_is_not_found_in_the_view(shared: Shared) -> None:
    # Carla (sex X) is outside DSA-1's row filter; find her id under an agreement without one, then under DSA-1.
    shared.agree(id="DSA-ALL", datasets=[{"name": "people", "fields": ["person_id", "postcode", "sex"]}])
    other = add_client(shared.estate, "tester", "all-api", "DSA-ALL")
    other_client = authenticate_client(shared.estate, other.client.id, other.secret)
    carla = _everyone(shared, "DSA-ALL", other_client)[4]
    surrogate = sharing_keys.decode_record_id(
        sharing_keys.agreement_key(shared.estate, "DSA-ALL"), "people", carla["id"]
    )
    assert surrogate is not None
    plain = np.array(surrogate, dtype="<u8").tobytes()
    mine = sharing_keys.agreement_key(shared.estate, "DSA-1")
    cipher = np.frombuffer(sharing_keys.encrypt_ids(mine, "people", plain), dtype="<u8")
    under_dsa1 = f"{int(cipher[0]):016x}{int(cipher[1]):016x}"
    assert _one(shared, carla["id"], "DSA-ALL", other_client).records == [carla]
    with pytest.raises(NotFound):
        _one(shared, under_dsa1)
    assert _held(shared, "DSA-1") == 1


def test_a_new_version_is_read_at_once(shared: Shared) -> None:
    before = _everyone(shared)
    assert _one(shared, before[2]["id"]).records[0]["postcode"] == "SW1A 1AA"
    load(shared.estate, shared.tmp, "people", PEOPLE_SCHEMA, PEOPLE.replace("SW1A 1AA", "EH1 1YZ"))
    after = _everyone(shared)
    page = _one(shared, after[2]["id"])
    assert page.records == [after[2]] and page.records[0]["postcode"] == "EH1 1YZ"
    assert page.entry["dataset_version"] == 2
    if before[2]["id"] != after[2]["id"]:
        with pytest.raises(NotFound):
            _one(shared, before[2]["id"])
    assert _held(shared, "DSA-1") == 1  # the old version's view was dropped, not kept beside


def test_an_objection_takes_effect_on_the_next_read_and_so_does_its_withdrawal(shared: Shared) -> None:
    wanted = _everyone(shared)[1]
    assert _one(shared, wanted["id"]).records == [wanted]
    research = add_objection(shared.estate, "dora", nhs_number=OBJECTOR, purposes=("research",))
    assert _one(shared, wanted["id"]).records == [wanted]  # DSA-1 is for service delivery
    withdraw_objection(shared.estate, "dora", research.id)
    found = add_objection(shared.estate, "dora", nhs_number=OBJECTOR, purposes=("service_delivery",))
    with pytest.raises(NotFound):
        _one(shared, wanted["id"])
    other = _everyone(shared)[2]
    assert _one(shared, other["id"]).records == [other]
    withdraw_objection(shared.estate, "dora", found.id)
    assert _one(shared, wanted["id"]).records == [wanted]


def test_a_revoked_agreement_is_refused_and_its_views_forgotten(shared: Shared) -> None:
    wanted = _everyone(shared)[2]
    assert _one(shared, wanted["id"]).records == [wanted]
    assert _held(shared, "DSA-1") == 1
    revoke_agreement(shared.estate, "tester", "DSA-1", "gateway repealed")
    with pytest.raises(AgreementNotLive, match="DSA-1 is revoked"):
        read_record(shared.estate, client=_client(shared), agreement=get_agreement(shared.estate, "DSA-1"),
                    dataset="people", record_id=wanted["id"])  # fmt: skip
    assert _held(shared, "DSA-1") == 0


def test_views_hold_no_more_rows_than_configured(shared: Shared) -> None:
    everyone = _everyone(shared)
    shared.estate.config.extra["sharing"] = {"view_cache_rows": 3}  # DSA-1 shares 4 rows: too many to hold
    for record in everyone.values():
        assert _one(shared, record["id"]).records == [record]
    assert _held(shared) == 0
    shared.agree(id="DSA-2")
    other = add_client(shared.estate, "tester", "other-api", "DSA-2")
    other_client = authenticate_client(shared.estate, other.client.id, other.secret)
    theirs = _everyone(shared, "DSA-2", other_client)
    shared.estate.config.extra["sharing"] = {"view_cache_rows": 5}  # room for one view of 4 rows
    assert _one(shared, everyone[3]["id"]).records == [everyone[3]]
    assert _one(shared, theirs[3]["id"], "DSA-2", other_client).records == [theirs[3]]
    assert _held(shared, "DSA-1") == 0 and _held(shared, "DSA-2") == 1
    shared.estate.config.extra["sharing"] = {"view_cache_rows": -1}
    with pytest.raises(Exception, match=r"\[sharing\] view_cache_rows"):
        _one(shared, everyone[3]["id"])


def test_a_record_linked_to_an_objector_leaves_the_view_when_the_objection_arrives(
    cli: Cli, estate: Estate, tmp_path: Path
) -> None:
    _load(cli, tmp_path, "council", COUNCIL)
    _load(cli, tmp_path, "gp", GP_WITHOUT_NHS)
    assert cli("link", "run", "-d", "council", "-d", "gp").exit_code == 0
    doc = agreement_doc(
        id="DSA-R", purpose_category="research", datasets=[{"name": "gp", "fields": ["id", "postcode"]}]
    )
    path = tmp_path / "dsa-r.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    add_agreement(estate, "tester", path)
    issued = add_client(estate, "tester", "uni-api", "DSA-R")
    client = authenticate_client(estate, issued.client.id, issued.secret)
    agreement = live_agreement(estate, "DSA-R")
    page = read_records(estate, client=client, agreement=agreement, dataset="gp", filters={}, cursor=None, limit=100)
    g1 = next(r for r in page.records if r["id_field"] == "G1")
    one = read_record(estate, client=client, agreement=agreement, dataset="gp", record_id=g1["id"])
    assert one.records == [g1]
    keys = store.read(store.keys_path(estate, "person"))
    assert keys is not None
    g1_key = next(r["key"] for r in keys.to_pylist() if (r["dataset"], r["id"]) == ("gp", "G1"))
    assert ("person_key", str(g1_key)) in {(s.kind, s.value) for s in one.entry["subjects"]}
    # G1 carries no NHS number: only linkage ties it to the objector, found in the council's data.
    add_objection(estate, "tester", nhs_number=OBJECTOR, purposes=("research",))
    with pytest.raises(NotFound):
        read_record(estate, client=client, agreement=agreement, dataset="gp", record_id=g1["id"])


def test_an_erased_person_is_gone_from_the_view_at_the_next_read(planted: Planted) -> None:  # noqa: F811
    # Whatever erasure changes (the table, its log, the catalogue), the next read must not find the person.
    estate = planted.estate
    path = planted.tmp / "dsa-e.yaml"
    path.write_text(yaml.safe_dump(agreement_doc(id="DSA-E")), encoding="utf-8")
    add_agreement(estate, "tester", path)
    issued = add_client(estate, "tester", "e-api", "DSA-E")
    client = authenticate_client(estate, issued.client.id, issued.secret)
    agreement = live_agreement(estate, "DSA-E")
    page = read_records(
        estate, client=client, agreement=agreement, dataset="people", filters={}, cursor=None, limit=100
    )
    planted_person = next(r for r in page.records if r["person_id"] == 1)
    other = next(r for r in page.records if r["person_id"] != 1)
    assert read_record(estate, client=client, agreement=agreement, dataset="people",
                       record_id=planted_person["id"]).records == [planted_person]  # fmt: skip
    _request(planted)
    assert planted.cli("subject", "erase", "R1", user="dora").exit_code == 0
    done = planted.cli("subject", "erase", "R1", "--approve", user="dan")
    assert done.exit_code == 0, done.stderr
    with pytest.raises(NotFound):
        read_record(estate, client=client, agreement=agreement, dataset="people", record_id=planted_person["id"])
    assert read_record(estate, client=client, agreement=agreement, dataset="people",
                       record_id=other["id"]).records == [other]  # fmt: skip


def test_record_ids_decode_alike_from_many_threads_at_once() -> None:
    # Each thread keeps a decryption context of its own: shared, concurrent reads would garble each other's ids.
    from concurrent.futures import ThreadPoolExecutor

    key = bytes(range(32))
    pairs = [(ingest, row) for ingest in (1, 2, 7) for row in range(400)]
    plain = b"".join(i.to_bytes(8, "little") + r.to_bytes(8, "little") for i, r in pairs)
    blocks = sharing_keys.encrypt_ids(key, "people", plain)
    # A record id is the two little-endian halves of its block, each written as 16 hex digits.
    halves = [blocks[n : n + 8][::-1].hex() for n in range(0, len(blocks), 8)]
    ids = [halves[n] + halves[n + 1] for n in range(0, len(halves), 2)]
    assert sharing_keys.decode_record_id(key, "people", ids[5]) == pairs[5]

    def decode_all(dataset: str) -> list[tuple[int, int] | None]:
        return [sharing_keys.decode_record_id(key, dataset, i) for i in ids]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(decode_all, ["people"] * 8 + ["other"] * 4))
    assert all(r == pairs for r in results[:8])
    # Another dataset's key: the same ids stand for other rows (or none), never these.
    assert all(r != pairs for r in results[8:])
