"""The README and docs/ stay true to the code: the settings page lists default.yaml, and no relative link is broken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from yolokd.cfg import DEFAULT_YAML, KD_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
if not (DOCS.is_dir() and (ROOT / "README.md").is_file()):
    pytest.skip("README.md and docs/ are part of the source tree, not of the wheel", allow_module_level=True)

PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
YAML_LINE = re.compile(r"^(\w+):\s*(.*?)\s*#\s*\((\w+)\)\s*(\S.*)$")


def _prose(text: str) -> str:
    """``text`` without its fenced code blocks, where brackets and hashes are code, not links and headings."""
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*$", _prose(path.read_text(encoding="utf-8")), flags=re.M)
    seen: dict[str, int] = {}
    out = set()
    for h in headings:
        s = _slug(h)
        out.add(f"{s}-{seen[s]}" if s in seen else s)  # GitHub numbers repeated headings
        seen[s] = seen.get(s, 0) + 1
    return out


def _relative_links(path: Path) -> list[str]:
    links = LINK.findall(_prose(path.read_text(encoding="utf-8")))
    return [t for t in links if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]  # http:, https:, mailto: are not files


def _yaml_settings() -> dict[str, tuple[str, str, str]]:
    """key -> (default as written, type, meaning), from the comments of default.yaml."""
    out = {}
    for line in DEFAULT_YAML.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            m = YAML_LINE.match(line)
            assert m, f"default.yaml line not in its own format 'key: default # (type) meaning': {line!r}"
            out[m[1]] = (m[2], m[3], m[4])
    return out


def _settings_rows() -> list[list[str]]:
    """The cells of each row of the table headed | key | default | type | meaning | in docs/settings.md."""
    lines = (DOCS / "settings.md").read_text(encoding="utf-8").splitlines()
    header = re.compile(r"\|\s*key\s*\|\s*default\s*\|\s*type\s*\|\s*meaning\s*\|")
    head = [i for i, line in enumerate(lines) if header.fullmatch(line)]
    assert len(head) == 1, "docs/settings.md needs one table headed | key | default | type | meaning |"
    rows = []
    for line in lines[head[0] + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _default(cell: str):
    """A default cell's value: — is no default (None), else the backticked text read as YAML reads it."""
    if cell == "—":
        return None
    assert cell.startswith("`") and cell.endswith("`"), f"default {cell!r} should be `value` or —"
    return yaml.safe_load(cell.strip("`"))


def test_default_yaml_comments_describe_every_setting():
    assert list(_yaml_settings()) == list(KD_DEFAULTS)


def test_settings_page_lists_exactly_the_settings_of_default_yaml():
    documented = _yaml_settings()
    rows = _settings_rows()
    keys = [row[0].strip("`") for row in rows]
    assert len(keys) == len(set(keys)), f"settings listed twice: {sorted(k for k in keys if keys.count(k) > 1)}"
    missing, unknown = sorted(set(KD_DEFAULTS) - set(keys)), sorted(set(keys) - set(KD_DEFAULTS))
    assert not missing and not unknown, f"docs/settings.md lacks {missing}, lists unknown {unknown}"
    for key, default, kind, meaning in rows:
        key = key.strip("`")
        value = _default(default)
        assert value == KD_DEFAULTS[key] and type(value) is type(KD_DEFAULTS[key]), (
            f"docs/settings.md gives {key} the default {default}; default.yaml has {KD_DEFAULTS[key]!r}"
        )
        yaml_kind = documented[key][1]
        assert kind == yaml_kind, f"docs/settings.md gives {key} the type {kind}; default.yaml {yaml_kind}"
        assert meaning, f"docs/settings.md gives {key} no meaning"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files_and_headings(page):
    broken = []
    for target in _relative_links(page):
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_readme_links_every_docs_page():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _relative_links(ROOT / "README.md")}
    missing = [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert not missing, f"README.md's Documentation list does not link {missing}"


def test_readme_opens_with_make_demo_and_make_test():
    first_block = re.search(r"^```\w*\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.M | re.S)
    commands = [line.split("#")[0].strip() for line in first_block[1].splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]
