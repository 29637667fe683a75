"""Policy: which findings to remove, flag or keep, and why.

A :class:`Policy` comes from a TOML file (``[policy]`` table, see :data:`DEFAULT_POLICY_TOML`, which is
rendered from ``Policy()``'s defaults) plus
CLI flags, and :func:`decide` maps every :class:`~ufmclean.records.Finding` to an action with reasons.
The rules, in order (first match wins for the action, reasons accumulate):

1. ``denylist``: text matching a deny pattern is removed, whatever else is true.
2. ``header-match``: text typed as a header value of this file (patient name/ID/date from the DICOM
   header) is removed; an allow-list cannot save it.
3. ``allowlist``: text fully matching an allow pattern is kept (suppresses PHI-regex false positives
   and rare-but-harmless clinical words).
4. ``phi:<type>``: PHI-typed text (dates, IDs, names, ...) is removed whatever its frequency.
5. ``rare``: text or markers the scan marked ``is_rare`` are removed. K (``rare_max_images``) is a
   scan setting applied once, in :func:`ufmclean.rarity.is_rare`; the policy never re-decides it.
6. ``overlay``: DICOM overlay planes that carry text or marks are removed.
7. ``common``: everything else is kept.

"Removed" means the policy's ``action`` (``inpaint``, ``mask`` or ``flag`` = report only).
``low-confidence`` is added as an extra reason on text below ``low_confidence``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ufmclean.errors import UsageError
from ufmclean.phi import phi_type_parts
from ufmclean.records import Finding

RemoveAction = Literal["flag", "inpaint", "mask"]

#: PHI types the scan's typer may emit (``phi_type``); ``header`` marks a header-value match.
KNOWN_PHI_TYPES = ("name", "date", "time", "id", "age", "address", "phone", "email", "header", "other")

#: Common clinical words kept even when rare (full match, case-insensitive): the default allow-list.
DEFAULT_ALLOW = ("PORTABLE", "SEMI[- ]?UPRIGHT", "UPRIGHT", "SUPINE", "ERECT", "PRONE", "AP", "PA",
                 "LAT(ERAL)?", "DECUB(ITUS)?", "INSP(IRATION)?", "EXP(IRATION)?")


@dataclass(frozen=True, slots=True)
class Policy:
    """Decision and redaction settings (immutable; build with :func:`load_policy`)."""

    action: RemoveAction = "inpaint"
    remove_rare_text: bool = True
    remove_rare_markers: bool = True
    remove_phi: bool = True
    phi_types: tuple[str, ...] = KNOWN_PHI_TYPES
    remove_overlays: bool = True
    low_confidence: float = 0.4
    allow: tuple[str, ...] = DEFAULT_ALLOW
    deny: tuple[str, ...] = ()
    box_margin: int = 2
    dilate_px: int = 2
    inpaint_radius: int = 3
    residual_check: bool = True
    residual_margin: int = 6
    residual_similarity: float = 70.0

    def __post_init__(self) -> None:
        if self.action not in ("flag", "inpaint", "mask"):
            raise UsageError(f"policy action must be flag, inpaint or mask, not {self.action!r}")
        for name in ("box_margin", "dilate_px", "residual_margin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
                raise UsageError(f"policy {name} must be an integer between 0 and 64")
        if isinstance(self.inpaint_radius, bool) or not isinstance(self.inpaint_radius, int) or not 1 <= self.inpaint_radius <= 32:
            raise UsageError("policy inpaint_radius must be an integer between 1 and 32")
        for name in ("remove_rare_text", "remove_rare_markers", "remove_phi", "remove_overlays", "residual_check"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"policy {name} must be true or false")
        if not 0.0 <= float(self.low_confidence) <= 1.0:
            raise UsageError("policy low_confidence must be between 0 and 1")
        if not 0.0 <= float(self.residual_similarity) <= 100.0:
            raise UsageError("policy residual_similarity must be between 0 and 100")
        unknown = sorted(set(self.phi_types) - set(KNOWN_PHI_TYPES))
        if unknown:
            raise UsageError(f"policy phi_types has unknown entries {unknown}; known: {list(KNOWN_PHI_TYPES)}")
        for kind in ("allow", "deny"):
            for i, pattern in enumerate(getattr(self, kind)):
                try:
                    re.compile(pattern, re.IGNORECASE)
                except re.error as exc:
                    # The pattern itself is configuration, not recognised text; still, report position only.
                    raise UsageError(f"policy {kind}[{i}] is not a valid regular expression ({exc.msg})") from None

    def with_(self, **changes: Any) -> Policy:
        """Return a validated copy with ``changes`` applied (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings (for summary.json)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in dataclasses.fields(self)}


