"""Relpaths that may name a patient: the masked public table and the private mapping behind it.

``RUN/images.parquet`` is the table a data steward opens and shares (a pre-release check reads it;
it is written with the ordinary file mode), so it must not hold a patient's name. Its ``relpath``
column is therefore the *masked* relpath (``[name]/[id]_chest.png``, see :mod:`ufmclean.path_phi`)
and ``path_phi`` says which PHI types were masked (``"id,name"``; ``""`` for most files, whose
relpath is shown unchanged).

The stages still need the real path to read the input and to write ``clean/``. They join on
``image_id`` (a hash, never masked) to ``RUN/paths.parquet``, a private mapping written 0600 like
``findings.parquet``: ``image_id, relpath`` (the original), ``path_phi``, ``clean_relpath`` (where
the sanitised copy goes: the original, or its pseudonymous form under ``--rename-phi-paths``). Its
schema metadata holds the run's pseudonym key (random, made once per run folder and kept by every
rewrite), so a resumed run writes the same pseudonyms. The alternative, an unmasked relpath in a
0600 ``images.parquet``, would make the shareable table private for every run, not only for runs
whose names hold PHI; a mapping keeps the public table public and the PHI in one private file.

Readers: :func:`read_images` (:class:`~ufmclean.records.ImageRow` records with the real relpath and
``clean_relpath``); writers:
:func:`write_images`. A run folder written before the mapping existed has no ``paths.parquet``;
its ``images.parquet`` relpaths are then the real ones.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection, Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from ufmclean.errors import UsageError
from ufmclean.path_phi import mask_relpath, path_phi_types, pseudonymise_relpath
from ufmclean.phi import phi_type_parts
from ufmclean.records import ImageRow
from ufmclean.run_dir import RunDir

__all__ = ["PATHS_MODE", "clean_relpaths", "phi_path_counts", "plan_clean_paths", "read_images", "write_images"]

#: The private mapping holds the original names: owner only.
PATHS_MODE = 0o600
_KEY_META = b"ufmclean.path_key"


def _paths_schema(key: bytes) -> Any:
    import pyarrow as pa

    return pa.schema([("image_id", pa.string()), ("relpath", pa.string()), ("path_phi", pa.string()),
                      ("clean_relpath", pa.string())], metadata={_KEY_META: key.hex().encode()})


def _read_mapping(rd: RunDir, image_ids: Collection[str] | None = None) -> tuple[dict[str, dict[str, Any]], bytes | None]:
    """``image_id -> row`` of ``RUN/paths.parquet`` and the run's key (``({}, None)`` when absent)."""
    from ufmclean.tables import read_metadata, read_rows

    path = rd.paths
    if not path.is_file():
        return {}, None
    if image_ids is not None:
        image_ids = [str(i) for i in image_ids]
        if not image_ids:  # pyarrow cannot type an empty "in" filter
            image_ids = [""]
    try:
        meta = read_metadata(path)
        rows = read_rows(path, image_ids=image_ids, missing_ok=False)
    except Exception as exc:  # noqa: BLE001 - damaged: one clear line, the scan rewrites it
        raise UsageError(f"{path.name} in the run folder is damaged ({type(exc).__name__}); "
                         "run the scan again to rewrite it") from None
    key = bytes.fromhex(meta[_KEY_META].decode()) if _KEY_META in meta else None
    return {r["image_id"]: r for r in rows}, key


def write_images(run: RunDir | str | os.PathLike[str], rows: Sequence[ImageRow], *,
                 schema: Any = None) -> dict[str, Any]:
    """Write ``images.parquet`` (relpaths masked, ``path_phi`` added) and ``paths.parquet`` (0600).

    ``rows`` carry the real relpaths; the table gets the columns of ``schema`` (default
    ``tables.IMAGES_SCHEMA``) and ``path_phi``. A row's ``clean_relpath`` survives a rewrite while
    its relpath is unchanged. Returns :func:`phi_path_counts` of the rows.
    """
    import pyarrow as pa

    from ufmclean.tables import IMAGES_SCHEMA, check_image_rows, image_to_row, write_rows

    rd = RunDir.of(run)
    base = schema if schema is not None else IMAGES_SCHEMA
    check_image_rows([image_to_row(r, IMAGES_SCHEMA.names) for r in rows])  # required columns not null
    old, key = _read_mapping(rd)
    key = key or secrets.token_bytes(16)
    mapping, public = [], []
    for r in rows:
        types = path_phi_types(r.relpath)
        prev = old.get(r.image_id)
        clean = prev["clean_relpath"] if prev and prev["relpath"] == r.relpath and prev["clean_relpath"] else r.relpath
        mapping.append({"image_id": r.image_id, "relpath": r.relpath, "path_phi": types, "clean_relpath": clean})
        shown = image_to_row(r, base.names)
        shown.update(relpath=mask_relpath(r.relpath) if types else r.relpath, path_phi=types)
        public.append(shown)
    # The mapping first: a crash between the two writes leaves a mapping that covers the table.
    write_rows(rd.paths, mapping, mode=PATHS_MODE, schema=_paths_schema(key))
    fields = [*base, *([] if "path_phi" in base.names else [pa.field("path_phi", pa.string())])]
    write_rows(rd.images_table, public, mode=0o644, schema=pa.schema(fields))
    return phi_path_counts(mapping)


