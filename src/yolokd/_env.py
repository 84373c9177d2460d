"""Offline defaults for Ultralytics, applied before it is first imported."""

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
