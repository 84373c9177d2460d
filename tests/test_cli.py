"""The command line a newcomer types first: errors before any heavy import, per-mode help, version, settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from yolokd.cfg import KD_DEFAULTS

YOLOKD = str(Path(sys.executable).with_name("yolokd"))

FAST = """
import sys
from yolokd.cli import main
rc = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "ultralytics", "cv2", "numpy") if m in sys.modules)
print("HEAVY", heavy)
sys.exit(rc)
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "kd_tua=1", "data=x.yaml"], "Did you mean 'kd_tau'"),
        (["train", "kd_method=none"], "yolokd train needs data=path/to/data.yaml"),
        (["train", "data={data}"], f"kd_method={KD_DEFAULTS['kd_method']} needs 'teacher=path/to/teacher.pt'"),
        (["train", "data={data}", "kd_method=none", "kd_stop=2"], "must be in [0, 1)"),
        (["train", "data={data}", "kd_method=none", "kd_precision=half"], "choose one of: amp, fp32, bf16, fp16"),
        (["train", "data=missing.yaml", "kd_method=none"], "data 'missing.yaml' not found"),
        (["train", "resume"], "resume needs the run to continue"),
        (["train", "data={data}", "recipe=mine"], "recipe=mine is not known"),
        (["train", "resume", "model=x.pt", "recipe=paper"], "drop recipe=paper"),
        (["train", "--help"], "usage: yolokd train"),
        (["compare", "data={data}", "teacher=t.pt", "methods=cwd@kd_tua=1"], "Did you mean 'kd_tau'"),
        (["compare", "data={data}", "teacher=t.pt", "epoch=3"], "Did you mean 'epochs'"),
        (["compare", "data={data}", "teacher=t.pt", "methods=cwd@dis=3"], "only native takes it"),
        (["compare", "data={data}", "teacher=t.pt", "methods=native@dis=0"], "must be a number > 0"),
        (["compare", "data={data}", "teacher=t.pt", "dis=3"], "in yolokd compare, per row: methods=none,native@dis=3"),
        (["compare", "data={data}"], "yolokd compare needs teacher="),
        (["compare", "data={data}", "teacher=t.pt", "seeds=0"], "seeds=0 is a count; seeds=1 runs seed 0 alone"),
        (["compare", "data={data}", "teacher=t.pt", "folds=3"], "one teacher per fold"),
        (["compare", "data={data}", "teacher=t.pt", "score=first"], "score=first is not valid; choose one of: auto"),
        (["demo", "epoch=3"], "Did you mean 'epochs'"),
        (["demo", "name=x", "project=p"], "yolokd demo sets project=, name= itself"),
        (["yolokd", "help"], "unknown mode 'yolokd'"),
        (["settings", "kd_tua"], "Did you mean 'kd_tau'"),
        (["data", "foo", "out=x"], "unknown dataset 'foo'; use 'yolokd data trees|pretrained|voc|template|frames"),
        (["data", "voc", "out=x"], "yolokd data voc needs annotations=DIR"),
        (["data", "template", "out=x"], "yolokd data template needs name=pothole|safety|scooter"),
        (["data", "trees", "out=x", "bogus=1"], "yolokd data trees does not take bogus; it takes cache, out, wheel"),
        (["data", "frames", "out=x"], "yolokd data frames needs source=VIDEO or source=FOLDER"),
        (
            ["data", "frames", "source=v.mp4", "out=x", "step=2"],
            "does not take step; it takes dedup, every, out, source",
        ),
        (["attention", "model=m.pt"], "yolokd attention needs source= and out="),
    ],
)
def test_errors_and_help_answer_before_torch_or_ultralytics_is_imported(args, message, data):
    args = [a.format(data=data) for a in args]
    r = subprocess.run([sys.executable, "-c", FAST, *args], capture_output=True, text=True, timeout=120)
    assert message in r.stdout + r.stderr, r.stdout + r.stderr
    assert "HEAVY []" in r.stdout, r.stdout  # nothing heavy was imported to give this answer
    assert r.returncode == (0 if "--help" in args else 2)
    assert "Traceback" not in r.stderr


