"""benchmarks/decide.py reads the decisive benchmark: its pick and its verdict decide what the README claims."""

from __future__ import annotations

import csv
import importlib.util
import json
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
    assert (text.splitlines()[-1] == decide.win_line(picked)) == (says == "`cwd` beats the plain student")
    assert f"native: {native[1]:+.3f}" in text.splitlines()[1]  # native beside the pick, on the same pairs
    assert f"gap closed {best[1] / 0.10:.0%}" in text.splitlines()[1]


def test_pick_is_the_highest_mean_delta_and_never_the_plain_student(tmp_path):
    rows = {"native": (0.61, 0.01, 0, 0), "cwd": (0.62, 0.02, 0, 0), "response@kd_cls=1": (0.59, -0.01, 0, 0)}
    assert decide.pick(_table(tmp_path / "t.csv", rows)) == "cwd"
    assert decide.ranked(tmp_path / "t.csv") == ["cwd", "native", "response@kd_cls=1"]


def test_power_pools_each_configurations_spread_and_counts_the_seeds_needed(tmp_path):
    """Δ per fold: cwd 0.01/0.03/0.05, native 0.00/0.02/-0.02 -> pooled sd sqrt(0.0016 / 4) = 0.02; a seed's
    mean over 3 folds has sd 0.02/sqrt(3); 6 seeds: 2.571 * 0.011547 / sqrt(6) = 0.0121; ±0.01 needs 8 seeds
    (7: 2.447 * 0.011547 / sqrt(7) = 0.0107; 8: 2.365 * 0.011547 / sqrt(8) = 0.0097). A configuration with one
    pair has no spread and is left out."""
    runs = [{"label": "none", "seed": 0, "fold": f, "map50": 0.5 + 0.1 * f} for f in range(3)]
    for label, ds in {"cwd": (0.01, 0.03, 0.05), "native": (0.0, 0.02, -0.02), "cwd_attn": (0.4,)}.items():
        runs += [{"label": label, "seed": 0, "fold": f, "map50": 0.5 + 0.1 * f + d} for f, d in enumerate(ds)]
    (tmp_path / "summary.json").write_text(json.dumps({"runs": runs}))
    text = decide.power(tmp_path / "summary.json")
    assert "sd 0.020 across pairs (2 configurations, 4 degrees of freedom)" in text
    assert "6 seeds give a 95 % half-width of ±0.012" in text
    assert "±0.010 needs 8 seeds (24 runs per model)" in text
    (tmp_path / "one.json").write_text(json.dumps({"runs": runs[:3] + runs[-1:]}))
    assert "no spread to estimate" in decide.power(tmp_path / "one.json")


def test_the_defaults_follow_the_committed_confirmation():
    """Issue 14: yolokd's defaults become the confirmation's pick, trained under the benchmark's recipe, only where
    the committed verdict says it beats the plain student and native; until then, and otherwise, the paper's."""
    from yolokd.cfg import KD_DEFAULTS, RECIPES
    from yolokd.compare.args import parse_methods

    results = SCRIPT.parent / "results" / "decide_cpu"
    picked = (results / "select" / "picked.txt").read_text().strip()
    verdict = results / "confirm" / "verdict.md"
    won = verdict.is_file() and decide.win_line(picked) in verdict.read_text().splitlines()
    assert "recipe=paper" in (SCRIPT.parent / "decide.sh").read_text()  # the benchmark trains every row so
    paper = RECIPES["paper"]
    kd = ("kd_method", "kd_tau", "kd_weight")
    if won:  # the paper's kd settings with the pick's overrides (the keys its label sets)
        expected = {**{k: paper[k] for k in kd}, **dict(parse_methods(picked))[picked]}
        assert {k: KD_DEFAULTS[k] for k in expected} == expected
        assert RECIPES["default"] == {k: paper[k] for k in ("optimizer", "lr0", "momentum")}
    else:
        assert {k: KD_DEFAULTS[k] for k in kd} == {k: paper[k] for k in kd} and RECIPES["default"] == {}


def test_pairs_by_hand(tmp_path):
    """A − B per (seed, fold) from table.csv's run columns: the pooled interval is over seeds (each the mean of
    its folds), then one per fold; a run only one model has is left out."""
    diffs = {"s0f0": 0.02, "s0f1": 0.04, "s1f0": -0.02, "s1f1": 0.02}
    cols = [f"map50_{k}" for k in [*diffs, "s2f0"]]
    with open(tmp_path / "t.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["model", *cols])
        w.writeheader()
        w.writerow({"model": "a", **{f"map50_{k}": 0.5 + d for k, d in diffs.items()}, "map50_s2f0": 0.9})
        w.writerow({"model": "b", **{f"map50_{k}": 0.5 for k in diffs}, "map50_s2f0": ""})
    # seed means 0.03 and 0.00: sd 0.0212, half-width 12.706 * 0.0212 / sqrt(2) = 0.191
    assert decide.pairs(tmp_path / "t.csv", "a", "b").splitlines() == [
        "`a` − `b`, paired Δ mAP50 (95 % interval over seeds):",
        "- pooled: +0.015 [-0.176, +0.206] over 2 seeds (from +0.000 to +0.030), 3 of 4 pairs above 0",
        "- fold 0: +0.000 [-0.254, +0.254] over 2 seeds (from -0.020 to +0.020), 1 of 2 pairs above 0",
        "- fold 1: +0.030 [-0.097, +0.157] over 2 seeds (from +0.020 to +0.040), 2 of 2 pairs above 0",
    ]


def test_curves_read_one_training_run_as_well_as_a_compare_folder(tmp_path, capsys):
    """The scarce benchmark's teacher step reads a teacher trained with yolokd train: a folder with results.csv."""
    run = tmp_path / "f0"
    run.mkdir()
    ys = [min(0.5, 0.01 * e) for e in range(1, 81)]  # rises to 0.5 at epoch 50, then flat
    rows = "".join(f"{e},{y}\n" for e, y in enumerate(ys, 1))
    (run / "results.csv").write_text("epoch,  metrics/mAP50(B)\n" + rows)
    decide.curves(run, None)
    out = capsys.readouterr().out
    assert "| f0 | 0.080 | 0.180 |" in out
    assert out.rstrip().splitlines()[-3].endswith("| 0.500 | 0.500 | 0.500 | 52 |")  # from 52 within 0.01 of 0.5
