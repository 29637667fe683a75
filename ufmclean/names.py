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

import contextlib
import functools
import hashlib
import importlib
import json
import os
import pkgutil
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

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
    """The lexicon from every Faker person provider (loaded once per process).

    Building it (importing ~90 Faker modules, folding ~150,000 names) costs a process about
    0.2 s, and every worker of a scan builds it: it is kept in :func:`cache_dir` under a key of
    Faker's version and this module's folding code, and read back from there in ~5 ms. A cache
    that cannot be read or written is ignored (the lexicon is built instead).

    Raises ``RuntimeError`` when Faker yields implausibly few names (its layout changed): typing
    names with an empty lexicon would silently miss them.
    """
    path = _lexicon_cache_path()
    cached = _read_lexicon(path) if path is not None else None
    if cached is not None:
        return cached
    lexicon = _build_lexicon()
    if path is not None:
        _write_lexicon(path, lexicon)
    return lexicon


def cache_dir() -> Path:
    """Where ufmclean keeps what it derives from its installed packages (never data):
    ``$UFMCLEAN_CACHE``, else ``$XDG_CACHE_HOME/ufmclean``, else ``~/.cache/ufmclean``."""
    explicit = os.environ.get("UFMCLEAN_CACHE", "").strip()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ufmclean"


def _lexicon_cache_path() -> Path | None:
    from importlib import metadata

    try:
        faker_version = metadata.version("faker")
    except metadata.PackageNotFoundError:
        return None
    key = hashlib.sha256(f"{faker_version}:{_BUILD_CODE_DIGEST}".encode()).hexdigest()[:16]
    return cache_dir() / f"names-{key}.json"


def _read_lexicon(path: Path) -> NameLexicon | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        given, surnames = data["given"], data["surnames"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(given, list) and isinstance(surnames, list)) or min(len(given), len(surnames)) < 1000:
        return None
    return NameLexicon(frozenset(map(str, given)), frozenset(map(str, surnames)))


def _write_lexicon(path: Path, lexicon: NameLexicon) -> None:
    text = json.dumps({"given": sorted(lexicon.given), "surnames": sorted(lexicon.surnames)})
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".names-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: a concurrent worker reads the old file or the whole new one
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _build_lexicon() -> NameLexicon:
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


def _code_digest(*functions: Callable[..., object]) -> str:
    """A digest of the functions' byte code and constants: a cached lexicon built by other code is not read.

    Nested code objects (a generator expression's) are digested the same way, not by ``repr``,
    which holds their memory address and so would differ in every process.
    """
    digest = hashlib.sha256()

    def add(code: CodeType) -> None:
        digest.update(code.co_code)
        for const in code.co_consts:
            if isinstance(const, CodeType):
                add(const)
            else:
                digest.update(repr(const).encode())

    for fn in functions:
        add(getattr(fn, "__code__"))  # noqa: B009 - a Callable's type does not promise __code__
    return digest.hexdigest()


#: Taken when the module is imported (what built the lexicon, not what a test put in its place).
_BUILD_CODE_DIGEST = _code_digest(_unaccented_upper, fold_many, _names, _build_lexicon)


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
