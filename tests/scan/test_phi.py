"""PHI typing: every common date format, header seeding across formats, names, IDs, ages, times."""

import pytest

from ufmclean.phi import date_candidates, header_match, normalise_text, phi_type
from ufmclean.records import HeaderSeeds

SEEDS = HeaderSeeds(names=("DOE^JOHN",), ids=("MRN004512",), dates=("19710304",))


@pytest.mark.parametrize(
    "text",
    ["2001-03-04", "20010304", "2001/03/04", "04-MAR-2001", "4 Mar 2001", "March 4, 2001", "DOB: 04 MAR 2001"],
)
def test_unambiguous_dates_parse_to_the_same_day(text):
    assert "20010304" in date_candidates(text)
    assert phi_type(text) == "date"


def test_ambiguous_day_month_gives_both_readings():
    assert date_candidates("04/03/2001") == {"20010304", "20010403"}
    assert date_candidates("04.03.2001") == {"20010304", "20010403"}


def test_invalid_dates_are_not_dates():
    assert date_candidates("2001-13-45") == set()
    assert phi_type("PORTABLE") == ""


@pytest.mark.parametrize("text", ["1971-03-04", "19710304", "04/03/1971", "03/04/1971", "4 MAR 1971"])
def test_header_date_matches_any_pixel_format(text):
    assert header_match(text, SEEDS) == "header:date"
    assert phi_type(text, seeds=SEEDS) == "header:date"


@pytest.mark.parametrize(
    "text", ["John Doe", "DOE, JOHN", "DOE^JOHN", "J0HN DOE", "JOHNDOE", "DOEJOHN", "PT:JOHNDOE 1971", "JOHNDQE"]
)
def test_header_name_matches_with_order_and_ocr_noise(text):
    assert phi_type(text, seeds=SEEDS) == "header:name"


def test_header_id_matches_with_punctuation():
    assert phi_type("MRN 004512", seeds=SEEDS) == "header:id"
    assert phi_type("MRN-004-512", seeds=SEEDS) == "header:id"


def test_header_does_not_match_unrelated_text():
    assert header_match("PORTABLE", SEEDS) == ""
    assert header_match("1980-01-01", SEEDS) == ""
    assert header_match("Jane Smith", SEEDS) == ""
    assert header_match("JOHNSON", SEEDS) == ""  # a first name inside another word is not the name
    assert header_match("DOEJANE", SEEDS) == ""


def test_generic_types():
    assert phi_type("MRN: 88812") == "id"
    assert phi_type("A12345678") == "id"
    assert phi_type("SMITH, JANE") == "name"
    assert phi_type("Jane Smith") == "name"
    assert phi_type("045Y") == "age"
    assert phi_type("45 yo") == "age"
    assert phi_type("14:32:05") == "time"


def test_clinical_text_is_not_a_name():
    for text in ("PORTABLE AP", "SUPINE CHEST", "L", "R", "AP", "LEFT LATERAL"):
        assert phi_type(text) == "", text


def test_normalise_text():
    assert normalise_text("  Portable.  AP ") == "PORTABLE. AP"
    assert normalise_text("--R--") == "R"


def test_month_first_us_dates():
    assert date_candidates("DOB 11/22/1953") == {"19531122"}


def test_names_run_together_by_ocr_are_names():
    # OCR drops the space between burned-in name parts; either order, accents folded, inside a line.
    for text in ("JANEDOE", "DOEJANE", "janedoe", "MARIAGARCIA", "JOHNSMITH 12Y", "MÜLLERHANS"):
        assert phi_type(text) == "name", text


def test_clinical_words_and_short_tokens_are_not_merged_names():
    for text in ("PORTABLE", "SUPINE", "LATERAL", "IMAGING", "LUMBAR", "INSPIRATION", "HEADFIRST", "CHESTPA",
                 "ANNLEE", "JANE", "DOE"):
        assert phi_type(text) == "", text


def test_split_merged_name_and_its_lexicon():
    from ufmclean.names import NameLexicon, fold, name_lexicon, split_merged_name

    lexicon = name_lexicon()
    assert len(lexicon.given) > 10_000 and len(lexicon.surnames) > 10_000
    assert {"JANE", "JOHN", "MARIA"} <= lexicon.given and {"DOE", "SMITH", "GARCIA", "MULLER"} <= lexicon.surnames
    assert fold("Müller") == "MULLER" and fold("O'Neil") == "ONEIL" and fold("Zoë") == "ZOE"
    assert split_merged_name("JANEDOE") == ("JANE", "DOE")
    assert split_merged_name("DOEJANE") == ("DOE", "JANE")
    # Bounds: the given name needs 4 letters, the surname 3, the token 7.
    tiny = NameLexicon(given=frozenset({"ANNA", "ANN"}), surnames=frozenset({"LEE", "LI"}))
    assert split_merged_name("ANNALEE", lexicon=tiny) == ("ANNA", "LEE")
    assert split_merged_name("ANNLEE", lexicon=tiny, min_length=6) is None  # ANN is under 4 letters
    assert split_merged_name("ANNALI", lexicon=tiny, min_length=6) is None  # LI is under 3 letters
    assert split_merged_name("LEEANNA", lexicon=tiny) == ("LEE", "ANNA")
    assert split_merged_name("ANNA LEE", lexicon=tiny) is None  # not one word


def test_name_lexicon_is_cached_and_survives_a_bad_cache(tmp_path, monkeypatch):
    from ufmclean import names

    monkeypatch.setenv("UFMCLEAN_CACHE", str(tmp_path / "cache"))
    names.name_lexicon.cache_clear()
    try:
        built = names.name_lexicon()
        (cached,) = (tmp_path / "cache").glob("names-*.json")
        names.name_lexicon.cache_clear()
        monkeypatch.setattr(names, "_build_lexicon", lambda: pytest.fail("rebuilt although cached"))
        assert names.name_lexicon() == built  # read back, not rebuilt
        monkeypatch.undo()
        monkeypatch.setenv("UFMCLEAN_CACHE", str(tmp_path / "cache"))
        cached.write_text('{"given": ["ONLY"]')  # truncated: rebuilt and rewritten
        names.name_lexicon.cache_clear()
        assert names.name_lexicon() == built
        assert names._read_lexicon(cached) == built
        # A cache folder that cannot be made: the lexicon is built all the same.
        (tmp_path / "file").write_text("x")
        monkeypatch.setenv("UFMCLEAN_CACHE", str(tmp_path / "file" / "sub"))
        names.name_lexicon.cache_clear()
        assert names.name_lexicon() == built
    finally:
        names.name_lexicon.cache_clear()


def test_name_lexicon_cache_key_is_the_same_in_every_process():
    import subprocess
    import sys

    code = "from ufmclean import names; print(names._lexicon_cache_path())"
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(keys) == 1 and "names-" in keys.pop()
