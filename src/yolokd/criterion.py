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

from yolokd import precision as precisions
from yolokd.distiller import Distiller
from yolokd.losses.outputs import Outputs

SKIP_WARN = 0.01  # more than this fraction of an epoch's distilled batches skipped: say why and how to fix it


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


def _gated(s: Outputs, gate: Tensor, fp32: bool) -> Outputs:
    """The student's outputs behind the gradient gate; in float32 first where the distiller runs in it (the
    student's AMP outputs are float16, the distiller's weights float32)."""
    if fp32:
        s = Outputs([f.float() for f in s.feats], *(None if x is None else x.float() for x in (s.scores, s.boxes)))
    return Outputs([_gate(f, gate) for f in s.feats], _gate(s.scores, gate), _gate(s.boxes, gate))


def _split(t: Outputs, n: int) -> tuple[Outputs, Outputs]:
    """Outputs of a concatenated batch split into its first ``n`` images and the rest."""
    parts = [(x[:n], x[n:]) if x is not None else (None, None) for x in (t.scores, t.boxes)]
    return (
        Outputs([f[:n] for f in t.feats], parts[0][0], parts[1][0]),
        Outputs([f[n:] for f in t.feats], parts[0][1], parts[1][1]),
    )


UNLABELED_SUFFIX = "_unl"  # a term on the unlabeled images: its column is kd_cwd_unl, ...


