"""Personal-name lexicon for typing OCR text whose word spaces were lost (``JANEDOE``).

OCR of burned-in text often drops the space between a patient's given name and surname, and a
single token is no name to the word-pair rule of :mod:`ufmclean.phi`. The given names and surnames
of Faker's person providers (about 60 locales, ~19,000 of each once accents are folded) let a token
be split into ``GIVEN + SURNAME`` or ``SURNAME + GIVEN``.

Precision, measured against the 63,875 lower-case words of Debian's ``wamerican`` list: with the
defaults (given name >= 4 letters, surname >= 3, token >= 7) 468 words (0.7%) split into two
names (``BACKWARD`` = BACK + WARD). That is the price of recall here: a false positive makes the
sanitiser inpaint a harmless word, a miss leaves a name legible. The policy's allow list keeps a
burned-in word that must stay.

Nothing here logs the text it is given: the text is PHI.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import unicodedata
from dataclasses import dataclass

_NOT_LETTER = re.compile(r"[^A-Z]")
_LETTER_LINES = re.compile(r"[^A-Z\n]")  # fold_many keeps its line breaks


def _unaccented_upper(text: str) -> str:
    """``text`` upper-cased with accents taken off (compatibility-decomposed, combining marks dropped)."""
    if text.isascii():  # most names: no accents to take off
        return text.upper()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def fold(text: str) -> str:
    """Upper-case letters of ``text``, accents removed, everything else dropped (``O'Müller`` -> ``OMULLER``)."""
    return _NOT_LETTER.sub("", _unaccented_upper(text))


def fold_many(texts: list[str]) -> list[str]:
    """:func:`fold` of each of ``texts`` (one pass over them all: the lexicon folds ~150,000 names
    per process, and one call per name cost a worker 0.2-0.3 s at start)."""
    joined = "\n".join(t.replace("\n", " ") for t in texts)
    return _LETTER_LINES.sub("", _unaccented_upper(joined)).split("\n")


@dataclass(frozen=True, slots=True)
class NameLexicon:
    """Given names and surnames, folded with :func:`fold` (upper case, no accents, letters only)."""

    given: frozenset[str]
    surnames: frozenset[str]


def _names(value: object) -> list[str]:
    # Faker keeps name lists as tuples, lists or {name: weight} dicts; anything else is not a list.
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    return []


@functools.cache
def name_lexicon() -> NameLexicon:
    """The lexicon from every Faker person provider (loaded once per process, ~0.15 s).

    Raises ``RuntimeError`` when Faker yields implausibly few names (its layout changed): typing
    names with an empty lexicon would silently miss them.
    """
    import faker.providers.person as person

    raw: dict[str, list[str]] = {"given": [], "surnames": []}
    for module in pkgutil.iter_modules(person.__path__):
        try:
            provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attr in dir(provider):
            kind = "given" if attr.startswith("first_names") else "surnames" if attr.startswith("last_names") else None
            if kind is not None:
                raw[kind] += _names(getattr(provider, attr, ()))
    given, surnames = (set(fold_many(raw[k])) - {""} for k in ("given", "surnames"))
    if len(given) < 1000 or len(surnames) < 1000:
        raise RuntimeError(
            f"Faker's person providers gave {len(given)} given names and {len(surnames)} surnames; "
            "expected thousands: install a Faker release with the usual person providers"
        )
    return NameLexicon(frozenset(given), frozenset(surnames))


def split_merged_name(
    token: str, *, min_given: int = 4, min_surname: int = 3, min_length: int = 7, lexicon: NameLexicon | None = None
) -> tuple[str, str] | None:
    """Split a single word into ``(first part, second part)`` when it is two names run together.

    ``token`` (one word, no spaces) is folded first; a split is ``GIVEN + SURNAME`` or
    ``SURNAME + GIVEN`` with the given name at least ``min_given`` and the surname at least
    ``min_surname`` letters, and the token at least ``min_length``. Returns ``None`` when no split
    exists.
    """
    if len(token.split()) != 1:
        return None  # a space is a word break OCR did see: the word-pair rule's business
    word = fold(token)
    if len(word) < min_length:
        return None
    lex = lexicon or name_lexicon()
    for i in range(min(min_given, min_surname), len(word) - min(min_given, min_surname) + 1):
        head, tail = word[:i], word[i:]
        if len(head) >= min_given and len(tail) >= min_surname and head in lex.given and tail in lex.surnames:
            return head, tail
        if len(head) >= min_surname and len(tail) >= min_given and head in lex.surnames and tail in lex.given:
            return head, tail
    return None
