"""The train-only modules in Ultralytics' optimizer: their own param groups, clipped like the student's."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.optim import Optimizer

MAX_GRAD_NORM = 10.0  # Ultralytics 8.4.190 clips the student's gradients at this norm in optimizer_step


def add_param_groups(optimizer: Optimizer, params: list[nn.Parameter]) -> None:
    """Add ``params`` as "kd" (with the hyper-parameters of Ultralytics' "weight" group: lr, betas/momentum,
    decay; MuSGD: its 1x-lr group) and "kd_no_decay" for their 1-d parameters (biases, norm weights), undecayed
    like Ultralytics' bias and BN groups. Their gradients are clipped as Ultralytics clips the student's, after
    AMP unscaling (``scaler.step`` calls ``optimizer.step``, which runs the pre-step hook)."""
    if not params:
        return
    weights = [g for g in optimizer.param_groups if g.get("param_group") == "weight"]
    group = {k: v for k, v in min(weights, key=lambda g: g["lr"]).items() if k not in {"params", "use_muon"}}
    for name, ps, extra in (
        ("kd", [p for p in params if p.ndim > 1], {}),
        ("kd_no_decay", [p for p in params if p.ndim <= 1], {"weight_decay": 0.0}),
    ):
        if ps:
            optimizer.add_param_group({**group, **extra, "params": ps, "param_group": name})

    def clip(*_: Any) -> None:
        nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)

    optimizer.register_step_pre_hook(clip)


def follow_decay(optimizer: Optimizer | None) -> None:
    """After Ultralytics rescales weight decay (its loaders' batch, an out-of-memory retry), the "kd" group takes
    the student's "weight" group's decay again."""
    groups = {g.get("param_group"): g for g in (optimizer.param_groups if optimizer else [])}
    if "kd" in groups and "weight" in groups:
        groups["kd"]["weight_decay"] = groups["weight"]["weight_decay"]
