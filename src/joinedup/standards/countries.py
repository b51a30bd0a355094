"""ISO 3166-1 alpha-2 country codes and the UK's ISO 3166-2 nations.

The 249 officially assigned alpha-2 codes. Reserved codes (exceptional,
transitional, indeterminate) and user-assigned ones such as ``XK`` (widely used
for Kosovo) are deliberately absent: they are not countries in the standard.
``UK`` is the one exception we honour, as an alias: see ``COUNTRY_ALIASES``.
"""

from __future__ import annotations

# Laid out by first letter so a missing or extra code is easy to spot.
_ALPHA2_BY_LETTER = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
"""

ISO_3166_ALPHA2: frozenset[str] = frozenset(_ALPHA2_BY_LETTER.split())

#: ISO 3166-2 codes for the four nations of the United Kingdom.
UK_NATIONS: frozenset[str] = frozenset({"GB-ENG", "GB-SCT", "GB-WLS", "GB-NIR"})

#: Codes accepted on input and rewritten. ``UK`` is exceptionally reserved by ISO
#: at the UK's request and can never mean another country, and legacy systems
#: use it a great deal, so rejecting it would only fill quarantine.
COUNTRY_ALIASES: dict[str, str] = {"UK": "GB"}

COUNTRY_CODES: frozenset[str] = ISO_3166_ALPHA2 | UK_NATIONS
