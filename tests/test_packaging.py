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


def test_release_numbers_are_read_from_each_parts_leading_digits():
    from yolokd._compat import _parse, check_ultralytics

    assert _parse("8.4.190rc1") == _parse("8.4.190.post1") == (8, 4, 190)  # not 1901
    assert _parse("8.4.17a0") == (8, 4, 17)  # not 170
    check_ultralytics("8.4.170")
    with pytest.raises(ImportError, match="8.4.17a0 is installed"):
        check_ultralytics("8.4.17a0")


def test_the_lock_pins_the_versions_the_benchmarks_name():
    lock = ROOT / "constraints.txt"
    if not lock.is_file():
        pytest.skip("constraints.txt is part of the source tree, not of the wheel")
    pins = dict(line.split("==") for line in lock.read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert (pins["torch"], pins["torchvision"], pins["ultralytics"]) == ("2.14.1", "0.29.1", "8.4.190")


def test_pip_settings_reach_uv():
    """The Makefile installs with uv, which ignores pip.conf: tools/pip2uv.py must carry what pip would use."""
    import importlib.util

    path = ROOT / "tools" / "pip2uv.py"
    if not path.is_file():
        pytest.skip("tools/ is part of the source tree, not of the wheel")
    spec = importlib.util.spec_from_file_location("pip2uv", path)
    pip2uv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pip2uv)
    listing = (
        ":env:.find-links='/opt/wheels'\n"
        "global.constraint='/etc/xdg/pip/constraints.txt'\n"
        "global.extra-index-url='file:///a/simple file:///b/simple'\n"
        "global.find-links='/opt/wheels'\n"
        "global.cert='/etc/ssl/certs/ca.crt'\n"
    )
    assert pip2uv.uv_flags(pip2uv.parse(listing)) == [
        "--find-links=/opt/wheels",  # listed twice by pip (file and environment), passed once
        "--constraint=/etc/xdg/pip/constraints.txt",
        "--extra-index-url=file:///a/simple",
        "--extra-index-url=file:///b/simple",
        "--index-strategy=unsafe-best-match",  # pip takes the best version across all indexes
    ]
    assert pip2uv.uv_flags(pip2uv.parse("")) == []  # a plain machine: uv's own defaults
    assert "--build-constraints=/etc/xdg/pip/constraints.txt" in pip2uv.uv_flags(pip2uv.parse(listing), "build")
    multi = "global.find-links='\\n/wheels/a\\n/wheels/b'\nglobal.no-index='true'\n"  # a multi-line pip.conf value
    assert pip2uv.uv_flags(pip2uv.parse(multi)) == ["--find-links=/wheels/a", "--find-links=/wheels/b", "--no-index"]
