"""Distillation reaches the real student: its gradients on one batch, with and without the distillation term.

The trainer is set up as for training (Ultralytics' ``_setup_train``, which ends with yolokd wrapping the student's
criterion); one augmented training batch then goes through the student as in ``_do_train``. A ``train/kd_cwd > 0``
in results.csv says the term was computed; only these gradients say that it trains the student.
"""

from __future__ import annotations

import pytest
import torch
from conftest import TINY
from torch import Tensor

from yolokd import DistillationTrainer
from yolokd.criterion import KDCriterion
from yolokd.integration.models import student_outputs
from yolokd.losses.outputs import Outputs


def set_up(cfg: str, data, teacher, tmp_path, **kd) -> DistillationTrainer:
    """A trainer set up as ``train()`` sets it up, in training mode at epoch 0, before its first batch."""
    trainer = DistillationTrainer(
        overrides={"model": cfg, "data": str(data), "teacher": str(teacher), "project": str(tmp_path), **TINY, **kd}
    )
    trainer._setup_train()
    trainer.epoch = 0  # _do_train sets it before _model_train
    trainer._model_train()
    return trainer


def gradients(student: torch.nn.Module, loss: Tensor) -> dict[str, Tensor]:
    """d loss / d each trainable student parameter (zeros where the loss does not depend on it)."""
    named = {n: p for n, p in student.named_parameters() if p.requires_grad}
    grads = torch.autograd.grad(loss, list(named.values()), retain_graph=True, allow_unused=True)
    return {n: torch.zeros_like(p) if g is None else g for (n, p), g in zip(named.items(), grads)}


def student_gradients(trainer: DistillationTrainer, batch: dict) -> tuple[dict, dict, dict]:
    """On ``batch``: the gradients of the training loss (summed as Ultralytics sums it), of the student's own
    detection loss alone (a fresh forward), and of the weighted distillation entry alone."""
    student = trainer.model
    loss, _ = student.criterion(student(batch["img"]), batch)
    full, kd = gradients(student, loss.sum()), gradients(student, loss[-1])
    plain, _ = student.criterion.base(student(batch["img"]), batch)
    return full, gradients(student, plain.sum()), kd


def by_layer(grads: dict[str, Tensor]) -> dict[int, float]:
    """Sum of |gradient| per layer index of the student's ``model`` list."""
    out: dict[int, float] = {}
    for name, g in grads.items():
        i = int(name.split(".")[1])
        out[i] = out.get(i, 0.0) + g.abs().sum().item()
    return out


def detached(preds) -> Outputs:
    """The student's outputs cut from its graph: what a bug that detached them would hand the distiller."""
    s = student_outputs(preds)
    return Outputs([f.detach() for f in s.feats], *(None if t is None else t.detach() for t in (s.scores, s.boxes)))


@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolo26n.yaml"])  # YOLO26: features under "one2many"
def test_distillation_changes_the_real_students_gradients(cfg, data, teacher, tmp_path):
    """kd_method=cwd: gradient with distillation − gradient of the detection loss = gradient of the weighted CWD
    term, nonzero from the first backbone layer to the neck layers whose outputs are distilled, zero in the head
    (CWD distils the head's inputs). At weight 0, and with the student's features detached, they are identical."""
    trainer = set_up(cfg, data, teacher, tmp_path, kd_method="cwd", name=f"grad-{cfg[:-5]}")
    student = trainer.model
    assert isinstance(student.criterion, KDCriterion) and student.training and trainer.distiller.scale == 1.0
    batch = trainer.preprocess_batch(next(iter(trainer.train_loader)))

    full, plain, kd = student_gradients(trainer, batch)
    assert any(g.any() for g in kd.values())
    atol = 1e-5 * max(g.abs().max().item() for g in full.values())  # float32 rounding of the summed gradient
    err = {n: (full[n] - plain[n] - kd[n]).abs().max().item() for n in full}  # the difference is the kd gradient
    assert max(err.values()) <= atol, (max(err, key=err.get), max(err.values()), atol)
    layers, head = by_layer(kd), student.model[-1]
    assert layers[0] > 0, layers  # the stem: distillation reaches the start of the backbone
    assert all(layers[i] > 0 for i in head.f), layers  # the neck layers whose outputs feed the head
    assert layers[head.i] == 0, layers

    student.criterion.student = detached  # the control: a student cut from the distiller's graph
    full, plain, kd = student_gradients(trainer, batch)
    assert all(torch.equal(full[n], plain[n]) and not kd[n].any() for n in full)

    student.criterion.student = student_outputs
    trainer.distiller.weights["kd_cwd"] = 0.0  # as kd_weight=0
    full, plain, _ = student_gradients(trainer, batch)
    assert all(torch.equal(full[n], plain[n]) for n in full)
