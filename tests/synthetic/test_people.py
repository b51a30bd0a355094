"""The people generator: seeded, messy in the valid ways, wrong at the asked rate, and honest about it."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from joinedup.schema import Schema, load_schema
from joinedup.standards import reference
from joinedup.synthetic import REFERENCE_DATE, generate_people, people_schema, write_schema
from joinedup.synthetic.people import COLUMNS, ERROR_KINDS, FIRST_PERSON_ID
from joinedup.synthetic.pools import NON_ASCII_FAMILY, NON_ASCII_GIVEN
from tests.synthetic.oracle import check_against_truth

ROWS = 20_000


@pytest.fixture(scope="module")
def people() -> list:
    return list(generate_people(ROWS, seed=11, error_rate=0.02))


def test_a_seed_gives_the_same_rows_every_time() -> None:
    first = list(generate_people(2_000, seed=3, ragged_rows=2, non_ascii=True))
    rows = generate_people(2_000, seed=3, ragged_rows=2, non_ascii=True)
    assert list(rows) == first
    assert list(rows) == first  # a second pass over the same object too
    assert list(generate_people(2_000, seed=4)) != first


def test_a_thousand_rows_have_the_ten_columns(people: list) -> None:
    rows = list(generate_people(1_000, seed=1))
    assert len(rows) == 1_000
    assert all(len(r.values) == len(COLUMNS) == 10 for r in rows)
    assert [r.index for r in rows] == list(range(1_000))


def test_options_change_only_the_rows_they_touch() -> None:
    plain = list(generate_people(3_000, seed=5, error_rate=0.0))
    ragged = list(generate_people(3_000, seed=5, error_rate=0.0, ragged_rows=4))
    assert sum(r != p for r, p in zip(ragged, plain, strict=True)) == 4
    spoilt = list(generate_people(3_000, seed=5, error_rate=0.05))
    assert all(s == p for s, p in zip(spoilt, plain, strict=True) if not s.errors)
    names = list(generate_people(3_000, seed=5, error_rate=0.0, non_ascii=True))
    for n, p in zip(names, plain, strict=True):
        assert n.values[3:] == p.values[3:]


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.1])
def test_the_planted_error_rate_is_near_the_one_asked_for(rate: float) -> None:
    truth = generate_people(ROWS, seed=2, error_rate=rate).ground_truth()
    assert truth.rows == ROWS
    assert abs(truth.error_rate - rate) <= 0.15 * rate + 0.001


def test_every_kind_of_error_is_planted_and_they_spread_across_the_columns(people: list) -> None:
    kinds = Counter(e.kind for r in people for e in r.errors)
    assert set(kinds) == set(ERROR_KINDS)
    columns = {e.column for r in people for e in r.errors}
    assert columns == set(COLUMNS)
    # One kind never dominates: the errors are spread, not all in one column.
    assert max(kinds.values()) < 0.25 * sum(kinds.values())
    assert any(len(r.errors) == 2 for r in people)


def test_clean_rows_pass_and_each_planted_error_fails_exactly_its_recorded_rule() -> None:
    rows = generate_people(ROWS, seed=11, ragged_rows=5, non_ascii=True)
    check_against_truth(rows, people_schema())


def test_errors_look_like_the_ones_legacy_exports_have(people: list) -> None:
    values = {e.kind: [x.value for r in people for x in r.errors if x.kind == e.kind] for r in people for e in r.errors}
    assert all(v[2] == "/" and v[5] == "/" for v in values["uk_date_format"])
    assert all(
        reference.canonical_nhs_number(v) is None and len(v.replace(" ", "")) == 10 for v in values["check_digit"]
    )
    assert all(v > REFERENCE_DATE.isoformat() for v in values["future_registration"])
    assert {v.strip() for v in values["missing_given_name"]} == {""}
    assert any(v.startswith("£") for v in values["non_numeric_amount"])
    assert any(v.lower() == "n/a" for v in values["non_numeric_amount"])


def test_a_duplicated_person_id_repeats_an_earlier_row_and_no_other_id_repeats(people: list) -> None:
    seen: dict[str, int] = {}
    for record in people:
        person_id = record.values[0]
        duplicate = any(e.rule == "primaryKey" for e in record.errors)
        if duplicate:
            assert person_id in seen and seen[person_id] < record.index
        else:
            assert person_id not in seen
            assert person_id == str(FIRST_PERSON_ID + record.index)
        seen.setdefault(person_id, record.index)


def test_messy_values_are_present_and_valid_after_standardisation(people: list) -> None:
    clean = [r.values for r in people if not r.errors]
    postcodes = [v[4] for v in clean]
    assert any(p and p == p.lower() for p in postcodes)
    assert any(p and " " not in p for p in postcodes)
    assert any(" " in v[5] for v in clean)
    assert any(v[1] != v[1].strip() or v[2] != v[2].strip() for v in clean)
    assert any(v[2].isupper() for v in clean)
    assert sum(v[5] == "" for v in clean) > 0  # optional NHS numbers left blank are not errors
    assert {v[7] for v in clean} == {"M", "F", "X", "U"}
    assert {v[8][:3] for v in clean} <= {"E06", "E07", "E08", "E09", "W06", "S12"}
    assert all(v[9] <= REFERENCE_DATE.isoformat() and v[3] <= v[9] for v in clean)
    assert all(v[6] == "" or len(v[6].split(".")[1]) == 2 for v in clean)


def test_ragged_rows_have_too_many_or_too_few_fields_and_nothing_else_wrong() -> None:
    rows = list(generate_people(5_000, seed=9, ragged_rows=6))
    ragged = [r for r in rows if r.ragged]
    assert len(ragged) == 6
    for record in ragged:
        [error] = record.errors
        assert (error.column, error.rule) == ("(row)", "columns")
        assert len(record.values) == (11 if error.kind == "too_many_fields" else 9)
    assert {e.kind for r in ragged for e in r.errors} == {"too_many_fields", "too_few_fields"}


def test_non_ascii_names_appear_only_when_asked_for() -> None:
    names = {v for r in generate_people(5_000, seed=1, non_ascii=True) for v in r.values[1:3]}
    assert any(n.strip() in NON_ASCII_GIVEN for n in names)
    assert any(n.strip() in NON_ASCII_FAMILY for n in names)
    assert any("’" in n for n in names)  # the curly apostrophe, as word processors write O’Brien
    plain = {v for r in generate_people(5_000, seed=1) for v in r.values[1:3]}
    assert all(n.isascii() for n in plain)


def test_the_schema_is_a_valid_joinedup_schema_and_round_trips_through_yaml(tmp_path: Path) -> None:
    schema = people_schema()
    parsed = Schema.from_dict(schema)
    assert parsed.names == list(COLUMNS)
    assert parsed.primary_key == ("person_id",)
    assert parsed.field("registered_on").constraints.maximum == REFERENCE_DATE.isoformat()
    assert parsed.field("nhs_number").category == "identifier"
    assert parsed.field("sex").constraints.enum == ("M", "F", "X", "U")
    assert load_schema(write_schema(tmp_path / "people.yaml", schema)) == parsed
    with_address = Schema.from_dict(people_schema(address=True))
    assert with_address.names[4] == "address_line"


def test_the_address_option_adds_a_valid_address_line() -> None:
    rows = generate_people(3_000, seed=4, address=True)
    assert rows.columns[4] == "address_line"
    lines = [r.values[4] for r in itertools.islice(rows, 3_000)]
    assert all(lines) and any("," in line for line in lines)
    check_against_truth(rows, people_schema(address=True))


def test_a_later_today_moves_the_registration_cut_off() -> None:
    from datetime import date

    today = date(2030, 1, 1)
    rows = generate_people(3_000, seed=8, today=today)
    assert people_schema(today=today)["fields"][-1]["constraints"]["maximum"] == "2030-01-01"
    check_against_truth(rows, people_schema(today=today))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        generate_people(-1)
    with pytest.raises(ValueError):
        generate_people(10, error_rate=1.5)
