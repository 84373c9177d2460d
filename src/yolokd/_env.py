"""The process yolokd runs in: offline defaults for Ultralytics (applied before it is first imported), CPU threads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def setup_offline_env() -> None:
    """Set YOLO_OFFLINE=1, YOLO_AUTOINSTALL=0 and a writable YOLO_CONFIG_DIR unless already set."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    if "YOLO_CONFIG_DIR" not in os.environ:
        home = Path.home() / ".config" / "yolokd"
        os.environ["YOLO_CONFIG_DIR"] = str(home if _writable(home) else Path(tempfile.gettempdir()) / "yolokd-config")


def use_all_cores() -> None:
    """Train on every CPU core (up to 8): Ultralytics sets cpu_count - 1 threads, and on 2 cores both were
    measured 1.7x faster than one (benchmarks/results/step_time_cpu.md)."""
    import torch

    torch.set_num_threads(min(8, os.cpu_count() or 1))
