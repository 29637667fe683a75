"""PHI in file and folder names: typing, masking and pseudonyms of a relpath's components.

A hospital export names files and folders after patients (``DOE_JANE/MRN4417721_chest.png``,
``Smith John 1961-07-04.dcm``). Each component of a relpath is typed by the rules that type pixel
text (:mod:`ufmclean.phi`, :mod:`ufmclean.names`): it is split into tokens at ``_ - . space ^``
(the last component's file extension dropped) and

- ``date``: a span that reads as a calendar date (``1961-07-04``, ``19610704``, ``04.07.1961``);
- ``id``: a token the ID rules of pixel text accept (``MRN4417721``, ``4417721``: four digits or more
  in five characters or more; digits alone need six, ``65535`` is a size). A counter (zero-padded: ``00012``, ``IM000001``; or a sequence word
  and at most five digits: ``person1607``, ``case12``) is no ID here: DICOM exports and public datasets number every file so, and flagging each would bury
  the real cases (a zero-padded MRN is then missed unless it carries a prefix such as ``MRN``);
- ``name``: two or more adjacent letter tokens, none a clinical or common folder word, with a given
  name of the lexicon among them and either a surname of the lexicon too (``jane_doe``) or every
  token written as names are, upper case or capitalised (``DOE_JANE``, ``Smith John``,
  ``ZQXWOMBAT_JANINE``); or one token that is a given name and a surname run together
  (``JANEDOE``). Stricter than for pixel text: lower-case runs of ordinary words
  (``palette_without_lut``, ``sample_data``) are no name here, since file names are mostly such
  runs and no rarity step sorts them out.

Ages and times are not typed in paths (``2Y``, ``12h30`` name follow-ups and series too often).

:func:`mask_relpath` replaces each run of PHI tokens by ``[type]`` (``[name]/[id]_chest.png``);
:func:`pseudonymise_relpath` by ``type-<8 hex>``, a keyed hash (HMAC-SHA256 with a per-run secret)
of the run's text, so one name gives one pseudonym within a run and a dictionary of names cannot
be hashed to undo it without the run's key.

Nothing here logs or raises with the path it is given: it is PHI.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from ufmclean.names import fold, name_lexicon, split_merged_name
from ufmclean.phi import CLINICAL_WORDS, date_spans, phi_type

__all__ = ["PATH_WORDS", "component_phi", "mask_relpath", "path_phi_types", "pseudonymise_relpath"]

_TOKEN = re.compile(r"[^_\-. ^]+")
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}$")
_SEQ = r"IM|IMG|IMAGE|SE|SER|SERIES|ST|STUDY|SL|SLICE|FR|FRAME|I|S|F|P|PERSON|CASE|SUBJECT|SUBJ|SUB|SAMPLE"
_COUNTER = re.compile(rf"^(?:(?:{_SEQ})?0\d*|(?:{_SEQ})\d{{1,5}})$")
_WORD_NUMBER = re.compile(r"^([A-Z]+)\d{1,4}$")
_HEX = re.compile(r"^[0-9a-f]{8}$")
_PSEUDONYM_HEAD = re.compile(r"(?:^|[_\-. ^])(?:name|id|date)-$")
_ALPHA = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ']{2,}$")

#: Folder and file words of datasets that are never part of a name (beside ``phi.CLINICAL_WORDS``).
PATH_WORDS = frozenset(
    ["IMAGES", "IMAGE", "IMGS", "IMG", "DATA", "DATASET", "DATASETS", "SAMPLE", "SAMPLES", "TRAIN", "TRAINING", "TEST", "TESTING", "VAL", "VALID", "VALIDATION", "EVAL", "DEV", "SPLIT", "FOLD", "RAW", "CLEAN", "OUTPUT", "OUTPUTS", "INPUT", "INPUTS", "EXPORT", "EXPORTS", "BATCH", "SCANS", "SCAN", "FILES", "FILE", "DICOM", "DCM", "PNG", "JPG", "JPEG", "TIFF", "TIF", "CASE", "CASES", "SUBJECT", "SUBJECTS", "SERIES", "STUDIES", "VIEWS", "FRAMES", "SLICES", "NEW", "OLD", "COPY", "FINAL", "ORIGINAL", "ANON", "ANONYMISED", "ANONYMIZED", "DEID", "SANITISED", "SANITIZED", "LABEL", "LABELS", "POSITIVE", "NEGATIVE", "ABNORMAL", "BENIGN", "MALIGNANT", "PNEUMONIA", "BACTERIA", "VIRUS", "COVID", "TUMOR", "TUMOUR", "LESION"]
)


def _stem_and_ext(component: str, *, last: bool) -> tuple[str, str]:
    m = _EXTENSION.search(component) if last else None
    return (component[: m.start()], component[m.start():]) if m else (component, "")


def _is_name_word(token: str) -> bool:
    word = fold(token)
    return bool(_ALPHA.match(token)) and len(word) >= 2 and word not in CLINICAL_WORDS and word not in PATH_WORDS


def _is_counter(token: str) -> bool:
    upper = token.upper()
    word = _WORD_NUMBER.match(upper)  # JPEG2000, DATA2021: a folder word with a short number
    return bool(_COUNTER.match(upper) or (word and word[1] in PATH_WORDS))


def _run_is_name(words: list[str]) -> bool:
    """Adjacent name words are a name when one is a given name and another a surname of the lexicon, or
    when they are written as names are (each upper case or capitalised, ``DOE_JANE``, ``Smith John``)
    and one is a given name. Lower-case runs of ordinary words (``palette_without_lut``) are not."""
    lex = name_lexicon()
    folded = [fold(w) for w in words]
    # Two-letter "given names" of the lexicon are mostly suffixes and initials (SR, JR, MO): a file
    # called basic_text_sr is no name.
    given = [k for k, f in enumerate(folded) if f in lex.given and len(f) >= 3]
    if not given:
        return False
    if any(f in lex.surnames and k != g for g in given for k, f in enumerate(folded)):
        return True
    return all(w.isupper() or w.istitle() for w in words)


def _token_types(stem: str) -> list[tuple[int, int, str]]:
    """``(start, end, type)`` of each token of ``stem``; type ``""`` for a harmless token."""
    spans = [m.span() for m in _TOKEN.finditer(stem)]
    types = [""] * len(spans)
    dates = date_spans(stem.replace("_", " ").replace("^", " "))  # same length: spans index ``stem``
    for i, (a, b) in enumerate(spans):
        token = stem[a:b]
        if _HEX.match(token) and _PSEUDONYM_HEAD.search(stem[:a]):
            continue  # a pseudonym this module wrote (``id-3f2a9c01``) is no ID
        if any(a < de and ds < b for ds, de in dates):
            types[i] = "date"
        elif not _is_counter(token) and not (token.isdigit() and len(token) < 6) and phi_type(token) == "id":
            types[i] = "id"
        elif _is_name_word(token) and len(token) >= 7 and split_merged_name(token):
            types[i] = "name"
    i = 0
    while i < len(spans):  # runs of adjacent name words that read as a name
        j = i
        while j < len(spans) and not types[j] and _is_name_word(stem[spans[j][0]:spans[j][1]]):
            j += 1
        words = [stem[a:b] for a, b in spans[i:j]]
        if len(words) >= 2 and _run_is_name(words):
            for k in range(i, j):
                types[k] = "name"
        i = max(j, i + 1)
    return [(a, b, t) for (a, b), t in zip(spans, types, strict=True)]


def _phi_runs(stem: str) -> list[tuple[int, int, str]]:
    """Maximal runs of adjacent tokens of one PHI type, as ``(start, end, type)`` spans of ``stem``."""
    runs: list[tuple[int, int, str]] = []
    for a, b, t in _token_types(stem):
        if not t:
            continue
        if runs and runs[-1][2] == t and not _TOKEN.search(stem, runs[-1][1], a):
            runs[-1] = (runs[-1][0], b, t)
        else:
            runs.append((a, b, t))
    return runs


def component_phi(component: str, *, last: bool = False) -> set[str]:
    """PHI types (``{"name", "id", "date"}`` or fewer) found in one path component.

    ``last``: the component is the file name (its extension is not typed).
    """
    stem, _ = _stem_and_ext(component, last=last)
    return {t for _, _, t in _phi_runs(stem)}


def _rewrite(relpath: str, replace: Callable[[str, str], str]) -> str:
    parts = relpath.split("/")
    out = []
    for i, comp in enumerate(parts):
        stem, ext = _stem_and_ext(comp, last=i == len(parts) - 1)
        for a, b, t in reversed(_phi_runs(stem)):
            stem = stem[:a] + replace(t, stem[a:b]) + stem[b:]
        out.append(stem + ext)
    return "/".join(out)


def path_phi_types(relpath: str) -> str:
    """PHI types in a POSIX relpath's components, sorted and comma-joined (``"date,name"``; ``""`` for none)."""
    parts = relpath.split("/")
    found: set[str] = set()
    for i, comp in enumerate(parts):
        found |= component_phi(comp, last=i == len(parts) - 1)
    return ",".join(sorted(found))


def mask_relpath(relpath: str) -> str:
    """``relpath`` with each PHI run replaced by ``[type]`` (``DOE_JANE/MRN4417721_chest.png`` ->
    ``[name]/[id]_chest.png``); a path without PHI comes back unchanged."""
    return _rewrite(relpath, lambda t, _text: f"[{t}]")


def pseudonym(kind: str, text: str, *, key: bytes) -> str:
    """``kind-<8 hex>``: HMAC-SHA256 of ``kind:text`` under the run's ``key`` (stable within a run)."""
    return f"{kind}-{hmac.new(key, f'{kind}:{text}'.encode(), hashlib.sha256).hexdigest()[:8]}"


def pseudonymise_relpath(relpath: str, *, key: bytes) -> str:
    """``relpath`` with each PHI run replaced by its :func:`pseudonym` (``DOE_JANE/a.png`` ->
    ``name-3f2a9c01/a.png``). Collisions between different relpaths are the caller's to resolve
    (see :func:`ufmclean.run_paths.plan_clean_paths`)."""
    return _rewrite(relpath, lambda t, text: pseudonym(t, text, key=key))
