"""benchmarks/decide.py reads the decisive benchmark: its pick and its verdict decide what the README claims."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "decide.py"
if not SCRIPT.is_file():
    pytest.skip("benchmarks/ is part of the source tree, not of the wheel", allow_module_level=True)
spec = importlib.util.spec_from_file_location("decide", SCRIPT)
decide = importlib.util.module_from_spec(spec)
spec.loader.exec_module(decide)


def _table(path: Path, rows: dict[str, tuple]) -> Path:
    """rows: model -> (mean mAP50, Δ, lo, hi); teacher 0.70, plain 0.60."""
    keys = ["model", "n", "map50_mean", "d_map50", "d_map50_lo", "d_map50_hi", "gap_closed"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerow({"model": "teacher", "n": 3, "map50_mean": 0.70})
        w.writerow({"model": "none", "n": 18, "map50_mean": 0.60, "gap_closed": 0})
        for m, (mean, d, lo, hi) in rows.items():
            w.writerow(
                {
                    "model": m,
                    "n": 18,
                    "map50_mean": mean,
                    "d_map50": d,
                    "d_map50_lo": lo,
                    "d_map50_hi": hi,
                    "gap_closed": d / 0.10,
                }
            )
    return path


@pytest.mark.parametrize(
    "best, native, picked, says",
    [
        ((0.62, 0.02, 0.008, 0.032), (0.61, 0.01, -0.002, 0.022), "cwd", "`cwd` beats the plain student"),
        ((0.62, 0.02, 0.008, 0.032), (0.63, 0.03, 0.01, 0.05), "cwd", "but not native's mean Δ; the default stays"),
        ((0.59, -0.02, -0.03, -0.01), (0.61, 0.01, -0.002, 0.022), "cwd", "worse than the plain student"),
        ((0.61, 0.01, -0.004, 0.024), (0.60, 0.0, -0.01, 0.01), "cwd", "interval includes 0: no gain shown"),
        ((0.61, 0.01, float("nan"), float("nan")), (0.60, 0.0, -0.01, 0.01), "cwd", "no interval"),
    ],
)
def test_verdict_follows_the_issues_rule(tmp_path, best, native, picked, says):
    text = decide.verdict(_table(tmp_path / "t.csv", {"native": native, picked: best}), picked)
    assert says in text.splitlines()[-1]
    assert f"native: {native[1]:+.3f}" in text.splitlines()[1]  # native beside the pick, on the same pairs
    assert f"gap closed {best[1] / 0.10:.0%}" in text.splitlines()[1]


def test_pick_is_the_highest_mean_delta_and_never_the_plain_student(tmp_path):
    rows = {"native": (0.61, 0.01, 0, 0), "cwd": (0.62, 0.02, 0, 0), "response@kd_cls=1": (0.59, -0.01, 0, 0)}
    assert decide.pick(_table(tmp_path / "t.csv", rows)) == "cwd"
