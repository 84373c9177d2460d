"""The layout keeps its promises: one registry of methods that every part reads, dependencies that point down
(pure-torch blocks import neither Ultralytics nor the settings), and no import cycle."""

from __future__ import annotations

import ast
import dataclasses
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import yolokd
from yolokd import methods
from yolokd.cfg import DEFAULT_YAML, KD_DEFAULTS, SettingsError, check_kd_settings, setting_type

SRC = Path(yolokd.__file__).parent
PURE = ("losses", "attention", "connectors")  # packages of pure-torch blocks
PURE_MODULES = ("recorder", "distiller", "criterion", "distributed", "methods")


def test_default_yaml_documents_exactly_the_registered_settings_with_their_types():
    assert set(KD_DEFAULTS) == methods.registered_keys()
    documented = dict(re.findall(r"^(\w+):.*?# \((\w+)\)", DEFAULT_YAML.read_text(), flags=re.M))
    assert set(documented) == set(KD_DEFAULTS)
    assert {k: setting_type(k).__name__ for k in KD_DEFAULTS} == documented


def _pure_modules() -> list[str]:
    names = [f"yolokd.{m}" for m in PURE_MODULES]
    for package in PURE:
        names.append(f"yolokd.{package}")
        names += [f"yolokd.{package}.{m.name}" for m in pkgutil.iter_modules([str(SRC / package)])]
    return names


def test_pure_torch_modules_import_neither_ultralytics_nor_the_settings():
    """All of them in one fresh interpreter: what their imports load together is the union of what each loads."""
    modules = _pure_modules()
    assert "yolokd.connectors.attention" in modules and "yolokd.losses.schedule" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith('ultralytics') or m == 'yolokd.cfg'))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The yolokd modules ``module`` (at ``path``) imports anywhere in its code, lazy and type-only ones included."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else ".".join(module.split(".")[: -node.level] + [node.module])
            subs = {f"{base}.{a.name}" for a in node.names} & known  # `from yolokd import fingerprint`
            out |= subs or ({base} & known)
    return out - {module}


def test_no_module_is_in_an_import_cycle():
    files = {
        ".".join(("yolokd", *p.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__"): p
        for p in SRC.rglob("*.py")
    }
    graph = {m: _imports(p, m, set(files)) for m, p in files.items()}
    graph["yolokd"] = set()  # its lazy __getattr__ serves distill and DistillationTrainer; nothing imports back

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for m in sorted(graph) if (c := cycle_from(m))]
    assert not cycles, " -> ".join(cycles[0])


class ToyTerm(nn.Module):
    """A new term for the registry test: the squared difference of the first levels' means."""

    needs_head = False

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, student, teacher) -> torch.Tensor:
        return self.scale * (student.feats[0].mean() - teacher.feats[0].mean()) ** 2


@pytest.fixture
def toy_term(monkeypatch):
    """``kd_toy`` (weight) and ``kd_toy_scale`` added as a new term would be: one Term in the registry, listed by
    the cwd method, and its two lines in default.yaml (here: KD_DEFAULTS). Nothing else is edited."""
    term = methods.Term(
        "kd_toy", "toy", "kd_toy", ("kd_toy_scale",), lambda kd, levels: ToyTerm(kd["kd_toy_scale"]), optional=True
    )
    monkeypatch.setitem(methods.TERMS, "kd_toy", term)
    cwd = methods.METHODS["cwd"]
    monkeypatch.setitem(methods.METHODS, "cwd", dataclasses.replace(cwd, terms=(*cwd.terms, "kd_toy")))
    monkeypatch.setitem(KD_DEFAULTS, "kd_toy", 0.0)
    monkeypatch.setitem(KD_DEFAULTS, "kd_toy_scale", 1.0)


def test_a_term_added_to_the_registry_appears_everywhere(toy_term):
    from test_distiller import S_CH, T_CH, outputs

    from yolokd.compare.args import parse_methods
    from yolokd.distiller import build_distiller

    assert methods.registered_keys() == set(KD_DEFAULTS)  # documented (default.yaml) = registered
    kd = check_kd_settings({"kd_method": "cwd", "kd_toy": "2", "kd_toy_scale": "3"}, require_teacher=False)
    assert (kd["kd_toy"], kd["kd_toy_scale"]) == (2.0, 3.0)  # typed by the validator
    with pytest.raises(SettingsError, match="kd_toy=-1.0' must be >= 0"):
        check_kd_settings({"kd_method": "cwd", "kd_toy": -1}, require_teacher=False)
    d = build_distiller(kd, S_CH, T_CH, reg_max=4)
    assert list(d.terms) == ["kd_cwd", "kd_toy"] and d.weights["kd_toy"] == 2.0
    s, t = outputs(S_CH, 0), outputs(T_CH, 1)
    parts = d(s, t)
    expected = 2.0 * 3.0 * (s.feats[0].mean() - t.feats[0].mean()) ** 2
    assert torch.allclose(parts["kd_toy"], expected)  # a loss column of its own, weighted
    assert "kd_toy" not in build_distiller(check_kd_settings({"kd_method": "cwd"}, False), S_CH, T_CH).terms
    assert {"kd_toy", "kd_toy_scale"} <= set(methods.relevant("cwd"))  # records compare it
    assert "kd_toy" not in methods.relevant("cwd_attn")
    assert dict(parse_methods("cwd@kd_toy=2"))["cwd@kd_toy=2"]["kd_toy"] == 2.0  # compare takes it per row
    assert not methods.needs_head(kd)


def test_records_refuse_a_run_made_with_another_value_of_a_new_term(toy_term, tmp_path):
    from yolokd.records import check_kd_defaults

    (tmp_path / "args.yaml").write_text(
        f"kd_method: cwd\nkd_toy: 2.0\nkd_toy_scale: 1.0\nkd_weight: {KD_DEFAULTS['kd_weight']}\n"
    )
    check_kd_defaults(tmp_path, {"kd_method": "cwd", "kd_toy": 2.0})  # the same settings: reused
    with pytest.raises(SettingsError, match=r"kd_toy: 2.0 -> 1.0"):
        check_kd_defaults(tmp_path, {"kd_method": "cwd", "kd_toy": 1.0})


@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_the_registry_and_the_built_modules_agree_on_the_teachers_head(method):
    """Whether the teacher's head must run is read from the registry before the distiller exists (the class
    check) and from the built terms afterwards (the teacher runner): both must say the same."""
    from test_distiller import S_CH, T_CH

    from yolokd.distiller import build_distiller

    extra = {"kd_cls": 1.0} if method == "response" else {"unlabeled": "."} if method == "pseudo" else {}
    for attn in ("student", "score"):
        for cls in (0.0, 1.0):
            if method in ("native", "pseudo") and cls:
                continue
            kd = check_kd_settings(
                {**extra, "kd_method": method, "kd_attn_mode": attn, "kd_cls": extra.get("kd_cls", cls)}, False
            )
            assert build_distiller(kd, S_CH, T_CH).needs_head == methods.needs_head(kd), (method, attn, cls)
