"""PHI typing, masking and pseudonyms of relpath components (ufmclean.path_phi)."""

import pytest

from ufmclean.path_phi import component_phi, mask_relpath, path_phi_types, pseudonymise_relpath


@pytest.mark.parametrize(
    ("relpath", "types", "masked"),
    [
        ("in/DOE_JANE/MRN123456_chest.png", "id,name", "in/[name]/[id]_chest.png"),
        ("Smith John 1961-07-04.dcm", "date,name", "[name] [date].dcm"),
        ("ZQXWOMBAT JANINE/MRN4417721_1961-07-04.png", "date,id,name", "[name]/[id]_[date].png"),
        ("ZQXWOMBAT^JANINE.dcm", "name", "[name].dcm"),
        ("JANEDOE.png", "name", "[name].png"),
        ("scan_19610704.dcm", "date", "scan_[date].dcm"),
        ("MRN_4417721/x.png", "id", "MRN_[id]/x.png"),
        ("jane_doe/x.png", "name", "[name]/x.png"),
    ],
)
def test_phi_components_are_typed_and_masked(relpath: str, types: str, masked: str) -> None:
    assert path_phi_types(relpath) == types
    assert mask_relpath(relpath) == masked


@pytest.mark.parametrize(
    "relpath",
    [
        "normal/normal_049.png", "sample_data/images/x.png", "IM-0115-0001.jpeg", "00000001_000.png",
        "kermany/test/PNEUMONIA/person1607_virus_2783.jpeg", "DICOM/IM000001", "val_images/a.png",
        "case_study/SE000003/IM000012.dcm", "pydicom_test_files/JPEG2000.dcm", "CT_small.dcm",
        "dicom/no_preamble_no_meta.dcm", "dicom/one_by_65535.dcm", "dicom/palette_without_lut.dcm",
        "dicom/basic_text_sr.dcm", "exports/rtstruct_jr_mo.dcm",
    ],
)
def test_dataset_names_are_not_phi(relpath: str) -> None:
    assert path_phi_types(relpath) == ""
    assert mask_relpath(relpath) == relpath


def test_extension_is_not_typed() -> None:
    # Only the last component loses its extension; a date-like folder is still typed whole.
    assert component_phi("report.2019", last=False) == set()
    assert component_phi("x.1961-07-04", last=False) == {"date"}


def test_pseudonyms_are_keyed_stable_and_hide_the_name() -> None:
    rel = "ZQXWOMBAT JANINE/MRN4417721_chest.png"
    a = pseudonymise_relpath(rel, key=b"k1")
    assert a == pseudonymise_relpath(rel, key=b"k1")
    assert a != pseudonymise_relpath(rel, key=b"k2")
    assert a.endswith("_chest.png") and a.startswith("name-")
    for part in ("ZQXWOMBAT", "JANINE", "4417721"):
        assert part not in a
    assert path_phi_types(a) == ""
    # the same name in two places gets the same pseudonym
    b = pseudonymise_relpath("ZQXWOMBAT JANINE/other.png", key=b"k1")
    assert b.split("/")[0] == a.split("/")[0]
