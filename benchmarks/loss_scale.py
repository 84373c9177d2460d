"""How strong is each distillation term? Its logged loss next to the detection loss, per run of a compare folder.

Reads ``summary.json`` and every run's ``results.csv`` (``train/box_loss``, ``cls_loss``, ``dfl_loss``, the
yolokd terms ``kd_cwd``/``kd_cls``/``kd_box`` and Ultralytics' native ``dis_loss``); writes a Markdown table
to stdout and, with ``--png``, the curves of distillation loss / detection loss per epoch.

Usage: .venv/bin/python benchmarks/loss_scale.py runs/bench/signals [--png out.png] > losses.md
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

DET = ("train/box_loss", "train/cls_loss", "train/dfl_loss")
KD = ("train/kd_cwd", "train/kd_cls", "train/kd_box", "train/dis_loss")


def rows(run: Path) -> list[dict[str, float]]:
    with open(run / "results.csv", newline="") as f:
        return [{k.strip(): float(v) for k, v in r.items() if v.strip()} for r in csv.DictReader(f)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("compare_dir", type=Path)
    ap.add_argument("--png", type=Path)
    args = ap.parse_args()
    summary = json.loads((args.compare_dir / "summary.json").read_text())
    t = summary["teacher"]
    print(f"Teacher mAP50 {t['map50']:.3f}. Losses as logged (per image, weights applied), epochs 1 / mid / last.\n")
    print("| run | mAP50 | det (box+cls+dfl) | distillation terms | distillation / det |")
    print("|---|---:|---|---|---|")
    curves = {}
    for run in summary["runs"]:
        rs = rows(Path(run["run_dir"]))
        picks = [rs[0], rs[len(rs) // 2], rs[-1]]
        det = [sum(r[k] for k in DET) for r in picks]
        terms = [k for k in KD if k in rs[0]]
        kd = [sum(r[k] for k in terms) for r in picks]
        parts = "; ".join(f"{k.removeprefix('train/')} " + " / ".join(f"{r[k]:.3g}" for r in picks) for k in terms)
        ratio = " / ".join(f"{k / d:.3f}" for k, d in zip(kd, det)) if terms else "—"
        det_s = " / ".join(f"{d:.2f}" for d in det)
        print(f"| {run['label']} (seed {run['seed']}) | {run['map50']:.3f} | {det_s} | {parts or '—'} | {ratio} |")
        if terms:
            curves[run["label"]] = [sum(r[k] for k in terms) / sum(r[k] for k in DET) for r in rs]
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5))
        for label, ys in curves.items():
            ax.plot(range(1, len(ys) + 1), ys, label=label)
        ax.set(xlabel="epoch", ylabel="distillation loss / detection loss", yscale="log")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.png, dpi=120)


if __name__ == "__main__":
    main()