class KDCriterion:
    """Wraps the student's detection criterion; appends the distillation terms (``kd_cwd``, ``kd_cls``, ...).

    The loss vector gets one entry, the weighted sum times the batch size (as the base losses); the
    items dict gets each weighted term, so results.csv has a column per term. The teacher and the
    distiller run in ``precision`` (:mod:`yolokd.precision`); the loss is float32. A non-finite
    distillation loss on a batch is replaced by 0 and its gradients (to the student's outputs and to
    the distiller) are zeroed, without a host-device sync; the epoch's fraction of such batches is the
    statistic ``kd/skipped``, and above ``SKIP_WARN`` one line names the cause (the teacher's features
    overflowing float16, or the student's side) and the fix. In epochs where the schedule's scale is 0
    the teacher is not run at all.

    Unlabeled images (``batch["unlabeled_img"]``, set by the trainer's stream) are never seen by the detection
    loss: the student runs on them in a forward of its own (``forward``, in the trainer's autocast as the
    labelled forward; its batch statistics are theirs alone), the teacher on the same images, and only the
    distillation terms apply, each weighted ``unlabeled_weight`` per image relative to a labelled image's (the
    columns ``kd_cwd_unl`` ...; the statistic ``kd/unlabeled_images`` counts the epoch's images, all ranks).

    Args:
        base: the student's own criterion, ``base(preds, batch) -> (loss_vector, items)``.
        teacher: ``teacher(images) -> Outputs`` of the frozen teacher (has a ``.model``).
        distiller: the named terms.
        student: ``student(preds) -> Outputs`` reading the student's training-mode predictions.
        warn: called with a message once per epoch when more than ``SKIP_WARN`` of the batches were skipped.
        precision: ``kd_precision``: ``amp`` (the trainer's autocast), ``fp32``, ``bf16`` or ``fp16``.
        forward: ``forward(images) -> preds``, the student's training-mode forward, when unlabeled images come.
        unlabeled_weight: ``kd_unlabeled``; None: no unlabeled images in this run (no columns for them).
        world: DDP ranks, each drawing as many unlabeled images per step.
    """

    def __init__(
        self,
        base: Any,
        teacher: Callable[[Tensor], Outputs],
        distiller: Distiller,
        student: Callable[[Any], Outputs],
        warn: Callable[[str], None] = print,
        precision: str = "amp",
        forward: Callable[[Tensor], Any] | None = None,
        unlabeled_weight: float | None = None,
        world: int = 1,
    ) -> None:
        self.base, self.teacher, self.distiller, self.student, self.warn = base, teacher, distiller, student, warn
        self.forward, self.unlabeled_weight, self.world = forward, unlabeled_weight, world
        self.unlabeled_seen = 0  # unlabeled images this epoch, this rank (host count: no sync)
        self.precision, self.ran_in = precision, "fp32"  # the setting; what the teacher last ran in
        self.finite = torch.ones((), dtype=torch.bool)  # this batch's flag, read by the gradient gates
        self.skipped = torch.zeros((), dtype=torch.int64)  # non-finite batches this epoch, on the loss device
        self.teacher_bad = torch.zeros((), dtype=torch.int64)  # of which the teacher's outputs were not finite
        self.batches = 0  # distilled batches this epoch (counted on the host: no sync)
        self.epoch_stats: dict[str, float] = {}  # the last epoch's weights and attention statistics, for results.csv
        for p in distiller.parameters():
            p.register_hook(lambda g: torch.where(self.finite, g, torch.zeros_like(g)))

    def __call__(self, preds: Any, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        loss, items = self.base(preds, batch)
        names = list(self.distiller.terms)
        unl = batch.get("unlabeled_img") if self.unlabeled_weight is not None else None
        if self.unlabeled_weight is not None:
            names += [n + UNLABELED_SUFFIX for n in self.distiller.terms]
        if self.distiller.scale == 0:  # kd_stop: no distillation this epoch, and no teacher forward
            zero = loss.new_zeros(())
            extra = 2 if self.unlabeled_weight is not None else 1
            return torch.cat([loss, zero.repeat(extra)]), {**items, **dict.fromkeys(names, zero)}
        model = getattr(self.teacher, "model", None)
        if model is not None and model.training:  # nothing should switch it, but the teacher must stay in eval mode
            model.eval()
        device = batch["img"].device.type
        finite = torch.ones((), dtype=torch.bool, device=loss.device)
        self.finite = finite
        n = batch["img"].shape[0]
        s_unl = None if unl is None else self.student(self.forward(unl))  # its own forward, the trainer's autocast
        with precisions.autocast(self.precision, device):
            self.ran_in = precisions.active(device)
            with torch.no_grad():  # the same augmented images the student sees, in one forward
                teacher = self.teacher(batch["img"] if unl is None else torch.cat([batch["img"], unl.to(batch["img"])]))
            outputs = [x for x in (*teacher.feats, teacher.scores, teacher.boxes) if x is not None]
            teacher_ok = torch.stack([torch.isfinite(x).all() for x in outputs]).all().to(loss.device)
            teacher, t_unl = _split(teacher, n) if unl is not None else (teacher, None)
            fp32 = self.ran_in == "fp32"
            parts = self.distiller(_gated(self.student(preds), finite, fp32), teacher)
            parts_unl = None if unl is None else self.distiller(_gated(s_unl, finite, fp32), t_unl)
        kd = parts.pop("kd_loss").float()
        kd_unl = kd.new_zeros(()) if parts_unl is None else parts_unl.pop("kd_loss").float() * self.unlabeled_weight
        finite.copy_(torch.isfinite(kd) & torch.isfinite(kd_unl))
        self.skipped = self.skipped.to(finite.device) + (~finite).long()
        self.teacher_bad = self.teacher_bad.to(finite.device) + (~teacher_ok).long()
        self.batches += 1
        terms = {k: torch.where(finite, v.detach().float(), 0.0) for k, v in parts.items()}
        total = [torch.where(finite, kd, torch.zeros_like(kd)) * n]  # base losses are scaled by batch size too
        if self.unlabeled_weight is not None:
            m = 0 if unl is None else unl.shape[0]
            self.unlabeled_seen += m
            w = self.unlabeled_weight
            unl_terms = parts_unl or dict.fromkeys(self.distiller.terms, kd.new_zeros(()))
            terms |= {
                k + UNLABELED_SUFFIX: torch.where(finite, v.detach().float() * w, 0.0) for k, v in unl_terms.items()
            }
            total.append(torch.where(finite, kd_unl, torch.zeros_like(kd_unl)) * m)  # per image, as the labelled ones
        return torch.cat([loss, torch.stack(total).to(loss.dtype)]), {**items, **terms}

    def __deepcopy__(self, memo: dict) -> Any:
        """A deep copy of the student (Ultralytics' EMA, also when NaN recovery rebuilds it) gets the plain
        detection criterion: teacher and distiller never travel with a copy of the student."""
        return copy.deepcopy(self.base, memo)

    def update(self) -> None:
        """Ultralytics' end-of-epoch hook: collect statistics, report skipped batches, forward the call."""
        n, bad_teacher = int(self.skipped), int(self.teacher_bad)  # the epoch's one host sync for them
        self.epoch_stats = {**self.distiller.pop_stats(), "kd/skipped": n / self.batches if self.batches else 0.0}
        if self.unlabeled_weight is not None:
            self.epoch_stats["kd/unlabeled_images"] = float(self.unlabeled_seen * self.world)
        self.unlabeled_seen = 0
        if self.batches and n / self.batches > SKIP_WARN:
            self.warn(skip_message(n, self.batches, bad_teacher, self.ran_in))
        self.skipped.zero_()
        self.teacher_bad.zero_()
        self.batches = 0
        if hasattr(self.base, "update"):
            self.base.update()


def skip_message(n: int, batches: int, bad_teacher: int, ran_in: str) -> str:
    """One line: how many batches trained without distillation, why, and the setting that fixes it."""
    head = (
        f"yolokd: the distillation loss was not finite on {n} of {batches} batches this epoch ({n / batches:.0%}); "
        "they trained without it"
    )
    if bad_teacher and ran_in == "fp16":
        return (
            f"{head}: the teacher's outputs overflow float16 (largest value 65504) on {bad_teacher} of them. Fix: "
            "kd_precision=bf16 (float32's range) or kd_precision=fp32"
        )
    if bad_teacher:
        fix = "kd_precision=fp32, or " if ran_in != "fp32" else ""
        return (
            f"{head}: the teacher's outputs are not finite in {ran_in} on {bad_teacher} of them. Fix: {fix}check "
            "the teacher on these images (yolo val model=<teacher> data=<data>)"
        )
    return (
        f"{head}: the teacher's outputs were finite, so the student's side overflowed in {ran_in} (its "
        "features, the adapters or attention). Fix: kd_precision=fp32, or a lower kd_weight or lr0"
    )
