"""One identifier detector over every free-text field an entry stores, however the number is written."""

from __future__ import annotations

import random
import re
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.access import bootstrap_admin
from joinedup.audit import log, record_now
from joinedup.audit.redact import contains_identifier, opaque_id, redact_text
from joinedup.audit.subjects import subject_hash
from joinedup.errors import InputError
from joinedup.estate import Estate
from joinedup.linkage.keys import new_key
from joinedup.standards import generate
from tests.audit.cli_app import runner_for

SECRET = b"k" * 32
SEPARATORS = [
    "", " ", "  ", ".", "-", " - ", "/", "_", "\u00a0", "\u2013", "\u2212",
    ",", ":", "|", ") ", "    ", " / ", ";", "*", "\u3000",
]  # fmt: skip
_SUPERSCRIPT = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
_FULL_WIDTH = {ord(c): chr(ord(c) - ord("0") + 0xFF10) for c in "0123456789"} | {
    ord(c): chr(ord(c) - ord("A") + 0xFF21) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
}


def _compact(text: str) -> str:
    """What a reader would recover from ``text``: its letters and digits, in ASCII, upper case."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).upper() if ch.isalnum())


@st.composite
def _written(draw: st.DrawFn, kind: str) -> tuple[str, str]:
    """(canonical identifier, how someone typed it): any separators, any width, glued to words."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    canonical = generate.nhs_number(rng) if kind == "nhs_number" else generate.ni_number(rng)
    text = canonical[0]
    for ch in canonical[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + ch
    if kind == "ni_number" and draw(st.booleans()):
        text = text.lower()
    width = draw(st.sampled_from(["plain", "full width", "superscript"]))
    if width == "full width":
        text = text.translate(_FULL_WIDTH)
    elif width == "superscript":
        text = text.translate(_SUPERSCRIPT)
    before = draw(st.sampled_from(["", "NHS", "ref ", "no.", "(", "patient-", "NI:"]))
    after = draw(st.sampled_from(["", ".", ")", " today", "x", "-ok"]))
    return canonical, before + text + after


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["nhs_number", "ni_number"]).flatmap(lambda kind: st.tuples(st.just(kind), _written(kind))))
def test_every_way_of_writing_an_identifier_is_replaced_and_hashed(case: tuple[str, tuple[str, str]]) -> None:
    kind, (canonical, typed) = case

    redacted = redact_text(SECRET, f"about {typed} please")

    assert canonical not in _compact(redacted.text)
    assert f"[{kind.replace('_', ' ')}]" in redacted.text
    assert subject_hash(SECRET, kind, canonical) in redacted.hashes


@pytest.mark.parametrize(
    "typed",
    [
        "943,476,5919",
        "(943) 476-5919",
        "943    476    5919",
        "943:476:5919",
        "943|476|5919",
        "⁹⁴³⁴⁷⁶⁵⁹¹⁹",
        "AB|12|34|56|C",
    ],
)
def test_the_reviewers_layouts_of_an_identifier_are_replaced(typed: str) -> None:
    redacted = redact_text(SECRET, f"purpose {typed} review")

    assert re.fullmatch(r"purpose \(?\[(nhs|ni) number\] review", redacted.text), redacted.text
    assert len(redacted.hashes) == 1


def test_digests_and_longer_numbers_are_left_alone() -> None:
    digest = "e3b0c44298fc1c149afbf4c8996fb9249434765919ae41e4649b934ca495991b7852b855"
    for text in (digest, "UPRN 100023336956", "19434765919", "2026-01-31 09:15:02"):
        assert redact_text(SECRET, text).text == text


def _stored_text(estate: Estate) -> str:
    estate.close()
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        return "\n".join(str(row) for row in con.execute("SELECT * FROM audit_entries"))


def test_no_field_of_an_entry_keeps_an_identifier(estate: Estate) -> None:
    record_now(
        estate, principal="svc-9434765919", action="data.read", purpose="call about NHS9434765919",
        dataset="people", columns=["ref 943.476.5919", "ＡＢ１２３４５６Ｃ"], row_count=1,
        detail={"note": "AB-12-34-56-C", "nested": ["ni ab 12.34.56 c"]},
    )  # fmt: skip

    stored = _compact(_stored_text(estate))

    assert "9434765919" not in stored and "AB123456C" not in stored
    [entry] = log(estate)
    assert entry.principal == "svc-[nhs number]"
    assert entry.columns == ("ref [nhs number]", "[ni number]")
    assert set(entry.detail["mentions"]) == {
        subject_hash(estate.secret, "nhs_number", "9434765919"),
        subject_hash(estate.secret, "ni_number", "AB123456C"),
    }


