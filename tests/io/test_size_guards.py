"""Issue 16, 12-13: declared sizes are checked on every page before decoding, with a clear way out."""

import time
import tracemalloc
from pathlib import Path

import pytest

import ufmclean.io.raster as raster
from tests.hardening.badinputs import jpeg_declaring, png_declaring, tiff_pages, tiff_small_then_huge
from tests.io.io_factory import gradient, make_ds
from ufmclean.errors import DecompressionBombError, LoadError
from ufmclean.io.discover import discover
from ufmclean.io.load import DEFAULT_MAX_PIXELS, load_image


def _record(tmp_path: Path, name: str, data: bytes):
    (tmp_path / name).write_bytes(data)
    [rec] = [r for r in discover(tmp_path) if r.relpath == name]
    assert rec.status == "ok", rec.error
    return rec


@pytest.fixture()
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any pixel decoding fails the test: refusals must come from the headers alone."""
    def boom(*_a, **_k):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(raster, "_read_tiff", boom)
    monkeypatch.setattr(raster, "_read_cv2", boom)


def test_default_keeps_one_image_under_the_measured_budget() -> None:
    # 8192x8192 uint16 peaked at 2.4 GB RSS in a PP-OCR scan (see ufmclean/io/load.py).
    assert DEFAULT_MAX_PIXELS == 2**26


def test_tiff_small_first_page_huge_later_page_is_refused_before_decoding(tmp_path: Path, no_decoding) -> None:
    rec = _record(tmp_path, "pages.tiff", tiff_small_then_huge())
    assert rec.size_bytes < 1000
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(DecompressionBombError) as ei:
        load_image(rec, max_pixels=1000)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2 and peak < 5_000_000, (elapsed, peak)
    msg = str(ei.value)
    assert "900000064 values exceeds max_pixels=1000" in msg and "--max-pixels 900000064" in msg


def test_tiff_pages_of_different_sizes_are_refused_before_decoding(tmp_path: Path, no_decoding) -> None:
    rec = _record(tmp_path, "mixed.tiff", tiff_pages([(8, 8, bytes(64)), (16, 16, bytes(256))]))
    with pytest.raises(LoadError, match="different sizes"):
        load_image(rec)


@pytest.mark.parametrize("name, data, values", [("big.png", png_declaring(9000, 9000), 81_000_000),
                                                 ("big.jpg", jpeg_declaring(60000, 60000), 3_600_000_000)])
def test_png_and_jpeg_declared_sizes_are_refused_before_decoding(tmp_path: Path, no_decoding, name, data,
                                                                 values) -> None:
    rec = _record(tmp_path, name, data)
    assert rec.size_bytes < 2000
    with pytest.raises(DecompressionBombError, match=f"--max-pixels {values}"):
        load_image(rec)  # the default guard


def test_genuine_image_loads_with_a_raised_limit(tmp_path: Path) -> None:
    rec = _record(tmp_path, "pages.tiff", tiff_pages([(8, 8, bytes(64))] * 3))
    with pytest.raises(DecompressionBombError, match="--max-pixels 192"):
        load_image(rec, max_pixels=100)
    assert load_image(rec, max_pixels=192).raw.shape == (3, 8, 8)


def test_negative_dicom_size_is_invalid_not_a_negative_count(tmp_path: Path) -> None:
    ds = make_ds(gradient(64, 64, ), NumberOfFrames=-3)
    ds.save_as(tmp_path / "neg.dcm", enforce_file_format=True)
    [rec] = discover(tmp_path)
    with pytest.raises(LoadError) as ei:
        load_image(rec)
    msg = str(ei.value)
    assert "declared image size is invalid" in msg and "values exceeds" not in msg
    assert not isinstance(ei.value, DecompressionBombError)
