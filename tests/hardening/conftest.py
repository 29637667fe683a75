"""Fixtures of the run-folder tests (helpers in :mod:`tests.hardening.run_helpers`)."""

import pytest

from ufmclean.ocr.fake import FakeOcrEngine

from tests.hardening.run_helpers import ocr_double


@pytest.fixture()
def fake_ocr(inject_ocr) -> FakeOcrEngine:
    """Every engine the CLI asks for is the OCR double (no model is loaded)."""
    return inject_ocr(ocr_double())
