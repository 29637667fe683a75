"""Issue 16, 13: an image whose sanitize failed needs review in report.html and shows under "errors"."""

from html.parser import HTMLParser
from pathlib import Path

import pytest

import ufmclean.io.write
from tests.hardening.run_helpers import NAMED, planted_tree, sanitize_cli
from ufmclean.errors import WriteError
from ufmclean.run_dir import RunDir


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.n_review: str | None = None
        self._in_review = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-relpath" in a:
            self.rows[a["data-relpath"]] = a
        self._in_review = tag == "td" and a.get("id") == "n-review"

    def handle_data(self, data):
        if self._in_review:
            self.n_review, self._in_review = data.strip(), False


def test_sanitize_error_needs_review_and_is_an_error(tmp_path: Path, fake_ocr, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ufmclean.io.write.write_image

    def failing(loaded, new_raw, dest, **kw):
        if str(dest).endswith(NAMED):
            raise WriteError("clean copy could not be written (no space left on device)")
        return real(loaded, new_raw, dest, **kw)

    monkeypatch.setattr(ufmclean.io.write, "write_image", failing)
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run) == 3
    parser = _Rows()
    parser.feed(RunDir(run).report.read_text())
    row = parser.rows[NAMED]
    assert row["data-status"] == "error"
    assert row["data-error"] == "1", "the errors filter misses the failed sanitize"
    assert int(row["data-review"]) >= 2, "a failed sanitize counted as ok ('look')"
    assert parser.n_review == "1"
    assert all(r["data-error"] == "0" for rel, r in parser.rows.items() if rel != NAMED)