# The commented policy file: its values are filled in from ``Policy()``, so the dataclass is the one
# source of the defaults and ``--show-policy`` always prints what a run without --policy uses.
_POLICY_TOML_TEMPLATE = """\
# ufmclean sanitising policy. Every key is optional; unknown keys are an error.
[policy]
# What happens to findings that must go: "inpaint" (stroke-level OpenCV inpainting),
# "mask" (box filled with the local background value) or "flag" (report only, nothing written).
action = {action}
# Rare features (the scan's is_rare: carried by at most K images, K = --rare-max-images) are removed.
remove_rare_text = {remove_rare_text}
remove_rare_markers = {remove_rare_markers}
# PHI-typed text is removed whatever its frequency; header matches are always removed.
remove_phi = {remove_phi}
phi_types = {phi_types}
# Overlay planes (DICOM 60xx) carrying text or marks are removed from the written file.
remove_overlays = {remove_overlays}
# Text read with lower OCR confidence than this gets a "low-confidence" reason (still decided as usual).
low_confidence = {low_confidence}
# Regular expressions (Python syntax, case-insensitive). allow: full match of the whole text keeps it.
allow = {allow}
# deny: a match anywhere in the text removes it.
deny = {deny}

[redact]
# Extra pixels around each box searched for strokes, and dilation of the stroke mask.
box_margin = {box_margin}
dilate_px = {dilate_px}
inpaint_radius = {inpaint_radius}

[check]
# Re-OCR each redacted region (with this margin); text this similar (rapidfuzz 0-100) to what was
# removed escalates inpaint -> mask, and then holds the image back for review.
residual_check = {residual_check}
residual_margin = {residual_margin}
residual_similarity = {residual_similarity}
"""


def _toml_value(value: Any, indent: int) -> str:
    """One TOML value: booleans, numbers (``70.0`` as ``70``), strings, lists of strings wrapped at 100 columns."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, str):
        return json.dumps(value)
    lines, line = [], "["
    for i, item in enumerate(value):
        piece = json.dumps(item) + (", " if i < len(value) - 1 else "")
        if len(line) + len(piece) + indent > 100 and line != "[":
            lines.append(line.rstrip())
            line = " " * (indent + 1)
        line += piece
    return "\n".join([*lines, line + "]"])


def policy_toml(policy: Policy) -> str:
    """The commented policy file holding ``policy``'s values (``policy_toml(Policy())`` is the default file)."""
    values = {f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)}
    return _POLICY_TOML_TEMPLATE.format(**{k: _toml_value(v, len(k) + 3) for k, v in values.items()})


DEFAULT_POLICY_TOML = policy_toml(Policy())


_SECTIONS = {
    "policy": (
        "action", "remove_rare_text", "remove_rare_markers", "remove_phi", "phi_types",
        "remove_overlays", "low_confidence", "allow", "deny",
    ),
    "redact": ("box_margin", "dilate_px", "inpaint_radius"),
    "check": ("residual_check", "residual_margin", "residual_similarity"),
}


_K_NOT_POLICY = ("rare_max_images is not a policy setting: K is a scan setting (it sets is_rare in "
                 "findings.parquet, which the policy reads); remove it from the policy file and pass "
                 "--rare-max-images K (flow parameter rare_max_images)")


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """Build a :class:`Policy` from a parsed TOML document (sections ``policy``, ``redact``, ``check``).

    Raises :class:`UsageError` on unknown sections or keys and on invalid values.
    """
    values: dict[str, Any] = {}
    for section, table in data.items():
        if section not in _SECTIONS:
            raise UsageError(f"policy file has unknown section [{section}]; known: {sorted(_SECTIONS)}")
        if not isinstance(table, Mapping):
            raise UsageError(f"policy file entry {section!r} must be a table")
        for key, value in table.items():
            if key == "rare_max_images":
                raise UsageError(_K_NOT_POLICY)
            if key not in _SECTIONS[section]:
                raise UsageError(f"policy file has unknown key {key!r} in [{section}]; known: {list(_SECTIONS[section])}")
            values[key] = tuple(value) if isinstance(value, list) else value
    for key in ("allow", "deny", "phi_types"):
        if key in values and not all(isinstance(v, str) for v in values[key]):
            raise UsageError(f"policy {key} must be a list of strings")
    try:
        return Policy(**values)
    except TypeError as exc:  # pragma: no cover - guarded by the key check above
        raise UsageError(f"policy file is invalid: {exc}") from None


