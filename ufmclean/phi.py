"""PHI typing of recognised text: dates, times, IDs, ages, names, and matches to the file's own header.

Header values and pixel text are normalised the same way before they are compared, so a header date
``19710304`` matches pixel text ``1971-03-04``, ``04/03/1971`` or ``4 MAR 1971``, and a header name
``DOE^JOHN`` matches ``John Doe`` or ``DOE, JOHN`` (a known peer leaks dates exactly there).

Nothing here logs or raises with the text it is given: the text is PHI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from rapidfuzz import fuzz

from ufmclean.names import fold, split_merged_name
from ufmclean.records import HeaderSeeds

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("JAN", "JANUARY"), ("FEB", "FEBRUARY"), ("MAR", "MARCH"), ("APR", "APRIL"), ("MAY",),
            ("JUN", "JUNE"), ("JUL", "JULY"), ("AUG", "AUGUST"), ("SEP", "SEPT", "SEPTEMBER"),
            ("OCT", "OCTOBER"), ("NOV", "NOVEMBER"), ("DEC", "DECEMBER"),
        ]
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_SEP = r"[-/. ]"

# Each pattern captures named groups y, m (number or name) and d.
_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<s>[-/. ])(?P<m>[01]?\d)(?P=s)(?P<d>[0-3]?\d)(?!\d)"),
    re.compile(rf"(?<!\d)(?P<d>[0-3]?\d)(?P<s>{_SEP})(?P<m>[0-3]?\d)(?P=s)(?P<y>(?:19|20)?\d\d)(?!\d)"),
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)"),
    re.compile(rf"(?<![A-Z\d])(?P<d>[0-3]?\d){_SEP}?(?P<m>{_MONTH_RE}){_SEP}?(?P<y>(?:19|20)?\d\d)(?!\d)"),
    re.compile(rf"(?<![A-Z])(?P<m>{_MONTH_RE})\.?{_SEP}?(?P<d>[0-3]?\d),?{_SEP}?(?P<y>(?:19|20)\d\d)(?!\d)"),
]
_TIME_RE = re.compile(r"(?<!\d)([01]?\d|2[0-3])[:h.]([0-5]\d)(?:[:.]([0-5]\d))?(?:\s?(AM|PM))?(?!\d)")
_AGE_RE = re.compile(r"(?<![\dA-Z])(\d{1,3})\s?(Y|YO|YRS?|YEARS?|M|MO|MOS|MONTHS?|W|WKS?|D|DAYS?)(?![A-Z])")
_ID_PREFIX_RE = re.compile(r"\b(MRN|ID|PID|ACC|ACCESSION|PATIENT\s?ID|NHS|SSN|RECORD)\b\s*[:#.]?\s*\w*\d")
_ID_TOKEN_RE = re.compile(r"(?<![\w])(?=[A-Z0-9-]*\d{4,})[A-Z0-9][A-Z0-9-]{4,}(?![\w])")
_NAME_COMMA_RE = re.compile(r"^[A-Z][A-Z'-]+,\s*[A-Z][A-Z'-]+(\s+[A-Z]\.?)?$")
_NAME_CARET_RE = re.compile(r"^[A-Z][A-Z'-]*\^[A-Z][A-Z'^-]*$")

# Words that appear burned into clinical images and are not names; a pair of these is not a name.
CLINICAL_WORDS = frozenset(
    ["AP", "PA", "LAT", "LATERAL", "PORTABLE", "SUPINE", "ERECT", "UPRIGHT", "PRONE", "DECUBITUS", "LEFT", "RIGHT", "L", "R", "CHEST", "ABDOMEN", "PELVIS", "HEAD", "NECK", "SPINE", "KNEE", "HAND", "FOOT", "SHOULDER", "HIP", "ANKLE", "WRIST", "ELBOW", "VIEW", "INSP", "EXP", "INSPIRATION", "EXPIRATION", "FRONTAL", "AXIAL", "CORONAL", "SAGITTAL", "CT", "MR", "MRI", "US", "XR", "CR", "DX", "DR", "PET", "NM", "MAMMO", "CC", "MLO", "SCOUT", "TOPOGRAM", "SERIES", "IMAGE", "SLICE", "PHASE", "CONTRAST", "PRE", "POST", "DELAY", "ARTERIAL", "VENOUS", "WINDOW", "LEVEL", "WL", "WW", "KV", "KVP", "MA", "MAS", "MM", "CM", "SEC", "HZ", "MHZ", "DB", "GAIN", "DEPTH", "FREQ", "FPS", "TIS", "TIB", "MI", "THI", "COLOR", "DOPPLER", "PW", "CW", "PROBE", "TRANSDUCER", "GRID", "MARKER", "STANDING", "SITTING", "HORIZONTAL", "BEAM", "FILM", "SCREEN", "FLUORO", "STAT", "HOSPITAL", "CLINIC", "RADIOLOGY", "DEPARTMENT", "ROOM", "UNIT", "WARD", "ICU", "ER", "ED", "OR", "TRAUMA", "EMERGENCY", "NORMAL", "MALE", "FEMALE", "OTHER", "UNKNOWN", "AGE", "SEX", "DOB", "DATE", "TIME", "NAME", "ID", "MRN", "STUDY", "PATIENT", "REF", "DR", "MD"]
)


def normalise_text(text: str) -> str:
    """Upper-case, collapse whitespace, strip surrounding punctuation (the form keys are built on)."""
    collapsed = " ".join(text.upper().split())
    return collapsed.strip(" .,;:_-|'\"`~()[]{}")


def _year(raw: str) -> int | None:
    year = int(raw)
    if len(raw) == 2:
        year += 2000 if year < 50 else 1900
    return year if 1880 <= year <= 2100 else None


def _month(raw: str) -> int | None:
    return _MONTHS.get(raw) if not raw.isdigit() else int(raw)


def date_candidates(text: str) -> set[str]:
    """Every calendar date the text could denote, as ``YYYYMMDD`` strings.

    Ambiguous day/month orders (``04/03/2001``) give both readings; invalid dates give none.
    """
    norm = normalise_text(text)
    found: set[str] = set()
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(norm):
            year = _year(match["y"])
            month = _month(match["m"])
            day = int(match["d"])
            if year is None or month is None:
                continue
            readings = [(month, day)]
            if match["m"].isdigit() and pattern is _DATE_PATTERNS[1]:
                readings.append((day, month))  # 04/03/2001: day-first or month-first
            for mm, dd in readings:
                try:
                    found.add(date(year, mm, dd).strftime("%Y%m%d"))
                except ValueError:
                    continue
    return found


def date_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of ``text`` that read as a valid calendar date.

    The patterns of :func:`date_candidates` run on ``text.upper()`` (same length, so the spans index
    ``text`` itself); a span counts only when it denotes a real date. Used to mask dates inside
    file names, where offsets matter.
    """
    upper = text.upper()
    spans: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(upper):
            if date_candidates(match.group(0)):
                spans.append(match.span())
    return sorted(set(spans))


