"""Test helper: copy files from ../shared/data into a temporary input tree."""

from pathlib import Path

import pytest


def copy_shared_files(shared_data: Path, files: dict[str, list[str]], dest: Path) -> Path:
    """Copy ``{folder: [relpath, ...]}`` from ``../shared/data`` into ``dest`` (skip the test if one is absent)."""
    import shutil

    for folder, rels in files.items():
        for rel in rels:
            src = shared_data / folder / rel
            if not src.is_file():
                pytest.skip(f"{folder}/{rel} is not present")
            (dest / folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / folder / rel)
    return dest
