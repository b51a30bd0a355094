"""The business register generator."""

from __future__ import annotations

from collections import Counter

from joinedup.schema import Schema
from joinedup.standards import reference
from joinedup.synthetic import generate_businesses
from joinedup.synthetic.businesses import COLUMNS, ERROR_KINDS, businesses_schema
from tests.synthetic.oracle import check_against_truth


def test_a_seed_gives_the_same_businesses() -> None:
    assert list(generate_businesses(1_000, seed=2)) == list(generate_businesses(1_000, seed=2))
    assert list(generate_businesses(1_000, seed=2)) != list(generate_businesses(1_000, seed=3))


def test_clean_rows_pass_and_each_planted_error_fails_exactly_its_recorded_rule() -> None:
    check_against_truth(generate_businesses(20_000, seed=5, error_rate=0.05), businesses_schema())


def test_errors_are_planted_at_the_rate_asked_for_in_every_kind() -> None:
    rows = generate_businesses(20_000, seed=6)
    truth = rows.ground_truth()
    assert abs(truth.error_rate - 0.02) < 0.004
    kinds = Counter(e.kind for r in rows for e in r.errors)
    assert set(kinds) == set(ERROR_KINDS)


def test_company_numbers_are_unique_unless_a_duplicate_was_planted() -> None:
    numbers = Counter()
    for record in generate_businesses(20_000, seed=7):
        if not record.errors:
            numbers[reference.canonical_company_number(record.values[0])] += 1
    assert max(numbers.values()) == 1


def test_messy_identifiers_standardise() -> None:
    clean = [r.values for r in generate_businesses(5_000, seed=8) if not r.errors]
    assert any(len(v[0]) < 8 for v in clean)  # leading zeros lost in a spreadsheet
    assert any(v[2].startswith("GB") for v in clean)
    assert any(" " in v[2] for v in clean)
    assert sum(v[2] == "" for v in clean) > len(clean) / 5  # most small firms are not VAT registered
    assert all(reference.canonical_company_number(v[0]) for v in clean)


def test_the_schema_is_a_valid_joinedup_schema() -> None:
    schema = Schema.from_dict(businesses_schema())
    assert schema.names == list(COLUMNS)
    assert schema.primary_key == ("company_number",)
    assert not schema.personal_fields
