"""DDP for the train-only modules (pure torch.distributed): they live outside the DDP-wrapped student, so DDP
neither averages their gradients nor broadcasts their initial values; these two functions do."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def average_gradients(params: list[nn.Parameter]) -> None:
    """All-reduce and average the gradients of ``params`` over the process group (no-op without one).

    Train-only modules live outside the DDP-wrapped student, so DDP does not do this for them.
    Missing gradients count as zeros so every rank reduces the same flat buffer.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2 or not params:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])  # one collective for all modules
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset : offset + p.numel()].view_as(p.grad))
        offset += p.numel()


def broadcast_from_rank0(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers of ``module`` to every rank (no-op without a process group).

    Ultralytics seeds each rank with ``seed + 1 + RANK``, so train-only modules built outside the DDP
    wrapper start different on every rank; DDP broadcasts only the modules it wraps."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return
    for t in [*module.parameters(), *module.buffers()]:
        dist.broadcast(t.data, src=0)