def phi_path_counts(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``{"n_phi_paths": files whose relpath looks like PHI, "by_path_phi_type": {type: files}}``."""
    n, by = 0, dict[str, int]()
    for r in rows:
        types = phi_type_parts(str(r.get("path_phi") or ""))
        n += bool(types)
        for t in types:
            by[t] = by.get(t, 0) + 1
    return {"n_phi_paths": n, "by_path_phi_type": dict(sorted(by.items()))}


def read_images(run: RunDir | str | os.PathLike[str], *, image_ids: Collection[str] | None = None) -> list[ImageRow]:
    """Rows of ``images.parquet`` as :class:`ImageRow` records with the real ``relpath`` and ``clean_relpath``
    (from the mapping; a run folder without one has real relpaths: ``clean_relpath`` = ``relpath``).

    Raises :class:`UsageError` when the table shows masked relpaths but the mapping is missing.
    """
    from ufmclean.tables import read_rows, row_to_image

    rd = RunDir.of(run)
    rows = read_rows(rd.images_table, image_ids=image_ids)
    mapping, _ = _read_mapping(rd, image_ids)
    out = []
    for r in rows:
        img = row_to_image(r)
        m = mapping.get(img.image_id)
        if m is not None:
            img = img.with_(relpath=m["relpath"], clean_relpath=m["clean_relpath"] or m["relpath"])
        elif img.path_phi:
            raise UsageError(f"{rd.paths.name} is missing from the run folder (it maps masked file names to the "
                             "real ones); run the scan again")
        else:
            img = img.with_(clean_relpath=img.relpath)
        out.append(img)
    return out


def clean_relpaths(run: RunDir | str | os.PathLike[str], image_ids: Collection[str]) -> dict[str, str]:
    """``image_id -> clean relpath`` for the ids the mapping knows (empty without a mapping)."""
    mapping, _ = _read_mapping(RunDir.of(run), image_ids)
    return {i: m["clean_relpath"] or m["relpath"] for i, m in mapping.items()}


def _with_suffix(relpath: str, n: int) -> str:
    p = PurePosixPath(relpath)
    ext = "".join(p.suffixes[-1:])
    return str(p.with_name(f"{p.name[: len(p.name) - len(ext)]}-{n}{ext}"))


def plan_clean_paths(run: RunDir | str | os.PathLike[str], *, rename: bool) -> int:
    """Set each image's ``clean_relpath`` in the mapping; returns how many are renamed.

    ``rename``: a relpath with PHI-looking components gets its pseudonymous form (keyed by the run,
    so the same on every rerun); two relpaths that would meet at one name (or at an unrenamed
    file's name) are told apart by ``-2``, ``-3`` ... in relpath order, so names never collide.
    Without ``rename`` every copy keeps its relpath.
    """
    rd = RunDir.of(run)
    mapping, key = _read_mapping(rd)
    if not mapping:
        return 0
    key = key or secrets.token_bytes(16)
    rows = sorted(mapping.values(), key=lambda r: r["relpath"])
    taken = {r["relpath"] for r in rows if not (rename and r["path_phi"])}
    n = 0
    for r in rows:
        if not (rename and r["path_phi"]):
            r["clean_relpath"] = r["relpath"]
            continue
        target = pseudonymise_relpath(r["relpath"], key=key)
        candidate, i = target, 1
        while candidate in taken:
            i += 1
            candidate = _with_suffix(target, i)
        taken.add(candidate)
        r["clean_relpath"] = candidate
        n += 1
    from ufmclean.tables import write_rows

    write_rows(rd.paths, rows, mode=PATHS_MODE, schema=_paths_schema(key))
    return n
