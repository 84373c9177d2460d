"""Helpers of ``benchmarks/decide.sh``: the plateau reading and the grid's pick.

``curves COMPARE_DIR [--png out.png]``: validation mAP50 per epoch of every run of a compare folder (or of one
training run's folder, the one holding results.csv), as a
Markdown table (a 5-epoch running mean at every 10th epoch) and a plot; names the first epoch from which
the running mean stays within 0.01 of its final value (the plateau).

``pick TABLE_CSV``: the label with the highest mean paired Δ mAP50 vs ``none`` in a compare table.csv;
``top TABLE_CSV K``: the K highest, comma-separated (the grid's second round).

``verdict TABLE_CSV PICKED``: the confirmation's reading in three lines of Markdown: the picked
configuration's and native's paired Δ mAP50 vs ``none`` with their 95 % intervals, the gap closed, and
whether the picked one wins (interval above 0 and mean Δ at least native's on the same pairs).

``pairs TABLE_CSV A B``: A's paired Δ mAP50 over B from a compare table.csv's per-run columns, pooled (the
interval over seeds, each seed the mean over its folds, as the report's) and per fold, with how many pairs
are positive: one Markdown line each.

``power SUMMARY_JSON [--target 0.01] [--seeds 6]``: how finely a confirmation of this size can resolve: the
spread of the paired Δ mAP50 vs ``none`` across the pairs of each configuration (pooled over
configurations), the 95 % half-width it gives with ``--seeds`` seeds over the summary's folds, and how many
seeds a half-width of ``--target`` needs.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
from pathlib import Path

from yolokd.stats import mean_ci, t975


def map50_curve(run_dir: Path) -> list[float]:
    with open(run_dir / "results.csv", newline="") as f:
        return [float(r["metrics/mAP50(B)"]) for r in ({k.strip(): v for k, v in r.items()} for r in csv.DictReader(f))]


def running_mean(ys: list[float], n: int = 5) -> list[float]:
    return [statistics.fmean(ys[max(0, i - n + 1) : i + 1]) for i in range(len(ys))]


def plateau_epoch(ys: list[float], tol: float = 0.01) -> int:
    """The first epoch (1-based) from which the running mean stays within ``tol`` of its last value."""
    smooth = running_mean(ys)
    for i in range(len(smooth)):
        if all(abs(v - smooth[-1]) <= tol for v in smooth[i:]):
            return i + 1
    return len(smooth)


def curves(compare_dir: Path, png: Path | None) -> None:
    if (compare_dir / "results.csv").is_file():  # one run, e.g. a teacher trained with yolokd train
        runs = {compare_dir.name: map50_curve(compare_dir)}
    else:
        summary = json.loads((compare_dir / "summary.json").read_text())
        runs = {f"{r['label']} (seed {r['seed']})": map50_curve(Path(r["run_dir"])) for r in summary["runs"]}
    n = max(len(ys) for ys in runs.values())
    marks = list(range(10, n + 1, 10))
    print("Validation mAP50 during training, 5-epoch running mean, at every 10th epoch:\n")
    print("| run | " + " | ".join(str(e) for e in marks) + " | plateau from epoch |")
    print("|---" * (len(marks) + 2) + "|")
    for label, ys in runs.items():
        smooth = running_mean(ys)
        cells = " | ".join(f"{smooth[e - 1]:.3f}" if e <= len(ys) else "—" for e in marks)
        print(f"| {label} | {cells} | {plateau_epoch(ys)} |")
    print("\nplateau: the first epoch from which the running mean stays within 0.01 of its value at the last epoch.")
    if png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5))
        for label, ys in runs.items():
            line = ax.plot(range(1, len(ys) + 1), ys, alpha=0.35)[0]
            ax.plot(range(1, len(ys) + 1), running_mean(ys), color=line.get_color(), label=label)
        ax.set(xlabel="epoch", ylabel="validation mAP50", title=f"{compare_dir.name}: mAP50 per epoch (5-epoch mean)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(png, dpi=120)


def ranked(table: Path) -> list[str]:
    """The configurations of a compare table.csv (not the teacher, not ``none``), highest mean paired Δ first."""
    rows = [r for r in csv.DictReader(open(table)) if r["model"] not in ("teacher", "none") and r["d_map50"]]
    return [r["model"] for r in sorted(rows, key=lambda r: -float(r["d_map50"]))]


def pick(table: Path) -> str:
    return ranked(table)[0]


def win_line(picked: str) -> str:
    """The verdict line of a pick that wins the confirmation (the defaults follow it: tests/test_decide.py)."""
    return f"verdict: `{picked}` beats the plain student (interval above 0) and native (mean Δ ≥ native's)."


def verdict(table: Path, picked: str) -> str:
    rows = {r["model"]: r for r in csv.DictReader(open(table))}
    best, native, plain = rows[picked], rows.get("native"), rows["none"]

    def delta(r: dict) -> str:
        lo, hi = float(r["d_map50_lo"]), float(r["d_map50_hi"])
        return f"{float(r['d_map50']):+.3f} [{lo:+.3f}, {hi:+.3f}]"

    wins = float(best["d_map50_lo"]) > 0 and (native is None or float(best["d_map50"]) >= float(native["d_map50"]))
    beside = f"; native: {delta(native)}, gap closed {float(native['gap_closed']):.0%}" if native else ""
    lines = [
        f"plain student mAP50 {float(plain['map50_mean']):.3f}, teacher {float(rows['teacher']['map50_mean']):.3f}; "
        f"{best['n']} runs per model; 95 % intervals over seeds, each seed the mean over its folds",
        f"`{picked}`: Δ mAP50 vs plain {delta(best)} (95 % CI), gap closed {float(best['gap_closed']):.0%}"
        + (beside if picked != "native" else ""),
    ]
    lo, hi = float(best["d_map50_lo"]), float(best["d_map50_hi"])
    if picked == "native":
        lines.append(
            "verdict: Ultralytics' own distillation was the grid's best; "
            + ("it beats the plain student, no yolokd configuration does." if lo > 0 else "no gain shown.")
            + " The default stays."
        )
    elif wins:
        lines.append(win_line(picked))
    elif lo > 0:
        lines.append(f"verdict: `{picked}` beats the plain student but not native's mean Δ; the default stays.")
    elif hi < 0:
        lines.append(f"verdict: `{picked}` is worse than the plain student (interval below 0); the default stays.")
    elif lo <= 0 <= hi:
        lines.append(f"verdict: `{picked}`'s interval includes 0: no gain shown; the default stays.")
    else:
        lines.append("verdict: no interval (fewer than two pairs); nothing is decided.")
    return "\n".join(lines)


def pairs(table: Path, a: str, b: str) -> str:
    rows = {r["model"]: r for r in csv.DictReader(open(table))}
    runs: dict[tuple[int, int], float] = {}  # (seed, fold) -> A - B; fold 0 without folds=
    for col in rows[a]:
        if (m := re.fullmatch(r"map50_s(\d+)(?:f(\d+))?", col)) and rows[a][col] and rows[b].get(col):
            runs[int(m[1]), int(m[2] or 0)] = float(rows[a][col]) - float(rows[b][col])

    def line(name: str, per_seed: dict[int, list[float]]) -> str:
        means = [statistics.fmean(v) for v in per_seed.values()]
        d, lo, hi = mean_ci(means)
        n = sum(len(v) for v in per_seed.values())
        pos = sum(x > 0 for v in per_seed.values() for x in v)
        return (
            f"- {name}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}] over {len(means)} seeds (from {min(means):+.3f} to "
            f"{max(means):+.3f}), {pos} of {n} pairs above 0"
        )

    seeds, folds = sorted({s for s, _ in runs}), sorted({f for _, f in runs})
    lines = [f"`{a}` − `{b}`, paired Δ mAP50 (95 % interval over seeds):"]
    lines.append(line("pooled", {s: [v for (s2, _), v in runs.items() if s2 == s] for s in seeds}))
    if len(folds) > 1:
        for f in folds:
            lines.append(line(f"fold {f}", {s: [v] for (s, f2), v in sorted(runs.items()) if f2 == f}))
    return "\n".join(lines)


def power(summary: Path, target: float = 0.01, seeds: int = 6) -> str:
    """The confirmation's resolution, estimated from a comparison's paired Δ mAP50 (see the module doc)."""
    runs = json.loads(summary.read_text())["runs"]
    base = {(r["seed"], r["fold"]): r["map50"] for r in runs if r["label"] == "none"}
    deltas: dict[str, list[float]] = {}
    for r in runs:
        if r["label"] != "none" and (r["seed"], r["fold"]) in base:
            deltas.setdefault(r["label"], []).append(r["map50"] - base[r["seed"], r["fold"]])
    groups = [d for d in deltas.values() if len(d) > 1]
    dof = sum(len(d) - 1 for d in groups)
    if not dof:
        return "power: no configuration has two pairs yet; no spread to estimate."
    sd = math.sqrt(sum((x - statistics.fmean(d)) ** 2 for d in groups for x in d) / dof)
    folds = len({r["fold"] for r in runs})
    per_seed = sd / math.sqrt(folds)  # a seed's mean Δ over its folds, folds taken as independent

    def half(n: int) -> float:
        return t975(n - 1) * per_seed / math.sqrt(n)

    need = next((n for n in range(2, 10_001) if half(n) <= target), None)
    needs = f"{need} seeds ({need * folds} runs per model)" if need else "more than 10000 seeds"
    return (
        f"power: paired Δ mAP50 spreads sd {sd:.3f} across pairs ({len(groups)} configurations, {dof} degrees of"
        f" freedom); with {folds} folds per seed, {seeds} seeds give a 95 % half-width of ±{half(seeds):.3f};"
        f" ±{target:.3f} needs {needs}."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("curves")
    c.add_argument("compare_dir", type=Path)
    c.add_argument("--png", type=Path)
    p = sub.add_parser("pick")
    p.add_argument("table", type=Path)
    t = sub.add_parser("top")
    t.add_argument("table", type=Path)
    t.add_argument("k", type=int)
    v = sub.add_parser("verdict")
    v.add_argument("table", type=Path)
    v.add_argument("picked")
    q = sub.add_parser("pairs")
    q.add_argument("table", type=Path)
    q.add_argument("a")
    q.add_argument("b")
    w = sub.add_parser("power")
    w.add_argument("summary", type=Path)
    w.add_argument("--target", type=float, default=0.01)
    w.add_argument("--seeds", type=int, default=6)
    args = ap.parse_args()
    if args.cmd == "curves":
        curves(args.compare_dir, args.png)
    elif args.cmd == "pick":
        print(pick(args.table))
    elif args.cmd == "top":
        print(",".join(ranked(args.table)[: args.k]))
    elif args.cmd == "pairs":
        print(pairs(args.table, args.a, args.b))
    elif args.cmd == "power":
        print(power(args.summary, args.target, args.seeds))
    else:
        print(verdict(args.table, args.picked))


if __name__ == "__main__":
    main()
