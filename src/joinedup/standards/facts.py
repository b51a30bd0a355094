"""Published facts the rules are built from: letter sets, prefixes, weights.

Both the SQL macros and the Python reference read these, so a fact is stated
once; the logic that applies them is written twice, independently.
"""

from __future__ import annotations

#: Characters ignored around and (for identifiers) inside values: space, tab,
#: line breaks and the no-break space that spreadsheets and web pages leave behind.
BLANKS = " \t\r\n\u00a0"

#: Identifiers usually printed in groups (NHS, NI, VAT, UTR) may also be written with hyphens.
GROUP_SEPARATORS = BLANKS + "-"

# NHS number: weights for digits 1-9; the check digit is 11 - (sum mod 11), 11 -> 0, 10 is invalid.
NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
#: Ten of one digit: every one passes mod 11 (the weights sum to 54, which is -1 mod 11,
#: so the check digit comes out as the digit itself), and systems type them as placeholders.
NHS_PLACEHOLDERS = tuple(str(digit) * 10 for digit in range(10))

# National Insurance number (HMRC).
NI_FIRST_LETTERS = "ABCEGHJKLMNOPRSTWXYZ"  # not D F I Q U V
NI_SECOND_LETTERS = "ABCEGHJKLMNPRSTWXYZ"  # not D F I Q U V, nor O
NI_UNALLOCATED_PREFIXES = ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")
#: Prefixes HMRC keeps for its own administrative references (National Insurance
#: Manual NIM39110); they are on HMRC's records but never identify a person.
NI_ADMINISTRATIVE_PREFIXES = ("CR", "MW", "NC", "PP", "PY", "PZ")
#: Every prefix the letter rules allow that is still not a National Insurance number.
NI_REFUSED_PREFIXES = NI_UNALLOCATED_PREFIXES + NI_ADMINISTRATIVE_PREFIXES
NI_SUFFIXES = "ABCD"

# Postcode letters by position (Royal Mail PAF).
POSTCODE_AREA_FIRST = "ABCDEFGHIJKLMNOPRSTUWYZ"  # not Q V X
POSTCODE_AREA_SECOND = "ABCDEFGHKLMNOPQRSTUVWXY"  # not I J Z
POSTCODE_A9A_LETTER = "ABCDEFGHJKPSTUW"  # third position of A9A outward codes
POSTCODE_AA9A_LETTER = "ABEHMNPRVWXY"  # fourth position of AA9A outward codes
POSTCODE_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # not C I K M O V
#: Girobank's postcode, the one that breaks the pattern and is still in use.
POSTCODE_GIROBANK = "GIR 0AA"

#: Companies House prefixes of numbers that are not plain 8 digits: the prefix and 6 digits.
#: From Companies House's URI customer guide and the prefixes seen on its register:
#: charitable incorporated organisations (CE, CS), Scottish qualifying partnerships (SG),
#: the Register of Overseas Entities (OE) and registered societies (RS).
COMPANY_PREFIXES: dict[str, str] = {
    "AC": "assurance company, England and Wales",
    "CE": "charitable incorporated organisation, England and Wales",
    "CS": "charitable incorporated organisation, Scotland",
    "EN": "European company (SE), Northern Ireland",
    "ES": "European company (SE), Scotland",
    "FC": "overseas company",
    "GE": "European economic interest grouping, England and Wales",
    "GN": "European economic interest grouping, Northern Ireland",
    "GS": "European economic interest grouping, Scotland",
    "IC": "investment company with variable capital, England and Wales",
    "IP": "industrial and provident society, England and Wales",
    "LP": "limited partnership, England and Wales",
    "NA": "assurance company, Northern Ireland",
    "NC": "limited liability partnership, Northern Ireland",
    "NF": "overseas company, Northern Ireland (before October 2009)",
    "NI": "Northern Ireland company",
    "NL": "limited partnership, Northern Ireland",
    "NO": "credit union or industrial and provident society, Northern Ireland",
    "NP": "industrial and provident society, Northern Ireland",
    "NR": "royal charter company, Northern Ireland",
    "NV": "investment company with variable capital, Northern Ireland",
    "NZ": "unregistered company, Northern Ireland",
    "OC": "limited liability partnership, England and Wales",
    "OE": "overseas entity",
    "RC": "royal charter company, England and Wales",
    "RS": "registered society (co-operative or community benefit society), England and Wales",
    "SA": "assurance company, Scotland",
    "SC": "Scottish company",
    "SE": "European company (SE), England and Wales",
    "SF": "overseas company, Scotland (before October 2009)",
    "SG": "Scottish qualifying partnership",
    "SI": "investment company with variable capital, Scotland",
    "SL": "limited partnership, Scotland",
    "SO": "limited liability partnership, Scotland",
    "SP": "industrial and provident society, Scotland",
    "SR": "royal charter company, Scotland",
    "SZ": "unregistered company, Scotland",
    "ZC": "unregistered company, England and Wales",
}
#: Northern Ireland companies registered before partition: R and 7 digits.
COMPANY_PRE_PARTITION_PREFIX = "R"
#: Societies whose number comes from the FCA's Mutuals Public Register keep that
#: register's form on Companies House: the prefix, 5 digits and the FCA's one-letter
#: suffix (IP00525R, RS00592C). The FCA has several suffixes, so any letter is taken.
COMPANY_SOCIETY_PREFIXES = ("IP", "NP", "RS", "SP")

