"""CPU threads for training: every core for the run, then the process's own setting back.

yolokd changes nothing else in the process: Ultralytics' environment (``YOLO_OFFLINE``, ``YOLO_AUTOINSTALL``,
``YOLO_CONFIG_DIR``) and settings (``runs_dir``, ``datasets_dir``, the loggers) are the user's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def all_cores() -> int:
    """Every CPU core, up to 8: Ultralytics trains on cpu_count - 1 threads, and on 2 cores both were measured
    1.7x faster than one (benchmarks/results/step_time_cpu.md)."""
    return min(8, os.cpu_count() or 1)


@contextmanager
def torch_threads(n: int | None = None) -> Iterator[None]:
    """Run the block with ``n`` torch threads (None: as many as the block sets), then restore the number the
    process had, also on error: torch's thread count is process-wide, and a training must not keep it."""
    import torch

    before = torch.get_num_threads()
    try:
        if n is not None:
            torch.set_num_threads(n)
        yield
    finally:
        torch.set_num_threads(before)
