"""``yolokd compare`` of segment, pose and obb students: each task's own metrics in the report, the paired intervals
on its primary metric, examples.png of masks, keypoints or rotated boxes, and the native row."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from conftest import TASKS, TINY

from yolokd.compare import compare

ARGS = {k: v for k, v in TINY.items() if k not in ("epochs", "seed", "exist_ok")}
# task: (methods, primary metric's key and name, its Metric in Ultralytics' task metrics, the box metric's key)
COMPARED = {
    "segment": ("none,native", "mask_map50", "mask mAP50", "seg", "map50"),
    "pose": ("none,native", "pose_map50", "pose mAP50", "pose", "map50"),
    "obb": ("none,native", "map50", "OBB mAP50", "box", None),
}


@pytest.mark.parametrize("task", list(COMPARED))
def test_compare_reports_the_tasks_own_metrics(task, task_data, task_teacher, runs):
    """A tiny compare per task (1 seed, 1 epoch, 64 px): the report's columns, its primary metric equal to what
    Ultralytics' validator logged for the run, the interval labelled with it, the native row trained with
    Ultralytics' distill_model=, and examples.png drawn from the task's predictions."""
    from ultralytics import YOLO

    methods, key, name, own, box = COMPARED[task]
    student, teacher = TASKS[task][1], task_teacher(task)
    out = compare(data=str(task_data(task)), teacher=str(teacher), student=student, methods=methods, seeds=1,
                  epochs=1, project=str(runs), name=f"cmp-{task}", examples=1, **ARGS)  # fmt: skip

    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"]["task"] == task and summary["task"]["primary"] == key
    labels = methods.split(",")
    assert [r["label"] for r in summary["runs"]] == labels
    for r in summary["runs"]:
        metrics = json.loads((out / f"{r['label']}-s0" / "metrics.json").read_text())
        assert metrics["task"] == task and metrics == {k: v for k, v in r.items() if k in metrics}
    m = YOLO(str(out / "native-s0" / "weights" / "last.pt")).val(data=str(task_data(task)), imgsz=64, batch=4,
                                                                 plots=False, verbose=False, project=str(runs),
                                                                 name=f"check-{task}", exist_ok=True)  # fmt: skip
    assert (metrics[key], metrics[f"{key}_95"]) == pytest.approx((getattr(m, own).map50, getattr(m, own).map))
    assert (metrics["map50"], metrics["map50_95"]) == pytest.approx((m.box.map50, m.box.map))  # the boxes beside
    assert yaml.safe_load((out / "native-s0" / "args.yaml").read_text())["distill_model"] == str(teacher.resolve())
    assert "train/dis_loss" in (out / "native-s0" / "results.csv").read_text()

    rows = {r["model"]: r for r in csv.DictReader(open(out / "table.csv"))}
    assert list(rows) == ["teacher", *labels]
    assert {f"{key}_mean", f"d_{key}", f"d_{key}_lo", f"d_{key}_hi", f"{key}_s0"} <= set(rows["native"])
    assert float(rows["native"][f"{key}_mean"]) == pytest.approx(summary["runs"][-1][key])
    table = (out / "table.md").read_text()
    head = f"| model | params (M) | GFLOPs | {name} | {name}-95 | Δ {name} vs none [95% CI] |"
    assert head in table and f"gap closed ({name}) |" in table and f"Per seed, {name}:" in table
    assert ("| box mAP50 | box mAP50-95 | runs |" in table) == (box is not None)
    assert "the primary metric is" in table or "the metric is the rotated boxes' mAP50" in table
    assert (out / "examples.png").stat().st_size > 0


def test_task_report_by_hand(tmp_path):
    """A segment comparison's table from hand-made runs: the interval and gap closed on the masks' mAP50, the
    boxes' mean in their own columns; a teacher without mask metrics (a detect one) leaves its cells empty."""
    from yolokd.report import write_tables

    w, size = "w.pt", {"params_m": 3.0, "gflops": 1.0}  # sizes given: no weights to measure
    t = {"model": "t.pt", "weights": w, **size, "map50": 0.6, "map50_95": 0.3, "mask_map50": 0.5, "mask_map50_95": 0.25}
    masks = {"none": (0.20, 0.22, 0.24), "cwd": (0.25, 0.26, 0.30)}  # paired Δ 0.05, 0.04, 0.06
    runs = [
        {"label": m, "seed": s, "weights": w, **size, "task": "segment", "mask_map50": v[s], "mask_map50_95": v[s] / 2}
        | {"map50": 0.9 - v[s], "map50_95": 0.1}
        for m, v in masks.items()
        for s in range(3)
    ]
    for teacher_metrics, gap in ((t, "| 18 % |"), ({**t, "mask_map50": None}, "| — |")):
        teacher_metrics = {k: v for k, v in teacher_metrics.items() if v is not None}
        write_tables(tmp_path, {**teacher_metrics, "val_boxes": 9}, runs, ["none", "cwd"], {"imgsz": 64}, {
            "command": "c", "date": "d", "cpu_count": 2, "versions": {"yolokd": 1, "torch": 2, "ultralytics": 3}
        })  # fmt: skip
        table = (tmp_path / "table.md").read_text()
        cwd = next(line for line in table.splitlines() if line.startswith("| cwd |"))
        # mask mAP50 0.270 ± 0.026, Δ +0.050 [+0.025, +0.075]; gap (0.27-0.22)/(0.5-0.22); box mAP50 0.630 ± 0.026
        assert "| 0.270 ± 0.026 | 0.135 ± 0.013 | +0.050 [+0.025, +0.075] * |" in cwd and gap in cwd, cwd
        assert cwd.endswith("| 0.630 ± 0.026 | 0.100 ± 0.000 | 3 |"), cwd
    rows = {r["model"]: r for r in csv.DictReader(open(tmp_path / "table.csv"))}
    assert float(rows["cwd"]["d_map50"]) == pytest.approx(-0.05)  # the boxes' Δ, in the CSV only
    assert rows["teacher"]["mask_map50_mean"] == "nan" and float(rows["teacher"]["map50_mean"]) == 0.6
