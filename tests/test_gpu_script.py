"""benchmarks/gpu.sh, the GPU checks run on a lent GPU, dry-run on the CPU at tiny sizes so the script cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if not (ROOT / "benchmarks" / "gpu.sh").is_file():
    pytest.skip("benchmarks/ is part of the source tree, not of the wheel", allow_module_level=True)


def test_gpu_script_dry_run(data, tmp_path):
    out = tmp_path / "gpu"
    env = {**os.environ, "DEVICE": "cpu", "SMALL": "1", "DATA": str(data), "PYTHON": sys.executable}
    res = subprocess.run(
        ["bash", "benchmarks/gpu.sh", "run", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = (out / "gpu.md").read_text()
    assert "| 1 | off | fp32 |" in text, text  # on the CPU Ultralytics' AMP is off: the teacher ran in float32
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert float(row.split("|")[-2]) == 0.0 and float(row.split("|")[-4]) > 0  # nothing skipped; kd_cwd trained
    assert "KD step / (teacher forward + plain step) = " in text and "not checked (no CUDA device)" in text
    assert "torch" in (out / "versions.txt").read_text()
