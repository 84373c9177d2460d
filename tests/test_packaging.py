"""Packaging promises: one version number, the supported ranges declared where pip and yolokd read them."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

import yolokd
from yolokd._compat import ULTRALYTICS

ROOT = Path(__file__).resolve().parents[1]


def test_one_version_number_and_its_changelog_entry():
    assert metadata.version("yolokd") == yolokd.__version__  # pyproject reads it from yolokd/__init__.py
    changelog = ROOT / "CHANGELOG.md"
    if changelog.is_file():  # absent when the suite runs from an installed wheel
        assert f"## {yolokd.__version__} — " in changelog.read_text(encoding="utf-8")


def test_declared_requirements_are_the_range_checked_at_import():
    lo, hi = (".".join(map(str, v)) for v in ULTRALYTICS)
    requires = {r.split(">")[0].split("<")[0].split("=")[0]: r for r in metadata.requires("yolokd") or []}
    assert requires["ultralytics"].replace(" ", "") in (f"ultralytics<={hi},>={lo}", f"ultralytics>={lo},<={hi}")
    assert "==" not in requires["torch"] and "==" not in requires["torchvision"]  # ranges; the lock is elsewhere


def test_the_lock_pins_the_versions_the_benchmarks_name():
    lock = ROOT / "constraints.txt"
    if not lock.is_file():
        pytest.skip("constraints.txt is part of the source tree, not of the wheel")
    pins = dict(line.split("==") for line in lock.read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert (pins["torch"], pins["torchvision"], pins["ultralytics"]) == ("2.14.1", "0.29.1", "8.4.190")