def test_per_mode_help_version_and_one_setting():
    run = lambda *a: subprocess.run([YOLOKD, *a], capture_output=True, text=True, timeout=60)  # noqa: E731
    for mode in ("train", "compare", "data", "attention"):
        for flag in ("help", "--help", "-h"):
            r = run(mode, flag)
            assert r.returncode == 0 and r.stdout.startswith(f"usage: yolokd {mode} [key=value ...]"), r.stderr
    assert "shared_norm" in run("compare", "help").stdout and "score" in run("compare", "help").stdout
    assert "data frames source=VIDEO|DIR out=DIR [every=1 dedup=0.001]" in run("data", "help").stdout
    from yolokd import __version__

    assert run("--version").stdout.strip() == run("version").stdout.strip() == f"yolokd {__version__}"
    r = run("settings", "kd_tau", "kd_cls")
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == ["kd_tau", "kd_cls"]
    assert "(float)" in r.stdout
    assert run("settings").stdout.count("# (") >= 17  # every key with its type


def test_distill_needs_data():
    from yolokd import distill
    from yolokd.cfg import SettingsError

    with pytest.raises(SettingsError, match="needs data="):
        distill("yolov8n.yaml", method="none")


@pytest.mark.parametrize("word", ["none", "None", "null"])
def test_none_words_mean_the_same_as_leaving_the_setting_out(word, data):
    """The command line turns `none`/`None` into Python None; every setting taking none reads them alike."""
    from yolokd.cfg import SettingsError, check_kd_settings
    from yolokd.cli import check_compare, check_train, parse_args
    from yolokd.compare import compare
    from yolokd.compare.args import parse_methods

    args = parse_args([f"data={data}", f"kd_method={word}", f"teacher={word}", f"kd_norm={word}"])
    check_train(args)
    typed = check_kd_settings({k: v for k, v in args.items() if k != "data"})
    assert (typed["kd_method"], typed["teacher"], typed["kd_norm"]) == ("none", None, "none")
    args = parse_args([f"data={data}", "teacher=t.yaml", f"methods={word}", f"teacher_epochs={word}", f"folds={word}"])
    check_compare(args)
    assert args["teacher_epochs"] is None and args["folds"] is None
    with pytest.raises(SettingsError, match="not an existing .pt file"):  # teacher_epochs=none: no teacher training
        compare(**args)
    assert parse_methods(args["methods"]) == [("none", {"kd_method": "none"})]


def test_cli_methods_none_trains_the_plain_student_alone(tmp_path, data, teacher):
    code, out = run_cli("compare", f"data={data}", f"teacher={teacher}", "methods=None", "seeds=1", "epochs=1",
                        "imgsz=64", "batch=4", "workers=0", "device=cpu", "plots=False", "examples=0",
                        f"project={tmp_path}", "name=only-none")  # fmt: skip
    assert code == 0, out[-3000:]
    assert sorted(p.name for p in (tmp_path / "only-none").glob("*-s0")) == ["none-s0"]
    assert "| none |" in (tmp_path / "only-none" / "table.md").read_text()


def test_an_unsupported_ultralytics_fails_the_import_with_one_line(tmp_path):
    """A user's environment with another Ultralytics release: the import says which, the range and the fix."""
    import os

    from yolokd._compat import ULTRALYTICS

    dist = tmp_path / "ultralytics-8.3.202.dist-info"  # found before the real one: PYTHONPATH precedes site-packages
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ultralytics\nVersion: 8.3.202\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    lo, hi = (".".join(map(str, v)) for v in ULTRALYTICS)
    line = f"yolokd supports ultralytics {lo} to {hi}, but 8.3.202 is installed; "
    line += f'fix: pip install "ultralytics>={lo},<={hi}"'
    r = subprocess.run([sys.executable, "-c", "import yolokd"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and r.stderr.strip().splitlines()[-1] == f"ImportError: {line}"
    r = subprocess.run([YOLOKD, "version"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip() == f"yolokd: error: {line}"  # the command line: that line alone


@pytest.mark.parametrize(("argv", "hint"), [(["compare"], "run the same command again"), (["train"], "resume")])
def test_ctrl_c_exits_130_with_how_to_continue(argv, hint, monkeypatch, capsys, data, teacher):
    import yolokd.compare
    import yolokd.integration.api

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(yolokd.compare, "compare", interrupted)
    monkeypatch.setattr(yolokd.integration.api, "distill", interrupted)
    from yolokd.cli import main

    args = [f"data={data}", f"teacher={teacher}"] + (["kd_method=none"] if argv == ["train"] else [])
    assert main([*argv, *args]) == 130
    err = capsys.readouterr().err
    assert "yolokd: interrupted; to continue," in err and hint in err
