"""The rules in plain Python: the oracle the SQL macros are tested against.

Each ``canonical_<type>`` returns the canonical form of a valid value and
``None`` for an invalid one (or for ``None``). Letters are only accepted from
ASCII: a non-ASCII look-alike (``ſ``, fullwidth digits) is an error in the
source data, not something to fold silently into a valid identifier.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TypeGuard
from zoneinfo import ZoneInfo

from joinedup.standards import facts
from joinedup.standards.casing import lower, upper, upper_char
from joinedup.standards.countries import COUNTRY_ALIASES, COUNTRY_CODES


def _without(value: str, characters: str) -> str:
    return "".join(ch for ch in value if ch not in characters)


def _ascii_upper(value: str) -> str | None:
    return value.upper() if value.isascii() else None


def _matches(value: str | None, pattern: str) -> TypeGuard[str]:
    # The value comes first: a type guard narrows its first argument.
    return value is not None and re.fullmatch(pattern, value) is not None


def _letters(allowed: str) -> str:
    return f"[{allowed}]"


def canonical_nhs_number(value: str | None) -> str | None:
    if value is None:
        return None
    digits = _without(value, facts.GROUP_SEPARATORS)
    if not _matches(digits, "[0-9]{10}"):
        return None
    total = sum(weight * int(digit) for weight, digit in zip(facts.NHS_WEIGHTS, digits[:9], strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or digits in facts.NHS_PLACEHOLDERS:
        return None
    return digits if int(digits[9]) == check else None


_NI_PATTERN = (
    _letters(facts.NI_FIRST_LETTERS) + _letters(facts.NI_SECOND_LETTERS) + "[0-9]{6}" + _letters(facts.NI_SUFFIXES)
)


def canonical_ni_number(value: str | None) -> str | None:
    if value is None:
        return None
    number = _ascii_upper(_without(value, facts.GROUP_SEPARATORS))
    if not _matches(number, _NI_PATTERN) or number[:2] in facts.NI_REFUSED_PREFIXES:
        return None
    return number


_AREA = _letters(facts.POSTCODE_AREA_FIRST)
_AREA_2 = _letters(facts.POSTCODE_AREA_SECOND)
_OUTWARD_FORMS = (
    f"{_AREA}[0-9]{{1,2}}",  # A9, A99
    f"{_AREA}{_AREA_2}[0-9]{{1,2}}",  # AA9, AA99
    f"{_AREA}[0-9]{_letters(facts.POSTCODE_A9A_LETTER)}",  # A9A
    f"{_AREA}{_AREA_2}[0-9]{_letters(facts.POSTCODE_AA9A_LETTER)}",  # AA9A
)
_INWARD = f"[0-9]{_letters(facts.POSTCODE_INWARD_LETTERS)}{{2}}"
_POSTCODE = f"({'|'.join(_OUTWARD_FORMS)}){_INWARD}"


def canonical_postcode(value: str | None) -> str | None:
    if value is None:
        return None
    compact = _ascii_upper(_without(value, facts.BLANKS))
    if compact is None:
        return None
    if compact != facts.POSTCODE_GIROBANK.replace(" ", "") and not _matches(compact, _POSTCODE):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


def _positive_integer(value: str | None, max_digits: int) -> str | None:
    if value is None:
        return None
    text = value.strip(facts.BLANKS)
    if not _matches(text, f"0*[1-9][0-9]{{0,{max_digits - 1}}}"):
        return None
    return text.lstrip("0")


def canonical_uprn(value: str | None) -> str | None:
    return _positive_integer(value, facts.UPRN_MAX_DIGITS)


def canonical_usrn(value: str | None) -> str | None:
    return _positive_integer(value, facts.USRN_MAX_DIGITS)


def canonical_company_number(value: str | None) -> str | None:
    if value is None:
        return None
    number = _ascii_upper(_without(value, facts.BLANKS))
    if _matches(number, "[0-9]{1,8}"):
        # Leading zeros are often lost when numbers pass through a spreadsheet.
        return number.zfill(8) if int(number) > 0 else None
    if number is None:
        return None
    prefix, serial = number[:2], number[2:]
    if prefix in facts.COMPANY_PREFIXES and _matches(serial, "[0-9]{6}"):
        return number
    if prefix in facts.COMPANY_SOCIETY_PREFIXES and _matches(serial, "[0-9]{5}[A-Z]"):
        return number
    if number[:1] == facts.COMPANY_PRE_PARTITION_PREFIX and _matches(number[1:], "[0-9]{7}"):
        return number
    return None


def _vat_checksum_ok(digits: str) -> bool:
    total = sum(w * int(d) for w, d in zip(facts.VAT_WEIGHTS, digits[:7], strict=True)) + int(digits[7:9])
    remainder = total % 97
    if remainder == 0:
        return True
    return int(digits[:3]) >= facts.VAT_9755_FROM and remainder in facts.VAT_9755_REMAINDERS


def canonical_vat_number(value: str | None) -> str | None:
    if value is None:
        return None
    number = _ascii_upper(_without(value, facts.GROUP_SEPARATORS))
    if number is None:
        return None
    if number[:2] in facts.VAT_PREFIXES:
        number = number[2:]
    if _matches(number, "GD[0-9]{3}"):
        return number if int(number[2:]) < facts.GOVERNMENT_DEPARTMENT_BELOW else None
    if _matches(number, "HA[0-9]{3}"):
        return number if int(number[2:]) >= facts.HEALTH_AUTHORITY_FROM else None
    # 12 digits: a branch (the last three) of the registration in the first nine.
    if _matches(number, "[0-9]{9}|[0-9]{12}") and _vat_checksum_ok(number):
        return number
    return None


def canonical_utr(value: str | None) -> str | None:
    if value is None:
        return None
    number = _ascii_upper(_without(value, facts.GROUP_SEPARATORS))
    if _matches(number, "K?[0-9]{10}"):
        digits = number[-10:]
    elif _matches(number, "[0-9]{10}K"):
        digits = number[:10]
    else:
        return None
    total = sum(w * int(d) for w, d in zip(facts.UTR_WEIGHTS, digits[1:], strict=True))
    return digits if digits[0] == facts.UTR_CHECK_DIGITS[total % 11] else None


def canonical_gss_code(value: str | None) -> str | None:
    if value is None:
        return None
    code = _ascii_upper(value.strip(facts.BLANKS))
    return code if _matches(code, f"{_letters(facts.GSS_COUNTRY_LETTERS)}[0-9]{{8}}") else None


def canonical_country_code(value: str | None) -> str | None:
    if value is None:
        return None
    code = _ascii_upper(value.strip(facts.BLANKS))
    if code is None:
        return None
    code = COUNTRY_ALIASES.get(code, code)
    return code if code in COUNTRY_CODES else None


_DATE = "([0-9]{4})-([0-9]{2})-([0-9]{2})"


def canonical_iso_date(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip(facts.BLANKS)
    match = re.fullmatch(_DATE, text)
    if match is None:
        return None
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:  # not a calendar date, or year 0000
        return None
    return text


_DATETIME = re.compile(
    _DATE + "[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})" + r"(?:\.([0-9]{1,9}))?" + "(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)


def canonical_iso_datetime(value: str | None) -> str | None:
    """The UTC form of a date-time written with its offset; a value without one is refused."""
    return canonical_iso_datetime_in(value, None)


def canonical_iso_datetime_in(value: str | None, zone: str | None) -> str | None:
    """Like ``canonical_iso_datetime``, but a value without an offset is a local time in ``zone``.

    A local time the clocks skip or repeat there is refused: it is not one moment.
    """
    if value is None:
        return None
    match = _DATETIME.fullmatch(value.strip(facts.BLANKS))
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, offset_h, offset_m = match.groups()
    # Digits past microseconds (.NET writes seven) are dropped, not rounded, so no carry.
    microsecond = int((fraction or "").ljust(6, "0")[:6])
    offset: timedelta | None = timedelta(0)
    if sign is not None:
        if int(offset_h) > 23 or int(offset_m) > 59:
            return None
        offset = timedelta(hours=int(offset_h), minutes=int(offset_m))
        if sign == "-":
            offset = -offset
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond)
        if zulu is None and sign is None:
            offset = _offset_in_zone(local, zone) if zone is not None else None
        if offset is None:
            return None
        utc = local - offset
    except (ValueError, OverflowError):  # not a real time, or outside years 1-9999 once in UTC
        return None
    return utc.isoformat() + "Z"


def _offset_in_zone(local: datetime, zone: str) -> timedelta | None:
    """The zone's offset at this local time; None when the clocks skip it or pass it twice."""
    # Python marks the two readings of a repeated (or skipped) local time with fold 0 and 1;
    # they have different offsets exactly when the local time is not one moment.
    earlier, later = (local.replace(tzinfo=ZoneInfo(zone), fold=fold).utcoffset() for fold in (0, 1))
    return earlier if earlier == later else None


