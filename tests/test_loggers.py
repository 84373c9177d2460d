"""Ultralytics' loggers see every yolokd statistic: a run with TensorBoard on, its event file read back."""

from __future__ import annotations

import csv
import sys

import pytest
import torch
from conftest import TINY

from yolokd import DistillationTrainer

TB = "ultralytics.utils.callbacks.tensorboard"


@pytest.fixture
def tensorboard(monkeypatch):
    """Ultralytics' TensorBoard callback switched on for one run, as ``yolo settings tensorboard=True`` does.

    Its module turns itself off when imported under pytest (``TESTS_RUNNING``), so it is imported afresh with that
    flag off; the setting, the flag and the module are put back afterwards, so no other test logs."""
    pytest.importorskip("tensorboard")  # the dev extra
    import ultralytics.utils
    from ultralytics.utils import SETTINGS

    monkeypatch.setattr(ultralytics.utils, "TESTS_RUNNING", False)
    monkeypatch.delitem(sys.modules, TB, raising=False)
    monkeypatch.setitem(SETTINGS, "tensorboard", True)  # read by add_integration_callbacks for each trainer
    yield
    module = sys.modules.pop(TB, None)
    if module is not None and module.WRITER is not None:
        module.WRITER.close()


def scalars(run) -> dict[str, dict[int, float]]:
    """Every scalar in the run folder's event files: tag -> {step: value}."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, dict[int, float]] = {}
    for events in sorted(run.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return out


def test_tensorboard_gets_the_distillation_statistics_of_every_epoch(tensorboard, monkeypatch, data, teacher, runs):
    """``val=False``: epoch 1 is not validated, epoch 2 is. Both epochs' ``kd/w_*``, ``attn/*`` and ``train/kd_*``
    reach TensorBoard with the values results.csv has; the validation metrics and the checkpoint are as before."""
    import ultralytics.utils.callbacks.tensorboard as tb
    from ultralytics import YOLO

    assert tb.SummaryWriter is not None  # the fixture's fresh import is the active one
    monkeypatch.setattr(tb, "_log_tensorboard_graph", lambda trainer: None)  # a JIT trace of the student: slow
    YOLO("yolov8n.yaml").train(
        trainer=DistillationTrainer,
        data=str(data),
        teacher=str(teacher),
        kd_method="cwd_attn",
        kd_cls=0.5,
        project=str(runs),
        name="tensorboard",
        **{**TINY, "epochs": 2, "val": False},
    )
    run = runs / "tensorboard"
    logged = scalars(run)
    with open(run / "results.csv", newline="") as f:
        rows = [{k.strip(): float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    stats = [k for k in rows[0] if k.startswith(("kd/", "attn/", "train/kd_"))]
    assert {"kd/w_cwd", "kd/w_cls", "train/kd_cwd", "train/kd_cls", "attn/l2_mask"} <= set(stats), stats
    for key in stats:
        assert key in logged, f"{key} is in results.csv but not in TensorBoard: {sorted(logged)}"
        assert logged[key] == pytest.approx({1: rows[0][key], 2: rows[1][key]}, rel=1e-5), key
    assert set(logged["metrics/mAP50(B)"]) == {1, 2, 3}  # 3: best.pt's final validation, as Ultralytics logs it
    saved = torch.load(run / "weights" / "last.pt", weights_only=False)["train_metrics"]  # the checkpoint's copy
    assert saved["metrics/mAP50(B)"] == pytest.approx(rows[1]["metrics/mAP50(B)"], abs=1e-5)
    assert saved["kd/w_cwd"] == rows[1]["kd/w_cwd"] and saved["fitness"] == saved["fitness"]
