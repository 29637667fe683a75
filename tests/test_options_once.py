"""Options are declared once, in the library's dataclasses; the CLI flags and the flow's settings
take their defaults from them. These tests fail when a flag or setting names no library option, or
when its default or its choices differ from the library's."""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any, get_args

import click
import pytest
import typer

from ufmclean.cli.main import build_app
from ufmclean.devices import DEVICES
from ufmclean.ocr import ENGINES
from ufmclean.pipeline.sanitize import HEADER_MODES, SanitizeOptions
from ufmclean.pipeline.scan import STRATEGIES, ScanOptions
from ufmclean.policy import DEFAULT_POLICY_TOML, Policy, RemoveAction, default_policy, policy_from_mapping
from ufmclean.rarity import RarityOptions

LIBRARY = {"scan": ScanOptions(), "sanitize": SanitizeOptions(), "policy": Policy()}
#: Flags and settings that are wiring, not stage options (folders, workers, exit-code rules, files).
WIRING = {"input_dir", "out", "workers", "labels", "labels_csv", "fail_on", "policy_file", "rescan", "show_policy"}
#: Which options a sanitize flag or flow setting gives: sanitize's own, else the scan's, else the policy's.
OWNERS = ("sanitize", "scan", "policy")


def _params(command: str) -> dict[str, click.Parameter]:
    cmd = typer.main.get_command(build_app()).commands[command]  # type: ignore[attr-defined]
    return {p.name: p for p in cmd.params if p.name}


def _owner(name: str, owners: tuple[str, ...]) -> str:
    found = [o for o in owners if any(f.name == name for f in dataclasses.fields(LIBRARY[o]))]
    assert found, f"{name!r} is neither wiring nor an option of {owners}"
    return found[0]


def _check_default(name: str, default: Any, owners: tuple[str, ...]) -> None:
    owner = _owner(name, owners)
    if default is not None:  # None: "not given" (the scan's, the policy file's or the library default)
        assert default == getattr(LIBRARY[owner], name), f"{name}: default {default!r} != {owner}'s"


def test_scan_flags_are_scan_options_with_their_defaults() -> None:
    params = _params("scan")
    assert {"rare_max_images", "engine", "strategy", "markers", "batch_size", "max_pixels", "device"} <= set(params)
    for name, p in params.items():
        if name not in WIRING:
            assert p.default is not None, name
            _check_default(name, p.default, ("scan",))


def test_sanitize_flags_are_library_options_with_their_defaults() -> None:
    for name, p in _params("sanitize").items():
        if name not in WIRING:
            _check_default(name, p.default, OWNERS)


def test_flow_settings_are_library_options_with_their_defaults() -> None:
    from flows.options import SanitizeSettings

    for name, info in SanitizeSettings.model_fields.items():
        if name not in WIRING:
            _check_default(name, info.default, OWNERS)
    cli = {n for n in _params("sanitize") if n not in WIRING} | {"labels_csv", "policy_file", "rescan"}
    flow = set(SanitizeSettings.model_fields) | {"action", "rare_max_images"}  # those two are flow parameters
    assert cli ^ flow <= {"labels", "residual_check"}, "the CLI and the flow offer different sanitize options"


def test_flow_choices_are_the_library_choices() -> None:
    from flows.options import Action, Device, SanitizeSettings

    fields = SanitizeSettings.model_fields
    assert get_args(Device) == DEVICES
    assert set(get_args(Action)) == set(get_args(RemoveAction))
    assert get_args(get_args(fields["engine"].annotation)[0]) == ENGINES
    assert get_args(get_args(fields["strategy"].annotation)[0]) == STRATEGIES
    assert get_args(fields["header"].annotation) == HEADER_MODES


def test_scan_rarity_defaults_are_the_rarity_stage_defaults() -> None:
    rarity, scan = RarityOptions(), ScanOptions()
    assert scan.rarity() == rarity


def test_policy_defaults_have_one_source() -> None:
    parsed = policy_from_mapping(tomllib.loads(DEFAULT_POLICY_TOML))
    assert parsed == Policy() == default_policy()
    assert Policy().allow, "the default allow-list is part of Policy()"


@pytest.mark.parametrize("changed", [{"action": "mask"}, {"allow": ("FOO", "BAR BAZ")}, {"residual_similarity": 82.5}])
def test_policy_file_text_round_trips(changed: dict[str, Any]) -> None:
    from ufmclean.policy import policy_toml

    policy = Policy().with_(**changed)
    assert policy_from_mapping(tomllib.loads(policy_toml(policy))) == policy


#: Verify flags whose parameter name differs from the VerifyOptions field they give.
VERIFY_FLAG_FIELDS = {"gradcam": "gradcam_images", "max_drop": "max_accuracy_drop", "labels": "labels_csv",
                      "ood": "ood_dir"}


def test_verify_flags_and_flow_settings_are_verify_options_with_their_defaults() -> None:
    from flows.options import VerifySettings
    from ufmclean.verify.run import VerifyOptions

    library = VerifyOptions()
    fields = {f.name for f in dataclasses.fields(VerifyOptions)}
    for name, p in _params("verify").items():
        if name in ("original", "sanitized", "out"):
            continue
        field = VERIFY_FLAG_FIELDS.get(name, name)
        assert field in fields, f"verify flag {name!r} gives no VerifyOptions field"
        assert p.default == getattr(library, field), f"verify flag {name}: {p.default!r} != {getattr(library, field)!r}"
    for name, info in VerifySettings.model_fields.items():
        assert name in fields, f"flow verify setting {name!r} is no VerifyOptions field"
        assert info.default == getattr(library, name), f"flow verify setting {name}: default differs"
