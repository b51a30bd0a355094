"""A hostile partner's, a careless DPO's and an attacker's inputs to agreements, objections and extracts.

Each test names the attack; each failed before its fix.
"""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest

from joinedup.audit import log
from joinedup.errors import InputError
from joinedup.sharing import live_agreement
from joinedup.sharing.agreements import add_agreement, list_agreements
from joinedup.sharing.extract import extract
from joinedup.sharing.objections import add_objection, list_objections
from tests.sharing.conftest import Shared, agreement_doc, load

_BASE = agreement_doc(id="DSA-H", datasets=[{"name": "people", "fields": ["person_id", "postcode"]}])


def _yaml(shared: Shared, text: str, name: str = "hostile.yaml") -> Path:
    path = shared.tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(shared: Shared, path: Path, message: str) -> None:
    before = len(log(shared.estate, limit=None))
    with pytest.raises(InputError, match=message) as caught:
        add_agreement(shared.estate, "tester", path)
    assert "\n" not in str(caught.value)
    assert [a.id for a in list_agreements(shared.estate)] == ["DSA-1"]
    assert len(log(shared.estate, limit=None)) == before


def _plain_yaml(**changes: str) -> str:
    """The base agreement as YAML written by hand: every value a line of its own, for editing as text."""
    import yaml

    text = yaml.safe_dump(_BASE, sort_keys=False)
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize(
    ("case", "old", "new", "message"),
    [
        (
            "a date that is not in the calendar",
            "end: '2099-12-31'",
            "end: 2028-02-30",
            r"hostile\.yaml: end: '2028-02-30' is not a real date or time \(line \d+\)",
        ),
        (
            "a time that is not on the clock",
            "start: '2026-01-01'",
            "start: 2026-01-01 25:00:00",
            r"hostile\.yaml: start: .* is not a real date",
        ),
    ],
)
def test_a_yaml_date_the_calendar_lacks_is_one_line_not_a_crash(
    shared: Shared, case: str, old: str, new: str, message: str
) -> None:
    _refused(shared, _yaml(shared, _plain_yaml(**{old: new})), message)


def test_deeply_nested_yaml_is_one_line_not_a_crash(shared: Shared) -> None:
    _refused(shared, _yaml(shared, "[" * 5000 + "]" * 5000), r"hostile\.yaml: .*nested")


def test_a_key_given_twice_is_refused_rather_than_the_last_one_winning(shared: Shared) -> None:
    # A reviewer reads the first `lawful_basis`; YAML would silently keep the second.
    text = _plain_yaml() + "lawful_basis:\n  article_6: consent\n"
    _refused(shared, _yaml(shared, text), r"hostile\.yaml: lawful_basis: given twice \(line \d+\)")
    nested = _plain_yaml(**{"  - postcode\n": "  - postcode\n  fields: [person_id]\n"})
    _refused(shared, _yaml(shared, nested), r"datasets\[0\]\.fields: given twice")


@pytest.mark.parametrize(
    ("yaml_value", "message"),
    [
        ("NO", r"datasets\[0\]\.rows\[0\]\.value: field 'sex' is text; quote the value"),
        ("0123", r"datasets\[0\]\.rows\[0\]\.value: field 'sex' is text; quote the value"),
        ("[M, 1]", r"datasets\[0\]\.rows\[0\]\.value: field 'sex' is text; quote the value"),
    ],
)
def test_a_row_filter_yaml_turned_into_a_boolean_or_number_on_a_text_field_is_refused(
    shared: Shared, yaml_value: str, message: str
) -> None:
    # YAML 1.1 reads NO (Norway) as false and 0123 as the octal 83: the agreement was recorded and then every
    # read and extract under it failed.
    op = "in" if yaml_value.startswith("[") else "ne"
    text = _plain_yaml(
        **{"  - postcode\n": f"  - postcode\n  rows:\n  - {{field: sex, op: {op}, value: {yaml_value}}}\n"}
    )
    _refused(shared, _yaml(shared, text), message)


def test_a_quoted_text_filter_value_and_a_number_on_a_number_field_are_accepted(shared: Shared) -> None:
    text = _plain_yaml(
        **{"  - postcode\n": "  - postcode\n  rows:\n  - {field: sex, op: ne, value: 'NO'}\n"
           "  - {field: person_id, op: gt, value: 0}\n"}
    )  # fmt: skip
    added = add_agreement(shared.estate, "tester", _yaml(shared, text))
    assert [r.value for r in added.datasets[0].rows] == ["NO", 0]


