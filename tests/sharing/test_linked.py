"""An objection reaches records linkage tied to the person, even ones that carry no identifier."""

from __future__ import annotations

from pathlib import Path

import yaml

from joinedup.audit import record_now, who_accessed
from joinedup.estate import Estate
from joinedup.linkage import store
from joinedup.sharing import authenticate_client, live_agreement, read_records
from joinedup.sharing.agreements import add_agreement
from joinedup.sharing.clients import add_client
from joinedup.sharing.objections import add_objection
from tests.linkage.test_linkage import COUNCIL, GP, Cli, _load
from tests.sharing.conftest import OBJECTOR, agreement_doc

# The GP's record of Samantha Jackson (G1, "Sam") carries no NHS number: only linkage ties it to her.
GP_WITHOUT_NHS = GP.replace(
    f"G1,Sam,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,{OBJECTOR}", "G1,Sam,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,"
)


def test_records_linked_to_an_objector_are_left_out_too(cli: Cli, estate: Estate, tmp_path: Path) -> None:
    assert GP_WITHOUT_NHS != GP
    _load(cli, tmp_path, "council", COUNCIL)
    _load(cli, tmp_path, "gp", GP_WITHOUT_NHS)
    assert cli("link", "run", "-d", "council", "-d", "gp").exit_code == 0
    keys = store.read(store.keys_path(estate, "person"))
    assert keys is not None
    by_record = {(r["dataset"], r["id"]): r["key"] for r in keys.to_pylist()}
    assert by_record[("council", "C1")] == by_record[("gp", "G1")], "precondition: linkage ties C1 and G1"

    doc = agreement_doc(
        id="DSA-R",
        purpose_category="research",
        datasets=[{"name": "gp", "fields": ["id", "postcode"]}, {"name": "council", "fields": ["id", "postcode"]}],
    )
    path = tmp_path / "dsa-r.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    add_agreement(estate, "tester", path)
    issued = add_client(estate, "tester", "uni-api", "DSA-R")
    client = authenticate_client(estate, issued.client.id, issued.secret)
    agreement = live_agreement(estate, "DSA-R")

    def ids(dataset: str) -> tuple[set[str], int, dict[str, object]]:
        page = read_records(estate, client=client, agreement=agreement, dataset=dataset, filters={}, cursor=None,
                            limit=100)  # fmt: skip
        return {str(r["id_field"]) for r in page.records}, page.excluded, page.entry

    before, _, entry = ids("gp")
    assert "G1" in before
    # Before any objection, the read names G1's person key, so who-accessed by person key finds it.
    record_now(estate, **entry)
    found = who_accessed(estate, "person_key", by_record[("gp", "G1")])
    assert [a.entry.principal for a in found.accesses if a.entry.action == "sharing.read"] == ["uni-api"]

    add_objection(estate, "tester", nhs_number=OBJECTOR, purposes=("research",))
    gp, gp_excluded, _ = ids("gp")
    council, council_excluded, _ = ids("council")
    assert gp == before - {"G1"} and gp_excluded == 1
    assert "C1" not in council and council_excluded == 1
    assert "C2" in council  # her husband, same household, is still shared
