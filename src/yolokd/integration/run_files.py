"""What a distillation run writes beside Ultralytics': never a half-written file.

- Checkpoints (last.pt, best.pt, epoch{N}.pt) are written to a temporary file and renamed; ``strip_atomic``
  strips the optimizer the same way at the end (Ultralytics' ``strip_optimizer``).
- The distiller's state goes to ``weights/kd_last.pt`` beside last.pt, written first, so a crash between the
  two leaves it one epoch ahead of last.pt at worst (resume says so), never a broken file.
- results.csv keeps its first row's columns (``aligned_row``): Ultralytics writes the header once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.utils import LOCAL_RANK, LOGGER, RANK
from ultralytics.utils.torch_utils import strip_optimizer, torch_distributed_zero_first

KD_STATE = "kd_last.pt"  # distiller state, saved beside last.pt


def tmp(path: Path) -> Path:
    """The temporary file ``path`` is written to before it is renamed into place."""
    return path.with_name(f".{path.name}.tmp")


def atomic_copy(src: Path, dst: Path) -> None:
    tmp(dst).write_bytes(src.read_bytes())
    os.replace(tmp(dst), dst)


def atomic_save(obj: Any, path: Path) -> None:
    torch.save(obj, tmp(path))
    os.replace(tmp(path), path)


def strip_atomic(path: Path, updates: dict | None = None) -> dict:
    """Ultralytics' ``strip_optimizer`` on ``path``, written through a temporary file; returns the checkpoint."""
    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)  # its own message would name the temporary file
    try:
        ckpt = strip_optimizer(path, s=str(tmp(path)), updates=updates)
    finally:
        LOGGER.setLevel(level)
    if tmp(path).exists():
        os.replace(tmp(path), path)
        LOGGER.info(f"Optimizer stripped from {path}, {path.stat().st_size / 1e6:.1f}MB")
    return ckpt


def save_checkpoints(trainer: Any, save: Any) -> Any:
    """Run Ultralytics' ``save`` (its ``BaseTrainer.save_model``: last, best, ``save_period``'s epoch{N}.pt) into
    temporary files, then rename them into place."""
    last, best, period = trainer.last, trainer.best, trainer.save_period
    epoch_pt = trainer.wdir / f"epoch{trainer.epoch}.pt" if period > 0 and trainer.epoch % period == 0 else None
    for dst in (last, best, epoch_pt):  # a temporary left by a crash must not be renamed into place below
        if dst:
            tmp(dst).unlink(missing_ok=True)
    trainer.last, trainer.best, trainer.save_period = tmp(last), tmp(best), -1  # epoch{N}.pt: written below
    try:
        saved = save()
    finally:
        trainer.last, trainer.best, trainer.save_period = last, best, period
    for dst in (last, best):
        if tmp(dst).exists():
            os.replace(tmp(dst), dst)
    if epoch_pt and last.exists():
        atomic_copy(last, epoch_pt)
    return saved


def final_eval(trainer: Any) -> None:
    """Ultralytics' final validation of best.pt (8.4.190's ``BaseTrainer.final_eval``), the optimizer stripped
    atomically."""
    model = trainer.best if trainer.best.exists() else None
    with torch_distributed_zero_first(LOCAL_RANK):
        if RANK in {-1, 0}:
            ckpt = strip_atomic(trainer.last) if trainer.last.exists() else {}
            if model:
                strip_atomic(trainer.best, updates={"train_results": ckpt.get("train_results")})
    if model:
        LOGGER.info(f"\nValidating {model}...")
        trainer.validator.args.plots = trainer.args.plots
        trainer.validator.args.compile = False
        trainer.metrics = trainer.validator(model=model)
        trainer.metrics.pop("fitness", None)
        trainer.epoch += 1  # log best metrics at step epochs+1, as Ultralytics does
        trainer.run_callbacks("on_fit_epoch_end")
        trainer.epoch -= 1


def save_distiller(distiller: nn.Module, epoch: int, wdir: Path) -> None:
    """Write the distiller's state for ``epoch`` to ``wdir/kd_last.pt``."""
    atomic_save({"epoch": epoch, "distiller": distiller.state_dict()}, wdir / KD_STATE)


def load_distiller(distiller: nn.Module, last: Path, start_epoch: int, device: torch.device) -> None:
    """Load ``kd_last.pt`` beside ``last`` (written with it at the end of epoch ``start_epoch - 1``)."""
    path = last.with_name(KD_STATE)
    if not path.is_file():
        LOGGER.warning(f"yolokd: {path} not found; the distillation modules restart from initialisation")
        return
    state = torch.load(path, map_location=device, weights_only=True)
    distiller.load_state_dict(state["distiller"])
    if state["epoch"] + 1 != start_epoch:  # a crash between writing the two files
        LOGGER.warning(
            f"yolokd: {path} is from epoch {state['epoch'] + 1}, the checkpoint from epoch "
            f"{start_epoch}; continuing with those distillation modules"
        )
    LOGGER.info(f"yolokd: restored distillation modules from {path} (epoch {state['epoch'] + 1})")


def aligned_row(csv: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` in results.csv's columns once it has a header (NaN for a missing one): a key that appears later
    (a statistic first seen at the final validation with ``val=False``) or vanishes (after ``kd_stop``) would
    otherwise shift every value after it."""
    if not csv.is_file():
        return metrics
    with open(csv, encoding="utf-8") as f:
        header = [k.strip() for k in f.readline().strip().split(",")[2:]]  # after epoch, time
    return {k: metrics.get(k, float("nan")) for k in header}


def recorded_pool(run_dir: Path) -> dict | None:
    """The ``unlabeled=`` pool's fingerprint a run's args.yaml recorded, if any."""
    import yaml

    args = run_dir / "args.yaml"
    return (yaml.safe_load(args.read_text()) or {}).get("unlabeled_fingerprint") if args.is_file() else None


def warn_changed_pool(before: dict, now: dict) -> None:
    """On resume: one line when the ``unlabeled=`` pool differs from the one the run began with, as the resumed
    epochs draw from the pool as it is now."""
    if before != now:
        LOGGER.warning(
            f"yolokd: the unlabeled images in {now['unlabeled']} changed since this run began ({before['images']} "
            f"images then, {now['images']} now, or other names or sizes); the resumed epochs draw from them as they "
            "are now. To train on the pool it began with, restore it before resuming"
        )