def _name_tokens(value: str) -> list[str]:
    tokens = re.split(r"[\s^,]+", normalise_text(value.replace("^", " ")))
    return [t.strip(".") for t in tokens if len(t.strip(".")) >= 2]


def _digits(value: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", normalise_text(value))


def header_match(text: str, seeds: HeaderSeeds, *, min_ratio: float = 85.0) -> str:
    """Return ``"header:name"``, ``"header:id"``, ``"header:date"`` or ``""`` for text vs the header.

    Names match when the token sets agree at ``min_ratio`` (rapidfuzz ``token_set_ratio``) and one
    token matches fuzzily — tolerant of OCR noise and order — or when the name's parts, joined in
    either order, appear in the text's letters with the spaces lost (``JANEDOE``).
    """
    norm = normalise_text(text)
    if not norm:
        return ""
    text_dates = date_candidates(norm)
    for value in seeds.dates:
        header_dates = date_candidates(value) or ({value} if value.isdigit() and len(value) == 8 else set())
        if text_dates & header_dates:
            return "header:date"
    compact = _digits(norm)
    for value in seeds.ids:
        ident = _digits(value)
        if len(ident) >= 3 and (ident in compact or (len(compact) >= 4 and fuzz.ratio(ident, compact) >= 90)):
            return "header:id"
    text_tokens = _name_tokens(norm)
    letters = re.sub(r"[^A-Z]", "", norm)
    for value in seeds.names:
        tokens = _name_tokens(value)
        if not tokens or not text_tokens:
            continue
        if fuzz.token_set_ratio(" ".join(tokens), " ".join(text_tokens)) >= min_ratio and any(
            fuzz.ratio(t, u) >= min_ratio for t in tokens for u in text_tokens
        ):
            return "header:name"
        # OCR often drops the space between burned-in name parts ("JANEDOE"): compare letters only,
        # the name's parts joined in either order, anywhere in the text.
        joined = {"".join(tokens), "".join(reversed(tokens))}
        if len(tokens) >= 2 and any(len(j) >= 6 and fuzz.partial_ratio(j, letters) >= min_ratio for j in joined):
            return "header:name"
    return ""


def _looks_like_name(norm: str) -> bool:
    if _NAME_COMMA_RE.match(norm) or _NAME_CARET_RE.match(norm):
        return not set(re.split(r"[\s,^]+", norm)) <= CLINICAL_WORDS
    words = norm.split()
    # OCR drops the space between burned-in name parts ("JANEDOE"): a word that is a given name and
    # a surname run together is a name, wherever it stands in the text.
    if any(fold(w) not in CLINICAL_WORDS and split_merged_name(w) for w in words):
        return True
    if not 2 <= len(words) <= 4:
        return False
    alpha = [w for w in words if re.fullmatch(r"[A-Z][A-Z'.-]+", w)]
    return len(alpha) == len(words) and sum(w.strip(".") not in CLINICAL_WORDS for w in words) >= 2


def phi_type(text: str, *, seeds: HeaderSeeds | None = None) -> str:
    """Classify one recognised string.

    Returns one of ``"header:name" | "header:id" | "header:date" | "date" | "time" | "id" | "age" |
    "name" | ""`` (empty: nothing PHI-like). Header matches win, then the most identifying generic type.
    """
    if seeds is not None:
        matched = header_match(text, seeds)
        if matched:
            return matched
    norm = normalise_text(text)
    if not norm:
        return ""
    if date_candidates(norm):
        return "date"
    if _ID_PREFIX_RE.search(norm) or _ID_TOKEN_RE.search(norm):
        return "id"
    if _looks_like_name(norm):
        return "name"
    if _AGE_RE.search(norm):
        return "age"
    if _TIME_RE.search(norm):
        return "time"
    return ""


def phi_types(texts: Iterable[str], *, seeds: HeaderSeeds | None = None) -> list[str]:
    """:func:`phi_type` over many strings of one image (same header seeds)."""
    return [phi_type(t, seeds=seeds) for t in texts]


#: Spellings a ``phi_type`` may use for "no PHI".
_NO_PHI = {"", "none", "no", "false", "0"}


def phi_type_parts(phi_type: str) -> tuple[str, ...]:
    """The type words of a ``phi_type`` value, lower case, in order: ``"header:name"`` -> ``("header", "name")``,
    a path's ``"id,name"`` -> ``("id", "name")``, ``""`` (or ``"none"``) -> ``()``.

    The one place a ``phi_type`` is split (the policy, the report's masking and the summaries use it):
    any run of non-letters separates two words.
    """
    if phi_type.strip().lower() in _NO_PHI:
        return ()
    return tuple(t for t in re.split(r"[^a-z]+", phi_type.lower()) if t)
