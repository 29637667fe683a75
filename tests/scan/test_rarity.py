"""Rarity: keys, fuzzy clustering of OCR variants, doc_freq counts distinct images, uniqueness."""

import numpy as np
import pytest

from ufmclean.rarity import RarityOptions, apply_rarity, cluster_strings, text_key_base
from ufmclean.records import BBox, Finding

BOX = BBox(0, 0, 4, 4)


def text(image, s, n=0):
    return Finding(f"{image}-{n}", image, f"{image}.png", 0, "text", BOX, text=s)


def marker(image, desc):
    return Finding(f"{image}-m", image, f"{image}.png", 0, "marker", BOX, descriptor=tuple(desc))


def test_text_key_base_ignores_case_spacing_punctuation():
    assert text_key_base(" portable. ") == text_key_base("PORTABLE") == "PORTABLE"
    assert text_key_base("Doe,  John") == "DOE JOHN"


def test_ocr_variants_share_a_key_but_short_letters_do_not():
    mapping = cluster_strings({"PORTABLE": 50, "P0RTABLE": 1, "PORTABLF": 1, "L": 30, "R": 30}, similarity=85, min_length=4)
    assert mapping["P0RTABLE"] == mapping["PORTABLF"] == "PORTABLE"
    assert mapping["L"] == "L" and mapping["R"] == "R"


def test_doc_freq_counts_distinct_images_and_flags_rare():
    findings = [text(f"img{i}", "PORTABLE") for i in range(10)]
    findings += [text("img0", "PORTABLE", n=1)]  # twice in one image counts once
    findings += [text("img3", "JOHN DOE", n=2), text("img4", "J0HN DOE", n=2)]
    out, uniq = apply_rarity(findings, n_images=10, options=RarityOptions(rare_max_images=2))
    by_id = {f.finding_id: f for f in out}
    assert by_id["img0-0"].doc_freq == 10 and not by_id["img0-0"].is_rare
    assert by_id["img3-2"].key == by_id["img4-2"].key
    assert by_id["img3-2"].doc_freq == 2 and by_id["img3-2"].is_rare
    assert uniq["img0"] == pytest.approx(0.0)
    assert uniq["img3"] == pytest.approx(np.log(5) / np.log(10))


def test_markers_cluster_by_descriptor():
    common = [marker(f"i{i}", [0.5, 0.5, 0.1 + 0.01 * (i % 3)]) for i in range(20)]
    sticker = marker("odd", [0.9, 0.1, 0.9])
    out, uniq = apply_rarity(common + [sticker], n_images=21, options=RarityOptions())
    keys = {f.image_id: f for f in out}
    assert len({keys[f"i{i}"].key for i in range(20)}) == 1
    assert keys["odd"].doc_freq == 1 and keys["odd"].is_rare
    assert uniq["odd"] == pytest.approx(1.0)


def test_options_are_validated():
    with pytest.raises(ValueError):
        RarityOptions(rare_max_images=-1)
    with pytest.raises(ValueError):
        apply_rarity([], n_images=0, options=RarityOptions())


def test_different_numbers_never_merge():
    mapping = cluster_strings({"MRN 004512": 1, "MRN 004513": 1, "MRN OO4512": 1}, similarity=85, min_length=4)
    assert mapping["MRN 004512"] != mapping["MRN 004513"]


def test_a_keys_phi_type_reaches_its_untyped_readings():
    # 3 readings typed as a name, 1 OCR slip the typer cannot see: the slip shares the key, so the type.
    findings = [text(f"i{i}", "JANEDOE").with_(phi_type="name") for i in range(3)]
    findings += [text("i3", "JANBDOE"), text("i4", "JANEDOE").with_(phi_type="header:name")]
    # a common word with one odd reading typed as an ID keeps its majority (untyped)
    findings += [text(f"p{i}", "PORTABLE") for i in range(5)] + [text("p5", "PORTABLF").with_(phi_type="id")]
    out, _ = apply_rarity(findings, n_images=11, options=RarityOptions(rare_max_images=2))
    by_image = {f.image_id: f for f in out}
    assert by_image["i3"].key == by_image["i0"].key and by_image["i3"].phi_type == "name"
    assert by_image["i4"].phi_type == "header:name"  # typed findings keep their own type
    assert [by_image[f"p{i}"].phi_type for i in range(6)] == [""] * 5 + ["id"]
    assert [f.finding_id for f in out] == [f.finding_id for f in findings]