# VAT: weights for digits 1-7; digits 8-9 are added as a two-digit number and the
# total taken mod 97. Valid totals follow python-stdnum: 0 always, and 42 or 55
# (the "9755" scheme) for numbers from 100 000 000.
VAT_WEIGHTS = (8, 7, 6, 5, 4, 3, 2)
VAT_PREFIXES = ("GB", "XI")  # XI: the same registration, used for Northern Ireland goods
VAT_9755_REMAINDERS = (42, 55)
VAT_9755_FROM = 100  # first three digits
GOVERNMENT_DEPARTMENT_BELOW = 500  # GD000-GD499
HEALTH_AUTHORITY_FROM = 500  # HA500-HA999

# UTR: weights for digits 2-10; the first digit is looked up by the sum mod 11.
UTR_WEIGHTS = (6, 7, 8, 9, 10, 5, 4, 3, 2)
UTR_CHECK_DIGITS = "21987654321"

#: First letter of an ONS GSS code: England, Wales, Scotland, Northern Ireland,
#: K for areas spanning nations (UK, GB, England and Wales), and L and M, which the
#: ONS Postcode Directory uses for the Channel Islands and the Isle of Man.
GSS_COUNTRY_LETTERS = "EWSNKLM"

UPRN_MAX_DIGITS = 12
USRN_MAX_DIGITS = 8

# Person names. Words are separated by spaces; within a word these characters end one
# part and start the next, capitalised: hyphens of every kind (the typed one, the
# Unicode hyphen and non-breaking hyphen, figure, en and em dashes), full stops
# (initials: J.R.R.) and apostrophes (typed, curly, acute, grave, modifier letter).
NAME_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014"
NAME_APOSTROPHES = "'\u2019\u2018\u00b4`\u02bc"
NAME_PART_SEPARATORS = NAME_HYPHENS + NAME_APOSTROPHES + "."
#: Lower case when another word follows (van der Berg, de la Mare, ap Rhys, ferch Gruffydd).
#: Left out because they are also given names or are capitalised in British use: Del, Di, Le, Van alone.
NAME_PARTICLES = ("ab", "ap", "da", "das", "de", "den", "der", "dos", "du", "ferch", "la", "van", "verch", "von")
#: Upper case as the last word of a name of two words or more (Windsor III, Henry VIII);
#: V and X are single letters and come out capitalised anyway.
NAME_ROMAN_NUMERALS = ("ii", "iii", "iv", "vi", "vii", "viii", "ix")
#: Mac is a prefix only before these (MacDonald, MacLeod): stems where the capital is the
#: usual British spelling. Elsewhere Mac is part of a one-word name (Mack, Macey, Machin,
#: Mackie, Mackintosh, Mackay, Macaulay) or both spellings are common and the one-word
#: form is chosen (Mackenzie, Macmillan, Maclean, Macrae).
NAME_MAC_STEMS = (
    "alister", "allister", "arthur", "bride", "callum", "cormack", "diarmid", "donald",
    "dougall", "dowell", "ewan", "ewen", "fadyen", "gillivray", "gowan", "gregor", "innes",
    "iver", "kinlay", "kinnon", "lachlan", "laren", "leod", "mahon", "manus", "naughton",
    "neil", "quarrie", "taggart", "tavish",
)  # fmt: skip
