"""The precision the teacher and the distiller compute in (``kd_precision``); the distillation loss is float32.

Under Ultralytics' AMP the student trains in float16 autocast on a GPU. ``amp`` (the default) runs the frozen
teacher and the distiller's blocks (adapters, attention) in that same precision: on the tree tiles their neck
features stay below 40, 1/1,700 of float16's range, and float16 reproduces the float32 teacher's features
6x more closely than bfloat16 (relative error 2e-3 against 1.2e-2; ``benchmarks/results/precision_cpu.md``),
while float32 would make the teacher, the largest network in the step, several times slower on tensor cores.
A teacher whose features do overflow float16 is caught by the criterion's non-finite gate, counted per epoch
(``kd/skipped``) and named, with the fix ``kd_precision=bf16`` (float32's range) or ``fp32``. The CWD softmax
and KL always run in float32 (:mod:`yolokd.losses.cwd`).

Torch-free at import: the validator reads ``PRECISIONS`` before torch is loaded.
"""

from __future__ import annotations

import contextlib
from typing import Any

PRECISIONS = ("amp", "fp32", "bf16", "fp16")
DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def autocast(precision: str, device_type: str) -> contextlib.AbstractContextManager:
    """The context the teacher and distiller run in on ``device_type``: the trainer's own (``amp``), autocast
    off (``fp32``), or autocast in ``bf16`` / ``fp16`` (also on the CPU, where tests exercise these paths)."""
    import torch

    if precision == "amp":
        return contextlib.nullcontext()
    if precision == "fp32":
        return torch.autocast(device_type, enabled=False)
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return torch.autocast(device_type, dtype=getattr(torch, DTYPES[precision]))


def active(device_type: str) -> str:
    """The precision convolutions run in right now on ``device_type``: ``fp32``, ``bf16`` or ``fp16``."""
    import torch

    if not torch.is_autocast_enabled(device_type):
        return "fp32"
    dtype: Any = torch.get_autocast_dtype(device_type)
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
