"""US states, DC and territories by their USPS code, so a rule on the shipping state reads "IL",
"Illinois", "ill." and a full-width "ＩＬ" as one state: the checkout takes the state as free text."""
import re
import unicodedata

USPS_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands", "AA": "Armed Forces Americas", "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}
_FOLD = re.compile(r"[^A-Z]")
_BY_FOLDED = {_FOLD.sub("", name.upper()): code for code, name in USPS_STATES.items()}
_BY_FOLDED |= {code: code for code in USPS_STATES}
_BY_FOLDED["VIRGINISLANDS"] = "VI"


def state_code(text: str) -> str:
    """The USPS code of a state as a person wrote it ("Illinois", "IL.", "i.l.", "ＩＬ"), or "" for
    text that names none. Compatibility forms (full-width letters) count as their letters."""
    folded = _FOLD.sub("", unicodedata.normalize("NFKC", text or "").upper())
    return _BY_FOLDED.get(folded, "")
