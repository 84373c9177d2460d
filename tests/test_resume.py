"""Resuming a distillation run by each entry point: Ultralytics' own resume stops before it trains a step without
the teacher; yolokd's continues end-to-end students (YOLO26) with their loss schedule where it stopped."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, run_cli

from yolokd import DistillationTrainer


class Interrupt(Exception):
    pass


def interrupted(model: str, data: Path, teacher: Path, runs: Path, name: str, seen: dict | None = None, **kd) -> Path:
    """A 2-epoch run of ``model`` stopped once epoch 1 was saved; ``seen`` gets the student's criterion as Ultralytics
    steps it at the end of that epoch, i.e. as an uninterrupted run would train epoch 2 with it."""
    from ultralytics import YOLO

    def record(trainer):
        seen.update(vars(trainer.model.criterion.base))

    def stop(trainer):
        if trainer.epoch == 0:
            raise Interrupt

    yolo = YOLO(model)
    if seen is not None:
        yolo.add_callback("on_train_epoch_end", record)
    yolo.add_callback("on_fit_epoch_end", stop)
    with pytest.raises(Interrupt):
        yolo.train(trainer=DistillationTrainer, data=str(data), teacher=str(teacher), project=str(runs), name=name,
                   **{**TINY, "epochs": 2}, **kd)  # fmt: skip
    return runs / name / "weights" / "last.pt"


PLAIN_RESUME = """
import sys
sys.modules["yolokd"] = None  # a process that has not imported yolokd (and cannot)
from ultralytics import YOLO
try:
    YOLO(sys.argv[1]).train(resume=True)
except Exception as e:
    print("REFUSED", type(e).__name__, e)
else:
    print("RESUMED")
"""


def test_ultralytics_own_resume_stops_before_training_without_the_teacher(data, teacher, runs):
    """``yolo train resume`` / ``YOLO(last).train(resume=True)`` without yolokd's trainer, in a process with and
    without yolokd: refused before a step is trained (Ultralytics' validator rejects the run's yolokd settings),
    the run untouched; yolokd's resume then continues it with its teacher. kd_method=response builds no train-only
    parameters, so its optimizer alone would not stop a plain trainer (measured: every method stops here)."""
    from ultralytics import YOLO

    last = interrupted("yolov8n.yaml", data, teacher, runs, "resume-plain", kd_method="response", kd_cls=1.0)
    before = last.read_bytes()
    r = subprocess.run([sys.executable, "-c", PLAIN_RESUME, str(last)], capture_output=True, text=True, timeout=300)
    assert "REFUSED SyntaxError" in r.stdout, r.stdout[-2000:] + r.stderr[-3000:]
    said = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)  # Ultralytics 8.4.170 colours the key names
    assert "'teacher' is not a valid YOLO argument" in said and "'kd_method' is not" in said
    with pytest.raises(SyntaxError) as refused:
        YOLO(str(last)).train(resume=True)  # in this process, which imported yolokd: the same refusal
    assert "'kd_cls' is not a valid YOLO argument" in re.sub(r"\x1b\[[0-9;]*m", "", str(refused.value))
    assert last.read_bytes() == before
    assert (runs / "resume-plain" / "results.csv").read_text().count("\n") == 2  # header and epoch 1

    code, out = run_cli("train", "resume", f"model={last}")
    assert code == 0, out[-3000:]
    with open(runs / "resume-plain" / "results.csv", newline="") as f:
        rows = [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(f)]
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[1]["train/kd_cls"]) > 0  # epoch 2 distilled


def test_a_resumed_end_to_end_student_keeps_its_loss_schedule(data, teacher, runs):
    """YOLO26's loss weighs its one-to-many and one-to-one branches on a schedule over epochs; after a resume the
    weights are those an uninterrupted run trains epoch 2 with (yolokd 0.2.0 restarted them at 0.8 / 0.2)."""
    from ultralytics import YOLO

    uninterrupted: dict = {}
    last = interrupted("yolo26n.yaml", data, teacher, runs, "resume-e2e", uninterrupted, kd_method="cwd")
    resumed: dict = {}
    yolo = YOLO(str(last))
    yolo.add_callback("on_train_epoch_start", lambda trainer: resumed.update(vars(trainer.model.criterion.base)))
    yolo.train(trainer=DistillationTrainer, resume=True)
    weights = ("updates", "o2m", "o2o")
    assert [resumed[k] for k in weights] == [uninterrupted[k] for k in weights] == pytest.approx([1, 0.1, 0.9])
