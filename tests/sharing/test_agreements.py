"""Agreements: each refusal names its field and records nothing; dates, revocation and the public register."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from joinedup.audit import log
from joinedup.errors import AccessDenied, InputError
from joinedup.sharing import AgreementNotLive, live_agreement, public_register
from joinedup.sharing.agreements import add_agreement, list_agreements, revoke_agreement
from joinedup.sharing.keys import key_path
from tests.sharing.conftest import Shared, agreement_doc

PEOPLE_TERMS = {"name": "people", "fields": ["person_id", "postcode"]}


def _dataset(**changes: Any) -> list[dict[str, Any]]:
    return [{**PEOPLE_TERMS, **changes}]


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top-level key", {"purposes": "x"}, r"purposes: unknown key"),
    ("unknown nested key", {"datasets": _dataset(feilds=["x"])}, r"datasets\[0\]\.feilds: unknown key"),
    (
        "unknown party key",
        {
            "parties": [
                {"name": "A", "role": "controller", "x": 1},
                {"name": "B", "role": "processor", "receives": True},
            ]
        },
        r"parties\[0\]\.x: unknown key",
    ),
    ("unknown dataset", {"datasets": [{"name": "nowhere", "fields": ["a"]}]}, r"datasets\[0\]\.name: no dataset"),
    ("unknown field", {"datasets": _dataset(fields=["person_id", "shoe_size"])}, r"datasets\[0\]\.fields: .*shoe_size"),
    ("personal without Art. 6", {"lawful_basis": {}}, r"lawful_basis\.article_6: people\.postcode is personal"),
    (
        "special category without Art. 9",
        {"datasets": [{"name": "visits", "fields": ["visit_id", "diagnosis"]}]},
        r"lawful_basis\.article_9: visits\.diagnosis is special category data \(health\)",
    ),
    (
        "criminal offence without Art. 10",
        {"datasets": [{"name": "visits", "fields": ["visit_id", "caution"]}]},
        r"lawful_basis\.article_10: visits\.caution is criminal offence data",
    ),
    ("end before start", {"start": "2026-05-01", "end": "2026-04-30"}, r"end: 2026-04-30 is before start 2026-05-01"),
    ("unknown Art. 6 basis", {"lawful_basis": {"article_6": "because"}}, r"lawful_basis\.article_6: 'because' is not"),
    ("unknown purpose", {"purpose_category": "marketing"}, r"purpose_category: 'marketing' is not one of"),
    (
        "unknown role",
        {"parties": [{"name": "A", "role": "boss"}, {"name": "B", "role": "processor"}]},
        r"parties\[0\]\.role: 'boss'",
    ),
    (
        "no recipient",
        {"parties": [{"name": "A", "role": "controller"}, {"name": "B", "role": "processor"}]},
        r"parties: no party receives",
    ),
    (
        "pseudonymised not shared",
        {"datasets": _dataset(pseudonymised=["nhs_number"])},
        r"datasets\[0\]\.pseudonymised: 'nhs_number' is not among",
    ),
    (
        "row filter on unknown field",
        {"datasets": _dataset(rows=[{"field": "x", "op": "eq", "value": 1}])},
        r"datasets\[0\]\.rows\[0\]\.field: .* no field 'x'",
    ),
    (
        "row filter value of the wrong type",
        {"datasets": _dataset(rows=[{"field": "person_id", "op": "gt", "value": "lots"}])},
        r"datasets\[0\]\.rows\[0\]\.value: does not compare with field 'person_id'",
    ),
    (
        "unknown operator",
        {"datasets": _dataset(rows=[{"field": "person_id", "op": "like", "value": "%"}])},
        r"datasets\[0\]\.rows\[0\]\.op: 'like' is not one of",
    ),
    ("missing dpia", {"dpia": None}, r"dpia: is required"),
    ("bad date", {"review": "next year"}, r"review: expected an ISO 8601 date"),
]


@pytest.mark.parametrize(("case", "changes", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refusal_is_one_line_naming_the_field_and_records_nothing(
    shared: Shared, case: str, changes: dict[str, Any], message: str
) -> None:
    doc = agreement_doc(id="DSA-9", datasets=[PEOPLE_TERMS], **{})
    doc.update(changes)
    doc = {k: v for k, v in doc.items() if v is not None}
    path = shared.write(doc, "bad.yaml")
    before = len(log(shared.estate, limit=None))
    with pytest.raises(InputError, match=message) as caught:
        add_agreement(shared.estate, "tester", path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(path))
    assert [a.id for a in list_agreements(shared.estate)] == ["DSA-1"]
    assert not key_path(shared.estate, "DSA-9").exists()
    assert len(log(shared.estate, limit=None)) == before


def test_not_yaml_and_a_repeated_id_are_refused(shared: Shared) -> None:
    path = shared.tmp / "broken.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML at line"):
        add_agreement(shared.estate, "tester", path)
    with pytest.raises(InputError, match="'DSA-1' is already recorded"):
        shared.agree(id="DSA-1")


def test_a_valid_agreement_is_recorded_with_its_key_and_audited(shared: Shared) -> None:
    found = shared.agree(
        id="DSA-2",
        lawful_basis={"article_6": "public_task", "article_9": "health_or_social_care", "article_10": "Sch 1 para 6"},
        datasets=[{"name": "visits", "fields": ["visit_id", "diagnosis", "caution"]}],
    )
    assert found.status() == "live"
    path = key_path(shared.estate, "DSA-2")
    assert path.exists() and path.stat().st_mode & 0o077 == 0
    [entry] = log(shared.estate, action="agreement.add")[-1:]
    assert entry.principal == "tester" and entry.detail["agreement"] == "DSA-2"
    assert entry.detail["datasets"] == {"visits": ["visit_id", "diagnosis", "caution"]}


def test_dates_and_revocation_decide_whether_it_is_live(shared: Shared) -> None:
    shared.agree(id="DSA-LATER", start="2098-01-01", end="2099-01-01", review="2098-06-01")
    shared.agree(id="DSA-OLD", start="2020-01-01", end="2021-01-01", review="2020-06-01")
    with pytest.raises(AgreementNotLive, match="DSA-LATER has not yet started"):
        live_agreement(shared.estate, "DSA-LATER")
    with pytest.raises(AgreementNotLive, match="DSA-OLD expired on 2021-01-01"):
        live_agreement(shared.estate, "DSA-OLD")
    # The end date is the last day in force.
    assert live_agreement(shared.estate, "DSA-OLD", at=datetime(2021, 1, 1, 23, 0, tzinfo=UTC)).id == "DSA-OLD"
    assert live_agreement(shared.estate, "DSA-1").id == "DSA-1"
    revoke_agreement(shared.estate, "tester", "DSA-1", "gateway repealed")
    with pytest.raises(AgreementNotLive, match="DSA-1 was revoked"):
        live_agreement(shared.estate, "DSA-1")
    [entry] = log(shared.estate, action="agreement.revoke")
    assert entry.detail == {"agreement": "DSA-1", "reason": "gateway repealed"}
    statuses = {a["id"]: a["status"] for a in public_register(shared.estate)}
    assert statuses == {"DSA-1": "revoked", "DSA-LATER": "not started", "DSA-OLD": "expired"}


def test_the_public_register_holds_what_was_agreed_and_nothing_secret(shared: Shared) -> None:
    [entry] = public_register(shared.estate)
    assert entry["parties"][1] == {"name": "Department for Work and Pensions", "role": "controller", "receives": True}
    assert entry["legal_gateway"]["name"].startswith("Digital Economy Act 2017 Part 5")
    assert entry["lawful_basis"]["article_6"] == "public_task"
    assert entry["datasets"][0]["pseudonymised"] == ["nhs_number"]
    assert entry["start"] == "2026-01-01" and entry["dpia"] == "DPIA-2026-014"
    assert entry["status"] == "live" and entry["review_due"] is (datetime.now(UTC).date().isoformat() >= "2027-01-01")
    key = key_path(shared.estate, "DSA-1").read_text().strip()
    text = repr(entry)
    assert key not in text and shared.client.secret not in text and "recorded_by" not in entry


@pytest.mark.parametrize("who", ["ann", "stu", "aud"])
def test_analysts_stewards_and_auditors_cannot_record_or_revoke(shared: Shared, who: str) -> None:
    with pytest.raises(AccessDenied):
        add_agreement(shared.estate, who, shared.write(agreement_doc(id="DSA-7")))
    with pytest.raises(AccessDenied):
        revoke_agreement(shared.estate, who, "DSA-1", "no")
    assert [a.id for a in list_agreements(shared.estate)] == ["DSA-1"]


def test_a_dpo_may_record_an_agreement(shared: Shared) -> None:
    found = add_agreement(shared.estate, "dora", shared.write(agreement_doc(id="DSA-D")))
    assert found.created_by == "dora"
