"""The training criterion: the student's own detection loss plus the distiller's named terms.

Pure torch: how to run the teacher and how to read the student's predictions are handed in by
the Ultralytics integration (:mod:`yolokd.integration`), which owns every version-sensitive detail.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from yolokd.distiller import Distiller
from yolokd.losses.outputs import Outputs


class _GradGate(torch.autograd.Function):
    """Identity whose backward zeroes the gradient unless ``gate`` (a bool tensor, read at backward time) is True."""

    @staticmethod
    def forward(ctx, x: Tensor, gate: Tensor) -> Tensor:
        ctx.gate = gate  # an attribute, not saved_tensors: it is filled in after this forward
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return torch.where(ctx.gate, grad, torch.zeros_like(grad)), None


def _gate(x: Tensor | None, gate: Tensor) -> Tensor | None:
    return None if x is None else _GradGate.apply(x, gate)


class KDCriterion:
    """Wraps the student's detection criterion; appends the distillation terms (``kd_cwd``, ``kd_cls``, ...).

    The loss vector gets one entry, the weighted sum times the batch size (as the base losses); the
    items dict gets each weighted term, so results.csv has a column per term. A non-finite
    distillation loss on a batch is replaced by 0 and its gradients (to the student's outputs and to
    the distiller) are zeroed, without a host-device sync; the batches are counted and reported once
    per epoch. In epochs where the schedule's scale is 0 the teacher is not run at all.

    Args:
        base: the student's own criterion, ``base(preds, batch) -> (loss_vector, items)``.
        teacher: ``teacher(images) -> Outputs`` of the frozen teacher (has a ``.model``).
        distiller: the named terms.
        student: ``student(preds) -> Outputs`` reading the student's training-mode predictions.
        warn: called with a message once per epoch when batches were skipped.
    """

    def __init__(
        self,
        base: Any,
        teacher: Callable[[Tensor], Outputs],
        distiller: Distiller,
        student: Callable[[Any], Outputs],
        warn: Callable[[str], None] = print,
    ) -> None:
        self.base, self.teacher, self.distiller, self.student, self.warn = base, teacher, distiller, student, warn
        self.finite = torch.ones((), dtype=torch.bool)  # this batch's flag, read by the gradient gates
        self.skipped = torch.zeros((), dtype=torch.int64)  # non-finite batches this epoch, on the loss device
        self.epoch_stats: dict[str, float] = {}  # the last epoch's weights and attention statistics, for results.csv
        for p in distiller.parameters():
            p.register_hook(lambda g: torch.where(self.finite, g, torch.zeros_like(g)))

    def __call__(self, preds: Any, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        loss, items = self.base(preds, batch)
        names = list(self.distiller.terms)
        if self.distiller.scale == 0:  # kd_stop: no distillation this epoch, and no teacher forward
            zero = loss.new_zeros(())
            return torch.cat([loss, zero.reshape(1)]), {**items, **dict.fromkeys(names, zero)}
        model = getattr(self.teacher, "model", None)
        if model is not None and model.training:  # nothing should switch it, but the teacher must stay in eval mode
            model.eval()
        with torch.no_grad():
            teacher = self.teacher(batch["img"])  # the same augmented batch the student sees
        finite = torch.ones((), dtype=torch.bool, device=loss.device)
        self.finite = finite
        s = self.student(preds)
        student = Outputs([_gate(f, finite) for f in s.feats], _gate(s.scores, finite), _gate(s.boxes, finite))
        parts = self.distiller(student, teacher)
        kd = parts.pop("kd_loss")
        finite.copy_(torch.isfinite(kd))
        self.skipped = self.skipped.to(finite.device) + (~finite).long()
        kd = torch.where(finite, kd, torch.zeros_like(kd))
        terms = {k: torch.where(finite, v, torch.zeros_like(v)).detach() for k, v in parts.items()}
        batch_size = batch["img"].shape[0]  # base losses are scaled by batch size too
        return torch.cat([loss, (kd * batch_size).reshape(1).to(loss.dtype)]), {**items, **terms}

    def __deepcopy__(self, memo: dict) -> Any:
        """A deep copy of the student (Ultralytics' EMA, also when NaN recovery rebuilds it) gets the plain
        detection criterion: teacher and distiller never travel with a copy of the student."""
        return copy.deepcopy(self.base, memo)

    def update(self) -> None:
        """Ultralytics' end-of-epoch hook: report skipped batches, collect statistics, forward the call."""
        self.epoch_stats = self.distiller.pop_stats()
        if n := int(self.skipped):
            self.warn(f"yolokd: the distillation loss was not finite on {n} batch(es) this epoch; skipped them")
        self.skipped.zero_()
        if hasattr(self.base, "update"):
            self.base.update()