def test_the_filters_of_audit_log_are_redacted_too(estate: Estate) -> None:
    bootstrap_admin(estate, "tester")
    jd = runner_for(estate.root)

    assert jd("audit", "log", "--principal", "943.476.5919", "--action", "data.", user="tester").exit_code == 0

    [read] = log(estate, action="audit.read")
    assert read.detail["filters"]["principal"] == "[nhs number]"
    assert "9434765919" not in _compact(_stored_text(estate))


def test_an_unregistered_name_is_kept_only_as_a_keyed_hash(estate: Estate) -> None:
    bootstrap_admin(estate, "tester")
    jd = runner_for(estate.root)

    refused = jd("audit", "log", user="Siobhan Quigley")

    assert refused.exit_code == 3
    [denied] = log(estate, action="access.denied")
    assert denied.principal == "(unregistered)"
    assert re.fullmatch("[0-9a-f]{64}", denied.detail["name_hash"])
    assert "QUIGLEY" not in _compact(_stored_text(estate))


def test_a_name_with_a_control_character_is_refused_without_forging_a_line(estate: Estate, tmp_path: Path) -> None:
    bootstrap_admin(estate, "tester")
    jd = runner_for(estate.root)

    refused = jd("audit", "log", user="mallory\n2026-01-01 00:00  tester  data.erase")

    assert refused.exit_code == 3
    assert refused.stderr.count("\n") == 1 and "data.erase" not in refused.stderr
    [denied] = log(estate, action="access.denied")
    assert denied.principal == "(unregistered)"
    assert "data.erase" not in _stored_text(estate)


def test_log_filters_naming_an_identifier_match_the_redacted_entries(estate: Estate) -> None:
    record_now(estate, principal="svc-943-476-5919", action="dataset.ingest", dataset="okonkwo_9434765919")
    record_now(estate, principal="alice", action="dataset.ingest", dataset="people")

    by_dataset = log(estate, dataset="okonkwo_9434765919")
    by_principal = log(estate, principal="SVC-9434765919")

    assert [e.dataset for e in by_dataset] == ["okonkwo_[nhs number]"]
    assert [e.principal for e in by_principal] == ["svc-[nhs number]"]


def test_a_remembered_text_gives_the_same_answer_and_callers_cannot_change_it() -> None:
    # Short texts are remembered (the API redacts the same client id on every read): the answer must not depend
    # on whether it came from memory, nor on what an earlier caller did with the list it was given.
    secret = b"s" * 32
    first = redact_text(secret, "client 943 476 5919 asked")
    first.hashes.append("tampered")
    again = redact_text(secret, "client 943 476 5919 asked")
    assert again.text == "client [nhs number] asked"
    assert again.hashes == [subject_hash(secret, "nhs_number", "9434765919")]
    long = "x" * 300 + " 9434765919"
    assert redact_text(secret, long).hashes == again.hashes


def test_an_invalid_identifier_is_refused_every_time_not_remembered() -> None:
    for _ in range(2):
        with pytest.raises(InputError, match="not a valid nhs number"):
            subject_hash(b"s" * 32, "nhs_number", "9434765918")


def test_an_id_the_system_makes_never_reads_as_an_nhs_or_ni_number(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each of these draws reads as an identifier: an NHS number (the client id a CI run once drew, whose audit
    # entries then named "jdc_ce[nhs number]d5b4a76dfd9e"), an NI number in hex letters, the same in capitals.
    draws = iter(["ce7222570179d5b4a76dfd9e", "00ce123456ab", "CE123456AB", "0123abcd"])
    monkeypatch.setattr("joinedup.audit.redact.secrets.token_hex", lambda nbytes: next(draws))
    assert opaque_id("jdc_", 12) == "jdc_0123abcd"  # the first three were drawn again
    assert all(contains_identifier(x) for x in ("jdc_ce7222570179d5b4a76dfd9e", "jdc_00ce123456ab", "jdc_CE123456AB"))


def test_ids_drawn_for_clients_and_link_keys_are_kept_whole_in_the_audit_log() -> None:
    ids = [opaque_id("jdc_", 12) for _ in range(2000)] + [new_key("person") for _ in range(2000)]
    assert not [i for i in ids if redact_text(b"k", i).text != i]
    assert all(re.fullmatch(r"jdc_[0-9a-f]{24}|P[0-9A-F]{16}", i) for i in ids)
