"""Deployment facts of a distilled student: ONNX Runtime CPU latency against the teacher, parameters and
FLOPs against the plain student, ONNX-vs-PyTorch output parity.

    .venv/bin/python benchmarks/deploy.py                # the models `make demo` trains
    .venv/bin/python benchmarks/deploy.py --compare DIR  # any `yolokd compare` folder with none and --method
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import _offline  # noqa: F401  # isort: skip  (YOLO_OFFLINE=1, YOLO_AUTOINSTALL=0 before Ultralytics)
import onnxruntime
import torch

from yolokd.cfg import KD_DEFAULTS
from yolokd.deploy import export_onnx, onnx_parity, ort_latency_ms, params_and_gflops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", default="runs/yolokd-demo/compare", help="a `yolokd compare` output folder")
    ap.add_argument("--method", default=KD_DEFAULTS["kd_method"], help="the distilled row (default: the demo's)")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--out", default="benchmarks/results/deploy_cpu.md")
    args = ap.parse_args()
    cmp = Path(args.compare)
    teacher = (
        Path(json.loads((cmp / "summary.json").read_text())["teacher"]["weights"])
        if (cmp / "summary.json").is_file()
        else cmp / "teacher" / "weights" / "best.pt"
    )
    models = {
        f"student, distilled ({args.method})": cmp / f"{args.method}-s0" / "weights" / "best.pt",
        "student, plain (none)": cmp / "none-s0" / "weights" / "best.pt",
        "teacher": teacher,
    }
    if missing := [str(pt) for pt in models.values() if not pt.is_file()]:
        sys.exit(f"{missing} not found: run `make demo` (or pass --compare DIR of a `yolokd compare` run) first")
    onnx = {name: export_onnx(pt, args.imgsz) for name, pt in models.items()}
    latency = dict(zip(models, ort_latency_ms(list(onnx.values()), args.imgsz, args.runs)))
    rows = [
        (name, *params_and_gflops(pt, args.imgsz), latency[name], onnx_parity(pt, onnx[name], args.imgsz))
        for name, pt in models.items()
    ]
    lines = [
        "# Deployment: ONNX Runtime on CPU",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- machine: {platform.processor() or 'CPU'} ({os.cpu_count()} cores); onnxruntime {onnxruntime.__version__}, "
        f"torch {torch.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- batch 1, imgsz {args.imgsz}, median of {args.runs} interleaved runs after 5 warm-up; models from "
        f"`{cmp}` (latency does not depend on the weights)",
        "",
        "| model | parameters | GFLOPs | ORT latency ms | max abs diff ONNX vs PyTorch |",
        "|---|---:|---:|---:|---:|",
        *(f"| {n} | {p:,} | {g:.2f} | {lat:.1f} | {d:.2e} |" for n, p, g, lat, d in rows),
        "",
        f"Distilled student vs teacher latency: {rows[2][3] / rows[0][3]:.2f}x faster. The distilled student has "
        f"{'the same' if rows[0][1:3] == rows[1][1:3] else 'DIFFERENT'} parameters and FLOPs as the plain student.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