def test_an_nhs_number_field_without_a_personal_flag_still_needs_a_lawful_basis(shared: Shared) -> None:
    load(
        shared.estate, shared.tmp, "contacts",
        "fields:\n  - {name: ref, type: integer}\n  - {name: nhs, type: nhs_number}\n  - {name: ni, type: ni_number}\n",
        "ref,nhs,ni\n1,9434765919,AB123456C\n",
    )  # fmt: skip
    for field in ("nhs", "ni"):
        doc = agreement_doc(id="DSA-H", lawful_basis={}, datasets=[{"name": "contacts", "fields": ["ref", field]}])
        _refused(shared, shared.write(doc, "hostile.yaml"), rf"lawful_basis\.article_6: contacts\.{field} is personal")


def test_an_objection_source_holding_an_identifier_is_refused(shared: Shared) -> None:
    # The register keeps people only as keyed hashes: a free-text source must not carry the number in clear.
    for source in ("letter from 943 476 5919", "call re AB 12 34 56 C"):
        with pytest.raises(InputError, match=r"--source: .*NHS or National Insurance number"):
            add_objection(shared.estate, "tester", nhs_number="4000000004", purposes=("research",), source=source)
    assert list_objections(shared.estate, "tester") == []
    kept = add_objection(
        shared.estate, "tester", nhs_number="4000000004", purposes=("research",), source="letter of 3 March"
    )
    assert kept.source == "letter of 3 March"


def test_parquet_extract_files_are_readable_by_the_owner_only(shared: Shared, tmp_path: Path) -> None:
    out = tmp_path / "outbox"
    out.mkdir(mode=0o755)  # an existing empty folder, as an operator might make it
    extract(shared.estate, "tester", "DSA-1", out, "parquet")
    data = out / "people.parquet"
    assert stat.S_IMODE(data.stat().st_mode) & 0o077 == 0
    with open(out / "manifest.json", encoding="utf-8") as handle:
        assert "people.parquet" in handle.read()


NI_SCHEMA = """
title: Benefit claims
fields:
  - {name: claim_id, type: integer}
  - {name: ni_number, type: ni_number, personal: true, category: identifier}
  - {name: award, type: string}
primaryKey: [claim_id]
"""


def test_an_objection_by_ni_number_is_honoured_in_a_dataset_with_no_nhs_number(shared: Shared, tmp_path: Path) -> None:
    load(shared.estate, shared.tmp, "claims", NI_SCHEMA, "claim_id,ni_number,award\n1,AB123456C,pip\n2,CE123456D,uc\n")
    add_agreement(
        shared.estate, "tester",
        shared.write(agreement_doc(id="DSA-NI", datasets=[{"name": "claims", "fields": ["claim_id", "award"]}]),
                     "ni.yaml"),
    )  # fmt: skip
    add_objection(
        shared.estate, "tester", nhs_number="4000000004", ni_number="ab 12 34 56 c", purposes=("service_delivery",)
    )
    assert live_agreement(shared.estate, "DSA-NI").purpose_category == "service_delivery"
    done = extract(shared.estate, "tester", "DSA-NI", tmp_path / "ni-out", "csv")
    assert done.excluded == {"claims": 1}
    with open(tmp_path / "ni-out" / "claims.csv", encoding="utf-8", newline="") as handle:
        assert [r["claim_id"] for r in csv.DictReader(handle)] == ["2"]
    entry = [e for e in log(shared.estate, limit=None) if e.action == "sharing.export"][-1]
    assert entry.detail["excluded"] == 1 and entry.row_count == 1


def test_two_shared_fields_the_api_would_call_by_one_name_are_refused(shared: Shared) -> None:
    # `NhsNumber` and `nhs_number` are both `nhs_number` in the API: one would hide the other (perhaps the
    # pseudonymised one behind the raw one).
    load(
        shared.estate, shared.tmp, "legacy",
        "fields:\n  - {name: ref, type: integer}\n  - {name: NhsNumber, type: string}\n"
        "  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}\n",
        "ref,NhsNumber,nhs_number\n1,x,9434765919\n",
    )  # fmt: skip
    doc = agreement_doc(
        id="DSA-H",
        datasets=[{"name": "legacy", "fields": ["ref", "NhsNumber", "nhs_number"], "pseudonymised": ["nhs_number"]}],
    )
    _refused(
        shared, shared.write(doc, "hostile.yaml"),
        r"datasets\[0\]\.fields: 'NhsNumber' and 'nhs_number' would both be called 'nhs_number'",
    )  # fmt: skip


