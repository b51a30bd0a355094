"""Casing people's names: never worse than what was typed, and right for British and Irish names.

Each real name is checked as typed (it must come back unchanged), and in all
capitals and all lower case, as legacy systems hold them (they must come back
in the form the name's owner writes, or, where capitals lose the difference,
the form documented in docs/standards.md).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings

from joinedup.standards import facts
from joinedup.standards.casing import lower, upper
from joinedup.standards.reference import canonical_person_name
from tests.standards.conftest import RunMacro
from tests.standards.strategies import valid

#: Names as their owners write them, which all-capital or all-lower input must give back.
NAMES = [
    "MacDonald", "McAllister", "McDonald", "McCartney", "MacLeod", "Mhairi MacLeod", "Harold Macmillan",
    "Compton Mackenzie",
    "O'Brien", "O’Neill", "O´Hara", "O`Hara", "Sinéad O'Connor", "D'Arcy", "D’Souza",
    "Ó Briain", "Dara Ó Briain", "Seán Ó Súilleabháin", "Ó Dálaigh",
    "Nic Giolla", "Ní Dhomhnaill", "Caitríona Ní Mhaoldomhnaigh", "Mac Mathúna", "Tomás Mac Síthigh",
    "ap Rhys", "Rhys ap Gruffydd", "Llywelyn ab Iorwerth", "Gwenllian ferch Gruffydd",
    "van der Berg", "de la Mare", "Walter de la Mare", "du Maurier", "da Silva", "von Trapp",
    "Smith-Jones", "Smith–Jones", "Bowes-Lyon", "Lloyd-Webber", "Anne-Marie Duff", "Al-Fayed",
    "St John", "St. John", "Ffion", "Siobhán", "Zoë Ball", "Featherstonehaugh", "Fitzgerald", "Le Page",
    "Mack", "Macey", "Machin", "Mackie", "Mackintosh", "Mackay", "Macaulay Culkin",
    "Windsor III", "Henry VIII", "Charles II", "J.R.R. Tolkien", "J. K. Rowling", "A.N. Other",
]  # fmt: skip

#: Correct names that capitals cannot give back, and what they become (documented).
LOST_IN_CAPITALS = {
    "Macdonald": "MacDonald",  # both spellings are real; a listed stem gets MacDonald
    "MacKenzie": "Mackenzie",  # both spellings are real; not a listed stem
    "MacMillan": "Macmillan",
    "ffrench": "Ffrench",  # a family that writes its name in lower case
    "Van Morrison": "van Morrison",  # Van is a particle when another word follows
    "Vi Smith": "Vi Smith",
}


def _both(value: str, run_macro: RunMacro) -> tuple[str | None, str | None]:
    return canonical_person_name(value), run_macro("person_name", [value])[0]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_typed_with_care_is_kept(name: str, run_macro: RunMacro) -> None:
    assert _both(name, run_macro) == (name, name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", [str.upper, str.lower], ids=["capitals", "lower"])
def test_a_name_in_one_case_comes_back_as_its_owner_writes_it(name: str, case: object, run_macro: RunMacro) -> None:
    typed = case(name)  # type: ignore[operator]
    assert _both(typed, run_macro) == (name, name), typed


@pytest.mark.parametrize(("correct", "from_capitals"), LOST_IN_CAPITALS.items())
def test_names_capitals_cannot_recover_come_back_as_documented(
    correct: str, from_capitals: str, run_macro: RunMacro
) -> None:
    assert _both(correct.upper(), run_macro) == (from_capitals, from_capitals)
    assert _both(correct, run_macro)[0] == (
        correct if correct not in (lower(correct), upper(correct)) else from_capitals
    )


def test_mac_is_a_prefix_only_before_a_listed_stem() -> None:
    assert [canonical_person_name(n) for n in ("MACHIN", "MACKIE", "MACDONALD", "MAC")] == [
        "Machin",
        "Mackie",
        "MacDonald",
        "Mac",
    ]


def test_particles_and_numerals_depend_on_where_the_word_is() -> None:
    assert canonical_person_name("DE") == "De"  # a particle needs a following word
    assert canonical_person_name("III") == "Iii"  # a numeral follows a name
    assert canonical_person_name("VI SMITH") == "Vi Smith"


def test_a_capital_follows_an_apostrophe_only_after_one_letter() -> None:
    assert canonical_person_name("O'BRIEN") == "O'Brien"
    assert canonical_person_name("KA'IULANI") == "Ka'iulani"


NAMES_CHECKED = settings(max_examples=300, deadline=None)


def _collapsed(value: str) -> str:
    return re.sub(f"[{facts.BLANKS}]+", " ", value).strip(" ")


@NAMES_CHECKED
@given(valid("person_name"))
def test_mixed_case_input_only_loses_extra_blanks(value: str) -> None:
    collapsed = _collapsed(value)
    if collapsed not in (lower(collapsed), upper(collapsed)):
        assert canonical_person_name(value) == collapsed


@NAMES_CHECKED
@given(valid("person_name"))
def test_casing_changes_only_the_case_of_letters(value: str) -> None:
    cased = canonical_person_name(value)
    collapsed = _collapsed(value)
    # Compared through upper then lower: a dotless ı comes back as I, which lowers to i.
    assert cased is None if not collapsed else cased is not None and lower(upper(cased)) == lower(upper(collapsed))
