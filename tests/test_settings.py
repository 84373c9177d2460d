"""Settings: one validator for CLI and Python, unknown keys with suggestions, ranges."""

from __future__ import annotations

import subprocess
import sys

import pytest

from yolokd.cfg import KD_DEFAULTS, SettingsError, check_kd_settings, split_settings


def test_every_setting_left_out_is_its_default():  # which defaults: tests/test_decide.py (the benchmark decides)
    assert check_kd_settings({"kd_method": "none"}) == {**KD_DEFAULTS, "kd_method": "none"}


def test_cli_strings_are_typed(teacher):
    kd = check_kd_settings({"teacher": str(teacher), "kd_tau": "2", "kd_spatial_kernel": "3"})
    assert kd["kd_tau"] == 2.0 and isinstance(kd["kd_tau"], float)
    assert kd["kd_spatial_kernel"] == 3 and isinstance(kd["kd_spatial_kernel"], int)


@pytest.mark.parametrize(
    ("key", "close"), [("kd_tua", "kd_tau"), ("kd_metod", "kd_method"), ("epoch", "epochs"), ("lr", None)]
)
def test_unknown_key_suggests(key, close):
    with pytest.raises(SettingsError, match=f"'{key}' is not a valid") as e:
        split_settings({key: 1, "kd_method": "none"})
    if close:
        assert f"'{close}'" in str(e.value)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"kd_tau": 0}, "must be > 0"),
        ({"kd_tau": -1}, "must be > 0"),
        ({"kd_weight": -0.1}, "must be >= 0"),
        ({"kd_method": "fgd"}, "choose one of: none, cwd, cwd_attn, response, native"),
        ({"kd_norm": "batch"}, "choose one of: none, channel"),
        ({"kd_schedule": "linear"}, "choose one of: constant, cosine"),
        ({"kd_stop": 1.0}, r"must be in \[0, 1\)"),
        ({"kd_stop": -0.1}, r"must be in \[0, 1\)"),
        ({"kd_cls": -1}, "'kd_cls=-1.0' must be >= 0"),
        ({"kd_box": -1}, "'kd_box=-1.0' must be >= 0"),
        ({"kd_box_tau": 0}, "'kd_box_tau=0.0' must be > 0"),
        ({"kd_score_tau": 0}, "'kd_score_tau=0.0' must be > 0"),
        ({"kd_method": "response"}, "set kd_cls=1 and/or kd_box=1"),
        ({"kd_method": "native", "kd_cls": 1}, "not to kd_method=native"),
        ({"kd_method": "pseudo", "unlabeled": ".", "kd_box": 1}, "not to kd_method=pseudo"),
        ({"kd_attn_mode": "both"}, "choose one of"),
        ({"kd_spatial_kernel": 4}, "odd"),
        ({"kd_tau": "abc"}, "must be of type float"),
    ],
)
def test_bad_values(bad, match):
    with pytest.raises(SettingsError, match=match):
        check_kd_settings({"kd_method": "none", **bad})


def test_teacher_required_and_must_exist(tmp_path):
    with pytest.raises(SettingsError, match="needs 'teacher="):
        check_kd_settings({"kd_method": "cwd"})
    with pytest.raises(SettingsError, match="not an existing .pt file"):
        check_kd_settings({"kd_method": "cwd", "teacher": str(tmp_path / "missing.pt")})
    with pytest.raises(SettingsError, match="not an existing .pt file"):
        check_kd_settings({"kd_method": "cwd", "teacher": str(tmp_path / "teacher.yaml")})
    # a bare name is Ultralytics' to find or download where the teacher is loaded (tests/test_env.py)
    assert check_kd_settings({"kd_method": "cwd", "teacher": "yolov8l.pt"})["teacher"] == "yolov8l.pt"


