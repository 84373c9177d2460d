"""Segment, pose and obb students on tiny generated data: the Python trainer and the CLI, resume, the plain best.pt,
the class and box terms on the detection branch, a detect teacher for the features only, and the refused pairs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import TASKS, TINY, plain_checkpoints, run_cli

import yolokd
from yolokd.data.synthetic import KPT_SHAPE


class Interrupt(Exception):
    """Raised from a callback to stop a training run as a crash would."""


def results(run: Path) -> list[dict[str, str]]:
    with open(run / "results.csv", newline="") as f:
        return [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(f)]


def plain_student_parameters(task: str) -> int:
    """The parameter count of the task's plain student for the generated data (2 classes; pose: 4 keypoints)."""
    from ultralytics.nn.tasks import OBBModel, PoseModel, SegmentationModel

    cfg = TASKS[task][1]
    model = {
        "segment": lambda: SegmentationModel(cfg, nc=2, verbose=False),
        "pose": lambda: PoseModel(cfg, nc=2, data_kpt_shape=tuple(KPT_SHAPE), verbose=False),
        "obb": lambda: OBBModel(cfg, nc=2, verbose=False),
    }[task]()
    return sum(p.numel() for p in model.parameters())


def cli(*args: str) -> tuple[int, str]:
    return run_cli("train", *(f"{k}={v}" for k, v in TINY.items()), *args)


@pytest.mark.parametrize("task", list(TASKS))
def test_a_task_student_distils_resumes_and_stays_plain(task, task_data, task_teacher, teacher, runs):
    """YOLO(student).train(trainer=trainer_for(task)) with every signal that reads the teacher's detection branch
    (score mask, class and box terms), stopped after epoch 1, resumed from the CLI; then a detect teacher from the
    CLI distils the features only. Both best.pt load without yolokd, the task's plain student's size."""
    from ultralytics import YOLO

    data, detect_teacher, (_, student, metric, words) = task_data(task), teacher, TASKS[task]
    teacher = task_teacher(task)

    def stop_after_first_epoch(trainer):
        if trainer.epoch == 0:
            raise Interrupt

    model = YOLO(student)
    model.add_callback("on_fit_epoch_end", stop_after_first_epoch)
    signals = dict(kd_method="cwd_attn", kd_attn_mode="score", kd_cls=1.0, kd_box=1.0)
    name = f"task-{task}"
    with pytest.raises(Interrupt):
        model.train(trainer=yolokd.trainer_for(task), data=str(data), teacher=str(teacher), project=str(runs),
                    name=name, **signals, **{**TINY, "epochs": 2})  # fmt: skip
    code, out = run_cli("train", "resume", f"model={runs / name / 'weights' / 'last.pt'}")
    assert code == 0 and "restored distillation modules" in out and words in out, out[-3000:]
    rows = results(runs / name)
    assert [r["epoch"] for r in rows] == ["1", "2"] and metric in rows[0]  # the task's validator wrote its metrics
    for term in ("kd_cwd", "kd_cls", "kd_box"):  # the detection branch's class and box terms, and the features
        assert all(0 < float(r[f"train/{term}"]) < float("inf") for r in rows), term
    assert 1 <= float(rows[0]["attn/l0_mask"]) < 2  # the score mask: 1 + the teacher's class probability
    assert not [k for k in rows[0] if k.startswith("val/kd_")]

    code, out = cli(f"model={student}", f"data={data}", f"teacher={detect_teacher}",
                    "kd_method=cwd", f"project={runs}", f"name={name}-detect")  # fmt: skip
    article = "an" if task == "obb" else "a"
    line = f"is a detect model and the student {article} {task} model: distilling the features entering the heads"
    assert code == 0 and line in out, out[-3000:]
    row = results(runs / f"{name}-detect")[0]
    assert float(row["train/kd_cwd"]) > 0 and "train/kd_cls" not in row and "train/kd_box" not in row

    best = [runs / n / "weights" / "best.pt" for n in (name, f"{name}-detect")]
    assert plain_checkpoints(*best) == [(plain_student_parameters(task), task)] * 2


