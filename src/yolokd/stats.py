"""The statistics of a ``yolokd compare`` report, apart from how it is written (:mod:`yolokd.report`).

Runs are paired by seed (by seed and fold with ``folds=``), and each method's difference to the plain student
is the mean paired difference with a 95 % Student-t interval over seeds. With folds, a seed's difference is the
mean over its folds (every image validated once): the folds of one seed share most training images, so they are
not independent pairs. "Gap closed" is the paired Δ mAP50 / (teacher − student) over the same pairs; with a
ceiling row (``none@labelled=1``, compare ``labelled=``), "label gap closed" is Δ / (ceiling − none) likewise.
Each task is judged on its own metric (:data:`TASK_METRICS`): segment on its masks, pose on its keypoints.
Pure Python: no files, no Markdown, no Ultralytics.
"""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

# Two-sided 95 % quantiles t(0.975, df) of Student's t distribution, df = 1..30 (standard tables).
T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)
METRICS = (("map50", "mAP50"), ("map50_95", "mAP50-95"))
BOX = (("map50", "box mAP50"), ("map50_95", "box mAP50-95"))
# What compare reports of each task: (key in metrics.json, name). The first pair is the task's own metric: the
# first of it is the primary (gap closed, the per-run tables), and the paired intervals are on both. The rest
# are the detection branch's boxes of a segment or pose model (Ultralytics' SegmentMetrics.seg / .box,
# PoseMetrics.pose / .box); an obb model's boxes are its rotated boxes (OBBMetrics.box), its only metric.
TASK_METRICS = {
    "detect": METRICS,
    "segment": (("mask_map50", "mask mAP50"), ("mask_map50_95", "mask mAP50-95"), *BOX),
    "pose": (("pose_map50", "pose mAP50"), ("pose_map50_95", "pose mAP50-95"), *BOX),
    "obb": (("map50", "OBB mAP50"), ("map50_95", "OBB mAP50-95")),
}
POOLED = ("precision", "recall", *{k for ms in TASK_METRICS.values() for k, _ in ms})  # pooled over fold teachers


def task_of(runs: list[dict]) -> str:
    """The task of a comparison's runs, as their metrics.json says (``task``; a detect run's has none)."""
    return next((r["task"] for r in runs if r.get("task")), "detect")


def metrics_of(task: str) -> tuple[tuple[str, str], ...]:
    """The (key, name) metrics of ``task`` that compare reports, its own pair first (see TASK_METRICS)."""
    return TASK_METRICS[task]


def t975(df: int) -> float:
    """t(0.975, df); beyond the table a Cornish-Fisher expansion around the normal quantile (error < 1e-3)."""
    if df < 1:
        raise ValueError("df must be >= 1")
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of a 95 % t-interval; low = high = nan for fewer than two values."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.nan, math.nan
    half = t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m, m - half, m + half


def pair(run: dict) -> str:
    """The key that pairs runs across methods: ``s0``, or ``s0f1`` with folds."""
    return f"s{run['seed']}" + ("" if run.get("fold") is None else f"f{run['fold']}")


def _pair_order(run: dict) -> tuple[int, int]:
    return run["seed"], run.get("fold") or 0


def complete_block(folds_of: dict[int, set]) -> tuple[list[int], list]:
    """The seeds and folds of the largest complete block of pairs (every seed in it has every fold in it).

    A comparison under way has seeds that reached different folds; the interval averages each seed over the
    same folds, so one fold's difficulty never counts as a difference between seeds. Blocks of two or more
    seeds (an interval needs two) come first, then the most pairs, then the most seeds."""
    folds = sorted({f for fs in folds_of.values() for f in fs}, key=lambda f: (f is None, f or 0))
    best: tuple[tuple[bool, int, int], list[int], list] = ((False, 0, 0), [], [])
    for n in range(len(folds), 0, -1):
        for block in itertools.combinations(folds, n):
            seeds = sorted(s for s, fs in folds_of.items() if set(block) <= fs)
            key = (len(seeds) > 1, len(seeds) * n, len(seeds))
            if key > best[0]:
                best = (key, seeds, list(block))
    return best[1], best[2]


def pool_teachers(model: str, teachers: list[dict]) -> dict[str, Any]:
    """The teacher's record: the one teacher's, or with folds the mean over the folds' teachers (each on its
    own fold), their validation boxes summed, and each fold's record under ``folds``."""
    if len(teachers) == 1 and teachers[0]["fold"] is None:
        return {"label": "teacher", "model": model, **teachers[0]}
    keys = [k for k in POOLED if all(k in t for t in teachers)]
    pooled = {k: statistics.fmean(t[k] for t in teachers) for k in sorted(keys)}
    boxes = sum(t["val_boxes"] for t in teachers)
    return {
        "label": "teacher",
        "model": model,
        "weights": teachers[0]["weights"],
        "how": teachers[0]["how"],
        **{k: teachers[0][k] for k in ("params_m", "gflops") if k in teachers[0]},
        **pooled,
        "val_boxes": boxes,
        "folds": teachers,
    }


