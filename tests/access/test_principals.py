"""Registering principals and granting roles: admins only, every change on the record."""

from __future__ import annotations

import pytest

from joinedup.access import (
    add_principal,
    bootstrap_admin,
    disable_principal,
    enable_principal,
    get_principal,
    grant_role,
    list_principals,
    resolve_principal,
    revoke_role,
)
from joinedup.audit import log, verify
from joinedup.errors import AccessDenied, EstateError, InputError, JoinedupError, NotFoundError
from joinedup.estate import Estate


def test_the_creator_becomes_the_first_admin_once(estate: Estate) -> None:
    admin = bootstrap_admin(estate, "tester")
    assert admin.describe() == "tester (admin)"
    assert [(e.action, e.principal) for e in log(estate)] == [
        ("principal.add", "tester"),
        ("principal.grant", "tester"),
    ]
    with pytest.raises(EstateError, match="already has principals"):
        bootstrap_admin(estate, "mallory")


def test_grants_are_scoped_and_audited(staffed: Estate) -> None:
    grant_role(staffed, "tester", "alice", "analyst", datasets=["visits"])
    grant_role(staffed, "tester", "alice", "analyst", datasets=["visits"])  # already held: no new entry

    assert get_principal(staffed, "alice").describe() == "alice (analyst of people, analyst of visits)"
    grants = [e for e in log(staffed, action="principal.grant") if e.detail["principal"] == "alice"]
    assert [g.detail["datasets"] for g in grants] == [["people"], ["visits"]]
    assert all(g.principal == "tester" for g in grants)

    revoke_role(staffed, "tester", "alice", "analyst", datasets=["people"])
    assert get_principal(staffed, "alice").describe() == "alice (analyst of visits)"
    assert log(staffed)[-1].action == "principal.revoke"
    assert verify(staffed).ok


def test_only_admins_manage_principals_and_refusals_change_nothing(staffed: Estate) -> None:
    with pytest.raises(
        AccessDenied, match=r"sam \(steward of people\) may not manage principals and roles; needs admin"
    ):
        grant_role(staffed, "sam", "sam", "admin")
    assert get_principal(staffed, "sam").describe() == "sam (steward of people)"
    assert log(staffed)[-1].action == "access.denied"


def test_roles_must_be_given_their_scope_explicitly(staffed: Estate) -> None:
    with pytest.raises(InputError, match="analyst needs the datasets it covers"):
        add_principal(staffed, "tester", "bob", "analyst")
    with pytest.raises(InputError, match="dpo covers the whole estate"):
        add_principal(staffed, "tester", "bob", "dpo", datasets=["people"])
    with pytest.raises(InputError, match="unknown role 'superuser'"):
        add_principal(staffed, "tester", "bob", "superuser")
    with pytest.raises(InputError, match="partner clients come with sharing agreements"):
        add_principal(staffed, "tester", "nhs-trust", "analyst", all_datasets=True, kind="client")
    with pytest.raises(InputError, match="principal name"):
        add_principal(staffed, "tester", "bob smith", "dpo")
    with pytest.raises(InputError, match="already exists"):
        add_principal(staffed, "tester", "alice", "dpo")
    assert "bob" not in {p.name for p in list_principals(staffed)}


def test_the_last_admin_cannot_be_removed(staffed: Estate) -> None:
    with pytest.raises(JoinedupError, match="without an enabled admin"):
        revoke_role(staffed, "tester", "tester", "admin")
    with pytest.raises(JoinedupError, match="without an enabled admin"):
        disable_principal(staffed, "tester", "tester")

    grant_role(staffed, "tester", "dora", "admin")
    disable_principal(staffed, "dora", "tester")
    assert get_principal(staffed, "tester").disabled
    enable_principal(staffed, "dora", "tester")
    assert not get_principal(staffed, "tester").disabled


def test_unknown_principals_are_named(staffed: Estate) -> None:
    with pytest.raises(NotFoundError, match="no principal called 'zed'"):
        grant_role(staffed, "tester", "zed", "dpo")


@pytest.mark.parametrize("twin", ["Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "alice"])
def test_names_are_unique_ignoring_case_and_unicode_width(staffed: Estate, twin: str) -> None:
    with pytest.raises(InputError, match="already exists"):
        add_principal(staffed, "tester", twin, "dpo")
    assert [p.name for p in list_principals(staffed)].count("alice") == 1


def test_a_name_acts_and_filters_the_log_whatever_its_case(staffed: Estate) -> None:
    assert resolve_principal(staffed, "ALICE").name == "alice"
    grant_role(staffed, "TESTER", "Alice", "analyst", datasets=["visits"])

    [grant] = [
        e
        for e in log(staffed, principal="Tester")
        if e.detail.get("principal") == "alice" and e.detail.get("datasets") == ["visits"]
    ]
    assert grant.principal == "tester"
    with pytest.raises(JoinedupError, match="without an enabled admin"):
        revoke_role(staffed, "tester", "TESTER", "admin")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("bob\nsmith", "expected letters"),
        ("bob\u202esmith", "expected letters"),  # a right-to-left override hides what the name says
        ("bob\u200bsmith", "expected letters"),
        ("9434765919", "NHS or National Insurance number"),
        ("ab123456c", "NHS or National Insurance number"),
        ("svc-943-476-5919", "NHS or National Insurance number"),
        ("\u2079\u2074\u00b3\u2074\u2077\u2076\u2075\u2079\u00b9\u2079", "NHS or National Insurance number"),
        ("svc.\u2079\u2074\u00b3-\u2074\u2077\u2076-\u2075\u2079\u00b9\u2079", "NHS or National Insurance number"),
    ],
)
def test_names_that_could_forge_a_line_or_carry_an_identifier_are_refused(staffed: Estate, name: str, why: str) -> None:
    with pytest.raises(InputError, match=why) as refused:
        add_principal(staffed, "tester", name, "dpo")
    assert "\n" not in str(refused.value) and "9434765919" not in str(refused.value)


def test_names_in_other_scripts_are_allowed(staffed: Estate) -> None:
    assert add_principal(staffed, "tester", "siân.ó-briain", "dpo").name == "siân.ó-briain"
    assert resolve_principal(staffed, "SIÂN.Ó-BRIAIN").name == "siân.ó-briain"


def test_names_that_fold_alike_in_an_older_estate_still_open(estate: Estate) -> None:
    from alembic import command

    from joinedup.estate.db import alembic_config

    bootstrap_admin(estate, "tester")
    with estate.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")
        connection.exec_driver_sql(
            "INSERT INTO principals (name, kind, created_at, created_by, disabled) "
            "VALUES ('Tester', 'person', '2026-01-01', 'x', 0)"
        )
    estate.close()

    reopened = Estate.open(estate.root)

    assert {p.name for p in list_principals(reopened)} == {"tester", "Tester"}
    assert get_principal(reopened, "Tester").name == "Tester"
    assert get_principal(reopened, "tester").describe() == "tester (admin)"