def canonical_person_name(value: str | None) -> str | None:
    if value is None:
        return None
    collapsed = re.sub(f"[{facts.BLANKS}]+", " ", value).strip(" ")
    if not collapsed:
        return None
    if collapsed not in (lower(collapsed), upper(collapsed)):
        # Mixed case means a person chose the capitals (McDonald, Windsor III): keep them.
        return collapsed
    words = lower(collapsed).split(" ")
    return " ".join(_cased_word(word, position, len(words)) for position, word in enumerate(words))


_NAME_SEPARATOR = re.compile(f"([{re.escape(facts.NAME_PART_SEPARATORS)}])")


def _cased_word(word: str, position: int, count: int) -> str:
    last = position == count - 1
    if word in facts.NAME_PARTICLES and not last:
        return word
    if word in facts.NAME_ROMAN_NUMERALS and last and position > 0:
        return upper(word)
    pieces = _NAME_SEPARATOR.split(word)  # part, separator, part, ..., part
    parts, separators = pieces[::2], pieces[1::2]
    cased = []
    for i, part in enumerate(parts):
        # O'Brien and D'Arcy, but not a capital after a longer part (Ka'iulani).
        after_long_part = i > 0 and separators[i - 1] in facts.NAME_APOSTROPHES and len(parts[i - 1]) > 1
        cased.append(part if after_long_part else _capitalised(part))
    return "".join(part + separator for part, separator in zip(cased, [*separators, ""], strict=True))


def _capitalised(part: str) -> str:
    if part.startswith("mc") and len(part) > 3:
        return "Mc" + upper_char(part[2]) + part[3:]
    if part.startswith("mac") and part[3:] in facts.NAME_MAC_STEMS:
        return "Mac" + upper_char(part[3]) + part[4:]
    return upper_char(part[0]) + part[1:] if part else part
