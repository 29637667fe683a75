"""Rarity: the one dataset-wide step. Keys, document frequency, ``is_rare`` and per-image uniqueness.

A finding's *key* names the concept it shows: normalised text (fuzzy-clustered so OCR variants of one
string share a key), a marker appearance cluster, or an overlay group. ``doc_freq`` is the number of
distinct images carrying the key. Hartley et al. (2023) show that the rarity of a concept, not its
pixel count, drives memorisation, so ``is_rare = doc_freq <= K``.

Scaling: exact keys are counted with dicts; fuzzy matching runs only over *distinct* strings, blocked
by length, and single-character strings (laterality letters) are never fuzzily merged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from ufmclean.phi import normalise_text
from ufmclean.records import Finding

# "One or a few images": 1 copy is memorised in 8/10 models and 100 copies in 10/10 (mscore.md);
# 5 is a conservative absolute default for hospital sets; raise it for very large datasets.
DEFAULT_RARE_MAX_IMAGES = 5


@dataclass(frozen=True, slots=True)
class RarityOptions:
    """Settings of the rarity stage (keyword-only construction recommended)."""

    rare_max_images: int = DEFAULT_RARE_MAX_IMAGES
    text_similarity: float = 85.0  # rapidfuzz ratio (0-100); one OCR slip in 8 characters scores 87.5
    min_fuzzy_length: int = 4  # shorter strings only match exactly ("L" never merges with "R")
    marker_distance: float = 0.25  # descriptor distance (L2, descriptors ~unit scale) to share a key

    def __post_init__(self) -> None:
        if self.rare_max_images < 0:
            raise ValueError("rare_max_images must be >= 0")
        if not 0 < self.text_similarity <= 100:
            raise ValueError("text_similarity must be in (0, 100]")


def text_key_base(text: str) -> str:
    """Normalise text for keying: upper case, letters and digits only, single spaces."""
    norm = normalise_text(text)
    return " ".join("".join(ch for ch in word if ch.isalnum()) for word in norm.split()).strip()


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def cluster_strings(counts: dict[str, int], *, similarity: float, min_length: int) -> dict[str, str]:
    """Map each distinct string to its cluster leader (the most frequent member).

    Greedy leader clustering: strings in order of decreasing count join the first leader of similar
    length with ``fuzz.ratio >= similarity``, else become a leader. Comparisons are blocked by length
    (a ratio >= s needs lengths within a factor ``s/(200-s)``), so cost grows with leaders per block.
    """
    mapping: dict[str, str] = {}
    leaders_by_len: dict[int, list[str]] = defaultdict(list)
    factor = similarity / (200.0 - similarity)
    for s in sorted(counts, key=lambda k: (-counts[k], k)):
        if len(s) < min_length:
            mapping[s] = s
            continue
        lo, hi = math.floor(len(s) * factor), math.ceil(len(s) / factor)
        digits = _digits(s)
        # Numbers are identities: 004512 and 004513 are two patients, so digits must agree exactly.
        candidates = [
            c for n in range(lo, hi + 1) for c in leaders_by_len.get(n, ()) if len(digits) < 3 or _digits(c) == digits
        ]
        best = process.extractOne(s, candidates, scorer=fuzz.ratio, score_cutoff=similarity) if candidates else None
        if best is None:
            leaders_by_len[len(s)].append(s)
            mapping[s] = s
        else:
            mapping[s] = best[0]
    return mapping


def cluster_descriptors(descriptors: np.ndarray, *, max_distance: float) -> np.ndarray:
    """Greedy leader clustering of ``(N, D)`` descriptors; returns ``(N,)`` cluster ids."""
    labels = np.full(len(descriptors), -1, dtype=np.int64)
    leaders: list[np.ndarray] = []
    for i, vec in enumerate(descriptors):
        if leaders:
            dist = np.linalg.norm(np.stack(leaders) - vec, axis=1)
            j = int(np.argmin(dist))
            if dist[j] <= max_distance:
                labels[i] = j
                continue
        leaders.append(vec)
        labels[i] = len(leaders) - 1
    return labels


def assign_keys(findings: Sequence[Finding], *, options: RarityOptions) -> list[Finding]:
    """Return copies of ``findings`` with ``key`` set (``text:``, ``marker:`` or ``overlay:`` prefix)."""
    bases = [text_key_base(f.text) if f.kind == "text" else "" for f in findings]
    counts = Counter(b for b, f in zip(bases, findings) if f.kind == "text")
    text_map = cluster_strings(counts, similarity=options.text_similarity, min_length=options.min_fuzzy_length)
    marker_idx = [i for i, f in enumerate(findings) if f.kind == "marker"]
    marker_labels: dict[int, int] = {}
    if marker_idx:
        dims = max(len(findings[i].descriptor) for i in marker_idx)
        desc = np.zeros((len(marker_idx), dims))
        for row, i in enumerate(marker_idx):
            desc[row, : len(findings[i].descriptor)] = findings[i].descriptor
        labels = cluster_descriptors(desc, max_distance=options.marker_distance)
        marker_labels = dict(zip(marker_idx, labels.tolist()))
    keyed = []
    for i, (f, base) in enumerate(zip(findings, bases)):
        if f.kind == "text":
            key = "text:" + text_map[base]
        elif f.kind == "marker":
            key = f"marker:{marker_labels[i]}"
        else:
            key = f"overlay:{f.image_id}:{f.finding_id}"  # an overlay plane is specific to its image
        keyed.append(f.with_(key=key))
    return keyed


def propagate_phi_types(findings: Sequence[Finding], *, min_share: float = 0.5) -> list[Finding]:
    """Give the untyped text findings of a key the PHI type that at least ``min_share`` of its findings carry.

    A key is one concept read many ways; OCR slips make some readings untypable (``JANBDOE`` beside
    21 readings ``JANEDOE`` typed as a name), and those would otherwise stay, since the key is not
    rare. The type given is the members' most common one, without a ``header:`` prefix (a header
    match belongs to its own file). Findings are returned in order; typed ones unchanged.
    """
    typed: dict[str, Counter[str]] = defaultdict(Counter)
    members: Counter[str] = Counter()
    for f in findings:
        if f.kind == "text":
            members[f.key] += 1
            if f.phi_type:
                typed[f.key][f.phi_type.removeprefix("header:")] += 1
    shared = {k: c.most_common(1)[0][0] for k, c in typed.items() if c.total() >= min_share * members[k]}
    return [f.with_(phi_type=shared[f.key]) if f.kind == "text" and not f.phi_type and f.key in shared else f
            for f in findings]


def is_rare(doc_freq: int, *, rare_max_images: int) -> bool:
    """Whether a key carried by ``doc_freq`` distinct images is rare: ``doc_freq <= K``.

    The one place "what counts as rare" is decided; :func:`apply_rarity` stores the answer in
    ``Finding.is_rare`` and every later stage (the policy, the report, ``--fail-on rare``) reads that.
    """
    return doc_freq <= rare_max_images


def apply_rarity(
    findings: Sequence[Finding], *, n_images: int, options: RarityOptions
) -> tuple[list[Finding], dict[str, float]]:
    """Key findings, share a key's PHI type (:func:`propagate_phi_types`), count ``doc_freq`` per key,
    set ``is_rare``, and score images.

    Returns the new findings and ``{image_id: uniqueness}``: the largest ``-log(doc_freq / N) /
    log(N)`` over the image's findings (0 = only features every image has, 1 = a feature unique to it).
    """
    if n_images < 1:
        raise ValueError("n_images must be >= 1")
    keyed = assign_keys(findings, options=options)
    images_per_key: dict[str, set[str]] = defaultdict(set)
    for f in keyed:
        images_per_key[f.key].add(f.image_id)
    doc_freq = {k: len(v) for k, v in images_per_key.items()}
    out = [f.with_(doc_freq=doc_freq[f.key], is_rare=is_rare(doc_freq[f.key], rare_max_images=options.rare_max_images))
           for f in propagate_phi_types(keyed)]
    uniqueness: dict[str, float] = {}
    norm = math.log(n_images) if n_images > 1 else 1.0
    for f in out:
        score = min(1.0, max(0.0, -math.log(f.doc_freq / n_images) / norm)) if n_images > 1 else 1.0
        uniqueness[f.image_id] = max(uniqueness.get(f.image_id, 0.0), score)
    return out, uniqueness
