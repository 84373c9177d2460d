"""How strong is each distillation term? Its logged loss next to the detection loss.

Per run of a compare folder: reads ``summary.json`` and every run's ``results.csv`` (``train/box_loss``,
``cls_loss``, ``dfl_loss``, the yolokd terms ``kd_cwd``/``kd_cls``/``kd_box`` and Ultralytics' native
``dis_loss``); writes a Markdown table to stdout and, with ``--png``, the curves of distillation loss /
detection loss per epoch.

``measure``: the same ratio for yolokd's default (``kd_method=cwd``) at the image sizes and batch sizes users
train at, over the first epochs of short trainings (seed 0, the benchmark's recipe: Adam lr0 0.001, nbs =
batch, no validation): does the CWD term keep its strength relative to box/cls/dfl when each level has 4x the
positions? Prints one row per size and batch and the ratio of ratios 640 / 320 px.

Usage: .venv/bin/python benchmarks/loss_scale.py runs/bench/signals [--png out.png] > losses.md
       .venv/bin/python benchmarks/loss_scale.py measure DATA.yaml TEACHER.pt OUT_DIR [--epochs 3]
           [--imgsz 320,640] [--batch 8,16]          (the table: OUT_DIR/loss_scale.md, also printed last)
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


def measure(data: Path, teacher: Path, out: Path, epochs: int, sizes: list[int], batches: list[int]) -> None:
    import os

    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    import yolokd

    ratios: dict[tuple[int, int], list[float]] = {}
    lines = [
        f"yolokd {yolokd.__version__}, default kd_method=cwd; teacher `{teacher}`; data `{data}`; first {epochs} "
        "epochs of each training (mosaic on, as a long run's first epochs); losses as logged per epoch.",
        "",
        "| imgsz | batch | det (box+cls+dfl) per epoch | kd_cwd per epoch | kd_cwd / det per epoch | mean |",
        "|---:|---:|---|---|---|---:|",
    ]
    for imgsz in sizes:
        for batch in batches:
            run = out / f"i{imgsz}-b{batch}"
            if not ((run / "results.csv").is_file() and len(rows(run)) >= epochs):
                yolokd.distill(
                    student="yolov8n.yaml", teacher=str(teacher), data=str(data), epochs=epochs, imgsz=imgsz,
                    batch=batch, nbs=batch, seed=0, workers=2, val=False, plots=False, close_mosaic=0,
                    project=str(out), name=run.name, exist_ok=True,
                )  # fmt: skip
            rs = rows(run)[:epochs]
            det = [sum(r[k] for k in DET) for r in rs]
            kd = [r["train/kd_cwd"] for r in rs]
            ratios[imgsz, batch] = [k / d for k, d in zip(kd, det)]
            mean = sum(ratios[imgsz, batch]) / len(rs)
            cells = [" / ".join(f"{v:.3g}" for v in vs) for vs in (det, kd, ratios[imgsz, batch])]
            lines.append(f"| {imgsz} | {batch} | {cells[0]} | {cells[1]} | {cells[2]} | {mean:.3f} |")
    lo, hi = min(sizes), max(sizes)
    lines += ["", f"kd_cwd / det at {hi} px over the same at {lo} px (mean over the epochs):"]
    for batch in batches:
        a, b = (sum(ratios[s, batch]) / len(ratios[s, batch]) for s in (lo, hi))
        lines.append(f"- batch {batch}: {b / a:.2f}x")
    (out / "loss_scale.md").write_text("\n".join(lines) + "\n")  # Ultralytics logs to stdout while it trains
    print("\n".join(lines))


def main() -> None:
    import sys

    if sys.argv[1:2] == ["measure"]:
        mp = argparse.ArgumentParser(prog="loss_scale.py measure")
        mp.add_argument("data", type=Path)
        mp.add_argument("teacher", type=Path)
        mp.add_argument("out", type=Path)
        mp.add_argument("--epochs", type=int, default=3)
        mp.add_argument("--imgsz", default="320,640")
        mp.add_argument("--batch", default="8,16")
        a = mp.parse_args(sys.argv[2:])
        ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
        return measure(a.data, a.teacher, a.out.resolve(), a.epochs, ints(a.imgsz), ints(a.batch))
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