def default_policy() -> Policy:
    """The built-in policy, ``Policy()`` (what :data:`DEFAULT_POLICY_TOML` says), usable by a hospital as it is."""
    return Policy()


def load_policy(path: str | Path | None = None, **overrides: Any) -> Policy:
    """Load a policy: the defaults, then the TOML file at ``path`` (if any), then ``overrides``.

    ``overrides`` are CLI flags; ``None`` values mean "not given". K is not among them: it is a scan
    setting (see :func:`ufmclean.rarity.is_rare`). Raises :class:`UsageError` when the
    file is missing, is not TOML, or holds invalid settings.
    """
    policy = default_policy()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"policy file {p} does not exist; pass an existing TOML file to --policy")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"policy file {p} is not valid TOML ({exc}); see `ufmclean sanitize --help`") from None
        file_policy = policy_from_mapping(data)
        given = {k for table in data.values() if isinstance(table, Mapping) for k in table}
        policy = policy.with_(**{k: getattr(file_policy, k) for k in given})
    return policy.with_(**overrides)


def _phi_tokens(phi_type: str) -> list[str]:
    """The known PHI types of a scan ``phi_type`` (:func:`ufmclean.phi.phi_type_parts`).

    A non-empty type with no known word (e.g. ``"dob"``) becomes ``"other"``: unknown PHI is still PHI.
    """
    words = phi_type_parts(phi_type)
    if not words:
        return []
    return [t for t in words if t in KNOWN_PHI_TYPES] or ["other"]


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def decide_one(finding: Finding, policy: Policy) -> Finding:
    """Return ``finding`` with ``action`` and ``reasons`` set by ``policy`` (the input is not changed)."""
    allow, deny = _compiled(policy.allow), _compiled(policy.deny)
    remove = policy.action
    reasons: list[str] = []
    action: str | None = None
    text = " ".join(finding.text.split())

    if finding.kind == "overlay":
        if policy.remove_overlays:
            return finding.with_(action=remove, reasons=("overlay",))
        return finding.with_(action="keep", reasons=("overlay", "policy-keeps-overlays"))

    if finding.kind == "text":
        if text and any(p.search(text) for p in deny):
            action, reasons = remove, ["denylist"]
        tokens = _phi_tokens(finding.phi_type)
        if "header" in tokens and policy.remove_phi and "header" in policy.phi_types:
            action = action or remove
            reasons.append("header-match")
        if action is None and text and any(p.fullmatch(text) for p in allow):
            action, reasons = "keep", ["allowlist"]
        if action != "keep" and policy.remove_phi:
            phi = [t for t in tokens if t != "header" and t in policy.phi_types]
            if phi:
                action = action or remove
                reasons.extend(f"phi:{t}" for t in dict.fromkeys(phi))
        if action != "keep" and finding.is_rare and policy.remove_rare_text:
            action = action or remove
            reasons.append("rare")
        if finding.confidence < policy.low_confidence:
            reasons.append("low-confidence")
    elif finding.kind == "marker":
        if finding.is_rare and policy.remove_rare_markers:
            action, reasons = remove, ["rare"]
    else:
        raise ValueError(f"finding {finding.finding_id} has unknown kind {finding.kind!r}")

    if action is None:
        action = "keep"
        reasons.insert(0, "common")
    return finding.with_(action=action, reasons=tuple(reasons))


def decide(findings: Iterable[Finding], policy: Policy) -> list[Finding]:
    """Map every finding to ``keep | flag | inpaint | mask`` with reasons (pure; inputs unchanged).

    Parameters
    ----------
    findings : iterable of Finding
        Scan findings with ``doc_freq``/``is_rare``/``phi_type`` filled in.
    policy : Policy
        Settings from :func:`load_policy`.

    Returns
    -------
    list of Finding
        New records, same order, with ``action`` and ``reasons`` (tuple of reason tags) set.
    """
    if not isinstance(policy, Policy):
        raise TypeError("decide() needs a ufmclean.policy.Policy")
    return [decide_one(f, policy) for f in findings]


def summarize_decisions(findings: Iterable[Finding]) -> dict[str, dict[str, int]]:
    """Counts by kind, action and reason (PHI-free: no text) for summaries and logs."""
    by_kind: Counter[str] = Counter()
    by_action: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    for f in findings:
        by_kind[f.kind] += 1
        by_action[f.action] += 1
        by_reason.update(f.reasons)
    return {"by_kind": dict(by_kind), "by_action": dict(by_action), "by_reason": dict(by_reason)}


def is_removal(action: str) -> bool:
    """True for actions that change pixels (``inpaint``/``mask``)."""
    return action in ("inpaint", "mask")