def test_a_row_filter_naming_people_by_identifier_is_refused(shared: Shared) -> None:
    # The register of agreements is public (GET /v1/agreements): leaving people out by their NHS number belongs in
    # the objections register, which keeps them as keyed hashes.
    rows = [{"field": "nhs_number", "op": "not_in", "value": ["9434765919", "4000000004"]}]
    doc = agreement_doc(id="DSA-H", datasets=[{"name": "people", "fields": ["person_id"], "rows": rows}])
    _refused(
        shared, shared.write(doc, "hostile.yaml"),
        r"datasets\[0\]\.rows\[0\]\.value: holds an NHS or National Insurance number; .*objection",
    )  # fmt: skip


@pytest.mark.parametrize("who", ["ann", "stu", "aud"])
def test_other_roles_are_refused_every_management_command_and_change_nothing(shared: Shared, who: str) -> None:
    from joinedup.errors import ExitCode
    from tests.conftest import cli_runner

    run = cli_runner(shared.estate.root)
    add_objection(shared.estate, "tester", nhs_number="4000000004", purposes=("research",))
    before = len(log(shared.estate, limit=None))
    commands = [
        ["agreement", "revoke", "DSA-1", "--reason", "x"],
        ["client", "list"], ["client", "revoke", "dwp-api"], ["client", "rotate", "dwp-api"],
        ["objection", "list"], ["objection", "withdraw", "O1"],
    ]  # fmt: skip
    if who != "aud":  # the auditor may read the register of agreements, nothing more
        commands += [["agreement", "list"], ["agreement", "show", "DSA-1"]]
    for args in commands:
        result = run(*args, user=who)
        assert result.exit_code == ExitCode.ACCESS_DENIED, (who, args, result.stderr)
        assert "secret" not in result.stdout.lower()
    assert live_agreement(shared.estate, "DSA-1").status() == "live"
    assert len(list_objections(shared.estate, "tester")) == 1
    refused = [e for e in log(shared.estate, limit=None)[before:]]
    assert all(e.principal == who for e in refused)  # only the refusals themselves, if they are recorded


def test_an_extract_that_died_writing_its_files_still_names_the_recipient(shared: Shared) -> None:
    # The export's audit entry is committed before the first file is written; the extracts table only after the
    # last. A process killed in between has let data out: erasure must still tell the recipient (Art. 19).
    from joinedup.audit import record_now
    from joinedup.sharing import recipients_for
    from joinedup.sharing.records import EXPORT_ACTION, select_all

    assert recipients_for(shared.estate, ["people"]) == []
    plan, table, excluded = select_all(shared.estate, live_agreement(shared.estate, "DSA-1"), "people")
    record_now(shared.estate, **plan.entry("tester", EXPORT_ACTION, table, [], excluded, format="csv"))
    [recipient] = recipients_for(shared.estate, ["people"])
    assert (recipient.agreement_id, recipient.datasets, recipient.via) == ("DSA-1", ("people",), ("extract",))


def test_the_published_register_carries_no_identifier_in_free_text(shared: Shared) -> None:
    from joinedup.sharing.agreements import revoke_agreement

    # The register is public (GET /v1/agreements): a revocation reason or a purpose naming someone by number
    # would publish it (the audit log redacts it; the register did not).
    with pytest.raises(InputError, match=r"--reason: holds an NHS or National Insurance number"):
        revoke_agreement(shared.estate, "tester", "DSA-1", "breach: record of 943 476 5919 sent twice")
    assert live_agreement(shared.estate, "DSA-1").status() == "live"
    doc = agreement_doc(id="DSA-H", purpose="support for the family of AB 12 34 56 C")
    _refused(shared, shared.write(doc, "hostile.yaml"), r"purpose: holds an NHS or National Insurance number")
    # An agreement recorded before these checks existed stays readable (the checks are for files being recorded).
    from joinedup.estate.db import now
    from joinedup.sharing.models import AgreementRow

    old = live_agreement(shared.estate, "DSA-1").definition()
    old.update(id="DSA-OLD", purpose="support for the family of AB 12 34 56 C")
    with shared.estate.session() as session:
        session.add(
            AgreementRow(id="DSA-OLD", definition=old, source_sha256="0" * 64, created_at=now(), created_by="x")
        )
    assert live_agreement(shared.estate, "DSA-OLD").purpose.endswith("AB 12 34 56 C")