def summarize(
    teacher: dict, runs: list[dict], labels: list[str], metrics: tuple[tuple[str, str], ...] = METRICS
) -> list[dict[str, Any]]:
    """One row per model: mean, std and per-pair values, paired differences to ``none``, gap closed, for each of
    ``metrics`` (:func:`metrics_of` the task; a teacher of another task lacks the task's own: nan)."""
    p = metrics[0][0]  # the primary metric: gap closed is on it
    base = {pair(r): r for r in runs if r["label"] == "none"}
    t_row: dict[str, Any] = {"model": "teacher", "n": 1, "weights": teacher["weights"]}
    t_row.update({k: teacher[k] for k in ("params_m", "gflops") if k in teacher})
    t_row.update({f"{k}_mean": teacher.get(k, math.nan) for k, _ in metrics})
    if teacher.get("folds"):  # one teacher per fold
        t_row["n"] = len(teacher["folds"])
        if len(teacher["folds"]) > 1:  # (a comparison under way may have reached one fold only)
            t_row.update(
                {f"{k}_std": statistics.stdev(t.get(k, math.nan) for t in teacher["folds"]) for k, _ in metrics}
            )
    rows, blocks = [t_row], {}
    for label in labels:
        rs = sorted((r for r in runs if r["label"] == label), key=_pair_order)
        if not rs:
            continue
        row: dict[str, Any] = {"model": label, "n": len(rs), "weights": rs[0]["weights"]}
        if "params_m" in rs[0]:  # measured when the run was validated (a recorded run has no weights here)
            row["params_m"], row["gflops"] = rs[0]["params_m"], rs[0]["gflops"]
        if timed := [r["epoch_s"] for r in rs if r.get("epoch_s") is not None]:
            row["epoch_s"] = statistics.fmean(timed)  # seconds per epoch, mean over runs
        paired = {pair(r): r for r in rs if pair(r) in base} if label != "none" else {}
        if paired:  # the interval's unit is the seed (with folds: its mean over the same folds for every seed)
            folds_of: dict[int, set] = {}
            for r in paired.values():
                folds_of.setdefault(r["seed"], set()).add(r.get("fold"))
            seeds, folds = blocks[label] = complete_block(folds_of)
            row["d_pairs"] = len(seeds) * len(folds)
            if row["d_pairs"] < len(paired):  # the others wait for their folds
                row["d_block"] = f"seeds {','.join(map(str, seeds))} × folds {','.join(map(str, folds))}"
        for k, _ in metrics:
            vals = [r[k] for r in rs]
            row[f"{k}_mean"] = statistics.fmean(vals)
            row[f"{k}_std"] = statistics.stdev(vals) if len(vals) > 1 else math.nan
            row.update({f"{k}_{pair(r)}": r[k] for r in rs})
            if label in blocks:
                diff = {key: r[k] - base[key][k] for key, r in paired.items()}
                seeds, folds = blocks[label]
                diffs = [statistics.fmean(diff[pair({"seed": s, "fold": f})] for f in folds) for s in seeds]
                row[f"d_{k}"], row[f"d_{k}_lo"], row[f"d_{k}_hi"] = mean_ci(diffs)
        rows.append(row)
    # gap closed: the paired Δ of the primary metric over the mean (teacher − none) of the same pairs (with folds,
    # each pair's fold teacher), so a comparison under way compares like with like
    t_p = teacher.get(p, math.nan)
    at_fold = {t.get("fold"): t.get(p, math.nan) for t in teacher.get("folds") or []}
    for row in rows[1:]:
        if row["model"] == "none":
            row["gap_closed"] = 0.0 if t_p > row[f"{p}_mean"] else math.nan
            continue
        seeds, folds = blocks.get(row["model"], ([], []))
        gaps = [at_fold.get(f, t_p) - base[pair({"seed": s, "fold": f})][p] for s in seeds for f in folds]
        gap = statistics.fmean(gaps) if gaps else math.nan
        row["gap_closed"] = row[f"d_{p}"] / gap if gap > 0 else math.nan
    ceiling = next((label for label in labels if is_ceiling(label)), None)
    if ceiling is not None:
        label_gap(rows, runs, ceiling, p)
    return rows


def is_ceiling(label: str) -> bool:
    """Whether a row is ``none@labelled=1``: the plain student on all of the training labels (compare labelled=)."""
    head, *options = label.split("@")
    return head == "none" and [o.partition("=")[0] for o in options] == ["labelled"]


def label_gap(rows: list[dict[str, Any]], runs: list[dict], ceiling: str, p: str) -> None:
    """Each student row's ``label_gap_closed``: its Δ ``p`` to the floor (``none``, on the labelled part) over the
    ceiling's Δ (``ceiling``, on all labels), a ratio of the means over the (seed, fold) pairs that have the row,
    the floor and the ceiling, not a mean of per-pair ratios (a pair's own ceiling − floor can be near 0)."""
    base = {pair(r): r for r in runs if r["label"] == "none"}
    top = {pair(r): r for r in runs if r["label"] == ceiling}
    for row in rows:
        rs = [r for r in runs if r["label"] == row["model"] and pair(r) in base and pair(r) in top]
        if row["model"] == "teacher" or not rs:
            continue
        gap = statistics.fmean(top[pair(r)][p] - base[pair(r)][p] for r in rs)
        gained = statistics.fmean(r[p] - base[pair(r)][p] for r in rs)
        row["label_gap_closed"] = gained / gap if gap > 0 else math.nan