def test_a_recipe_fills_in_what_is_not_given():
    from yolokd.cfg import RECIPES, with_recipe

    paper = with_recipe({"recipe": "paper", "data": "d.yaml"})
    assert paper == {**RECIPES["paper"], "data": "d.yaml"} and paper["kd_method"] == "cwd_attn"
    mine = with_recipe({"recipe": "paper", "kd_method": "none", "lr0": 0.01})  # explicit arguments win
    assert (mine["kd_method"], mine["lr0"], mine["optimizer"]) == ("none", 0.01, "Adam")
    sgd = with_recipe({"recipe": "paper", "optimizer": "SGD"})  # the recipe's lr0 and momentum were Adam's
    assert sgd["optimizer"] == "SGD" and "lr0" not in sgd and "momentum" not in sgd and sgd["kd_tau"] == 0.5
    plain = with_recipe({"lr0": 0.01})
    assert plain == with_recipe({"recipe": None, "lr0": 0.01}) == {**RECIPES["default"], "lr0": 0.01}
    with pytest.raises(SettingsError, match="recipe=mine is not known; choose one of: default, paper"):
        with_recipe({"recipe": "mine"})
    with pytest.raises(SettingsError, match="resume continues a run with its own settings; drop recipe=paper"):
        with_recipe({"recipe": "paper", "resume": True})
    assert with_recipe({"resume": True, "model": "last.pt"}) == {"resume": True, "model": "last.pt"}


def test_ultralytics_values_checked_too():
    with pytest.raises(SettingsError, match="lr0"):
        split_settings({"kd_method": "none", "lr0": "fast"})


def test_native_names_reserved():
    with pytest.raises(SettingsError, match="kd_method=native"):
        split_settings({"kd_method": "cwd", "distill_model": "t.pt"})


def test_missing_data_yaml(tmp_path):
    with pytest.raises(SettingsError, match="data '.*' not found"):
        split_settings({"kd_method": "none", "data": str(tmp_path / "nope.yaml")})


def test_cli_bad_setting_exits_2_with_message(data):
    cmd = [sys.executable, "-m", "yolokd.cli", "train", "model=yolov8n.yaml", f"data={data}", "kd_tua=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "'kd_tua' is not a valid" in r.stderr and "kd_tau" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_help_and_settings():
    r = subprocess.run([sys.executable, "-m", "yolokd.cli", "settings"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and f"kd_tau: {KD_DEFAULTS['kd_tau']} # (float)" in r.stdout
    r = subprocess.run([sys.executable, "-m", "yolokd.cli", "help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "usage: yolokd" in r.stdout


def test_without_ultralytics_the_fix_installs_a_supported_release(monkeypatch):
    import importlib.util

    from yolokd import cfg
    from yolokd._compat import ULTRALYTICS

    lo, hi = (".".join(map(str, v)) for v in ULTRALYTICS)
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ultralytics" else find(name, *a))
    cfg.ultralytics_defaults.cache_clear()
    try:
        with pytest.raises(SettingsError, match=f'pip install "ultralytics>={lo},<={hi}"'):
            cfg.ultralytics_defaults()
    finally:
        cfg.ultralytics_defaults.cache_clear()


def test_unlabeled_settings(tmp_path, teacher, monkeypatch):
    """unlabeled= needs a method that learns from it and an existing folder or list with images; its ratio and
    weight are >= 0; pseudo needs it; the path is stored absolute."""
    from yolokd.data.unlabeled import list_unlabeled

    ok = {"teacher": str(teacher)}
    with pytest.raises(SettingsError, match="not a folder or a .txt list"):
        check_kd_settings({**ok, "unlabeled": str(tmp_path / "missing")})
    with pytest.raises(SettingsError, match="needs a method that learns from them"):
        check_kd_settings({"kd_method": "none", "unlabeled": str(tmp_path)})
    with pytest.raises(SettingsError, match="needs a method that learns from them"):
        check_kd_settings({**ok, "kd_method": "native", "unlabeled": str(tmp_path)})
    with pytest.raises(SettingsError, match="pass unlabeled=DIR"):
        check_kd_settings({**ok, "kd_method": "pseudo"})
    for key in ("unlabeled_ratio", "kd_unlabeled"):
        with pytest.raises(SettingsError, match=f"'{key}=-1.0' must be >= 0"):
            check_kd_settings({**ok, key: -1})
    with pytest.raises(SettingsError, match=r"must be in \(0, 1\)"):
        check_kd_settings({**ok, "kd_method": "pseudo", "unlabeled": str(tmp_path), "pseudo_conf": 0})
    empty = tmp_path / "frames"
    empty.mkdir()
    (empty / "notes.md").write_text("not an image")
    monkeypatch.chdir(tmp_path)
    assert check_kd_settings({**ok, "unlabeled": "frames"})["unlabeled"] == str(empty.resolve())
    with pytest.raises(SettingsError, match="holds no images"):
        list_unlabeled(empty)
    listing = tmp_path / "list.txt"
    listing.write_text("")
    with pytest.raises(SettingsError, match="holds no images"):
        list_unlabeled(listing)