def refusal(code: int, out: str) -> str:
    """The one error line of a refused ``yolokd train``, checked to be alone (no traceback)."""
    errors = [line for line in out.splitlines() if line.startswith("yolokd: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in out, out[-3000:]
    return errors[0]


def test_teachers_of_other_tasks_are_refused_in_one_line(task_data, task_teacher, teacher, runs):
    """Between two tasks other than detect: refused naming both. With a detect teacher (or for a detect student)
    the terms that read the teacher's head are refused, and so is native distillation."""
    seg, pose = task_data("segment"), task_data("pose")
    seg_teacher, pose_teacher = task_teacher("segment"), task_teacher("pose")
    base = (f"project={runs}", "name=refused-task")
    line = refusal(*cli("model=yolov8n-seg.yaml", f"data={seg}", f"teacher={pose_teacher}", *base))
    assert f"teacher '{pose_teacher}' is a pose model and the student a segment model; yolokd distils between" in line
    line = refusal(*cli("model=yolov8n-pose.yaml", f"data={pose}", f"teacher={seg_teacher}", *base))
    assert "is a segment model and the student a pose model; yolokd distils between models of one task" in line
    line = refusal(*cli("model=yolov8n-seg.yaml", f"data={seg}", f"teacher={teacher}", "kd_cls=1", *base))
    assert "is a detect model and the student a segment model; across tasks yolokd distils the features only" in line
    line = refusal(*cli("model=yolov8n-obb.yaml", f"data={task_data('obb')}", f"teacher={teacher}", "kd_box=1", *base))
    assert "and the student an obb model; across tasks yolokd distils the features only, but kd_cls, kd_box" in line
    line = refusal(*cli("model=yolov8n-seg.yaml", f"data={seg}", f"teacher={teacher}", "kd_method=native", *base))
    assert "and the student a segment model; native distillation reads the teacher's class scores" in line
    args = ("model=yolov8n.yaml", f"data={seg}", f"teacher={seg_teacher}", "kd_method=cwd_attn", "kd_attn_mode=score")
    line = refusal(*cli(*args, *base))
    assert "is a segment model and the student a detect model; across tasks yolokd distils the features only" in line


def test_a_student_of_another_task_than_its_trainer_is_refused(task_data, runs):
    from ultralytics import YOLO

    from yolokd.cfg import SettingsError

    refused = r"'yolov8n-seg.yaml' is a segment model, but DistillationTrainer trains detect models; pass trainer="
    with pytest.raises(SettingsError, match=refused + r"yolokd.trainer_for\('segment'\)"):
        YOLO("yolov8n-seg.yaml").train(trainer=yolokd.DistillationTrainer, data=str(task_data("segment")),
                                       kd_method="none", project=str(runs), name="refused-trainer", **TINY)  # fmt: skip


def test_each_task_has_its_trainer_over_ultralytics_own():
    from ultralytics.models.yolo import detect, obb, pose, segment

    from yolokd.cfg import SettingsError
    from yolokd.integration.models import TASKS as HEAD_TASKS

    over = {"detect": detect.DetectionTrainer, "segment": segment.SegmentationTrainer, "pose": pose.PoseTrainer,
            "obb": obb.OBBTrainer}  # fmt: skip
    assert set(over) == set(HEAD_TASKS)
    for task, base in over.items():
        trainer = yolokd.trainer_for(task)
        assert issubclass(trainer, base) and trainer.kd_task == task and getattr(yolokd, trainer.__name__) is trainer
    assert yolokd.trainer_for("detect") is yolokd.DistillationTrainer
    with pytest.raises(SettingsError, match="yolokd distils detect, segment, pose and obb models, not classify models"):
        yolokd.trainer_for("classify")
