"""Role checks: what each role may and may not do, refused in one line and on the record."""

from __future__ import annotations

import pytest

from joinedup.access import PERMISSIONS, authorize, disable_principal, resolve_principal
from joinedup.audit import log
from joinedup.errors import AccessDenied
from joinedup.estate import Estate

ALLOWED = [
    ("tester", "principal.manage", None, None),
    ("tester", "dataset.schema", "anything", None),
    ("sam", "dataset.ingest", "people", None),
    ("sam", "dataset.schema", "people", None),
    ("sam", "data.query", "people", None),
    ("sam", "quarantine.read", "people", None),
    ("etl", "dataset.ingest", "visits", None),
    ("alice", "data.query", "people", "service planning"),
    ("alice", "data.export", "people", "service planning"),
    ("ann", "data.query", "visits", "service planning"),
    ("dora", "data.erase", "people", None),
    ("dora", "data.retention", None, None),
    ("dora", "audit.who_accessed", None, None),
    ("audrey", "audit.read", None, None),
    ("audrey", "audit.verify", None, None),
    ("tester", "audit.verify", None, None),
]
REFUSED = [
    (
        "alice",
        "data.erase",
        "people",
        None,
        "alice (analyst of people) may not erase data in 'people'; needs dpo or admin",
    ),
    (
        "sam",
        "dataset.schema",
        "visits",
        None,
        "sam (steward of people) may not change the schema of 'visits'; needs admin or steward of 'visits'",
    ),
    (
        "sam",
        "dataset.ingest",
        "visits",
        None,
        "sam (steward of people) may not load data into 'visits'; needs admin or steward of 'visits'",
    ),
    (
        "alice",
        "data.query",
        "visits",
        "planning",
        "alice (analyst of people) may not query 'visits'; needs admin or steward or analyst of 'visits'",
    ),
    ("alice", "data.query", "people", None, "alice (analyst) must state a purpose to query 'people' (--purpose)"),
    ("alice", "data.query", "people", "   ", "alice (analyst) must state a purpose to query 'people' (--purpose)"),
    (
        "alice",
        "dataset.ingest",
        "people",
        None,
        "alice (analyst of people) may not load data into 'people'; needs admin or steward of 'people'",
    ),
    (
        "dora",
        "data.query",
        "people",
        "curious",
        "dora (dpo) may not query 'people'; needs admin or steward or analyst of 'people'",
    ),
    ("audrey", "data.erase", "people", None, "audrey (auditor) may not erase data in 'people'; needs dpo or admin"),
    ("audrey", "principal.manage", None, None, "audrey (auditor) may not manage principals and roles; needs admin"),
    (
        "sam",
        "audit.read",
        None,
        None,
        "sam (steward of people) may not read the audit log; needs dpo or auditor or admin",
    ),
    (
        "alice",
        "audit.who_accessed",
        None,
        None,
        "alice (analyst of people) may not ask who accessed a person's data; needs dpo or auditor or admin",
    ),
]


@pytest.mark.parametrize(("who", "action", "dataset", "purpose"), ALLOWED)
def test_roles_allow_what_they_must(
    staffed: Estate, who: str, action: str, dataset: str | None, purpose: str | None
) -> None:
    assert authorize(staffed, who, action, dataset=dataset, purpose=purpose).name == who
    assert not [e for e in log(staffed) if e.action == "access.denied"]


@pytest.mark.parametrize(("who", "action", "dataset", "purpose", "line"), REFUSED)
def test_roles_refuse_what_they_must_in_one_line(
    staffed: Estate, who: str, action: str, dataset: str | None, purpose: str | None, line: str
) -> None:
    with pytest.raises(AccessDenied) as refused:
        authorize(staffed, who, action, dataset=dataset, purpose=purpose)

    assert str(refused.value) == line
    assert refused.value.exit_code == 3


def test_a_refusal_is_itself_audited(staffed: Estate) -> None:
    with pytest.raises(AccessDenied):
        authorize(staffed, "alice", "data.erase", dataset="people", purpose="tidying up")

    denied = log(staffed)[-1]
    assert (denied.principal, denied.action, denied.dataset, denied.purpose) == (
        "alice",
        "access.denied",
        "people",
        "tidying up",
    )
    assert denied.detail["attempted"] == "data.erase"
    assert denied.detail["reason"].startswith("alice (analyst of people) may not erase data")


def test_an_unregistered_os_user_is_refused_and_told_how_to_register(
    staffed: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOINEDUP_USER")
    monkeypatch.setattr("getpass.getuser", lambda: "mallory")

    with pytest.raises(
        AccessDenied, match=r"mallory is not a registered principal .*joinedup principal add mallory --role ROLE"
    ):
        resolve_principal(staffed, None)

    refusal = log(staffed)[-1]
    assert (refusal.principal, refusal.action) == ("(unregistered)", "access.denied")
    assert "mallory" not in str(refusal.to_dict())


def test_the_acting_principal_is_as_then_env_then_login(staffed: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "sam")
    monkeypatch.setenv("JOINEDUP_USER", "alice")
    assert resolve_principal(staffed, "dora").name == "dora"
    assert resolve_principal(staffed, None).name == "alice"
    monkeypatch.delenv("JOINEDUP_USER")
    assert resolve_principal(staffed, None).name == "sam"


def test_a_disabled_principal_can_do_nothing(staffed: Estate) -> None:
    disable_principal(staffed, "tester", "sam")
    with pytest.raises(AccessDenied, match="sam is disabled"):
        authorize(staffed, "sam", "data.query", dataset="people")
    with pytest.raises(AccessDenied, match="sam is disabled"):
        resolve_principal(staffed, "sam")


def test_an_estate_without_principals_points_to_bootstrap(estate: Estate) -> None:
    with pytest.raises(AccessDenied, match="has none yet; make yourself its admin with `joinedup principal bootstrap`"):
        resolve_principal(estate, "tester")


def test_every_audited_read_and_change_has_a_rule() -> None:
    for action in (
        "dataset.ingest",
        "dataset.schema",
        "data.query",
        "data.export",
        "quarantine.read",
        "data.erase",
        "data.retention",
        "api.serve",
    ):
        assert action in PERMISSIONS
    with pytest.raises(ValueError, match="no permission rule"):
        authorize(None, "x", "data.teleport")  # type: ignore[arg-type]
