"""The GPU checks of ``benchmarks/gpu.sh``: distillation as users run it (CUDA, Ultralytics' AMP), measured.

1. A short YOLOv8l -> YOLOv8n distillation at 640 px with AMP on the tree tiles (the teacher trained here first,
   briefly: its numerics matter, not its accuracy), yolokd's defaults: per epoch the skipped-batch fraction
   ``kd/skipped``, ``kd_cwd`` next to box/cls/dfl, and the precision the teacher and distiller ran in.
2. The step's cost: one KD step against (teacher forward + plain student step), and peak GPU memory of the KD
   step against the plain student's, with random images and boxes of the same size (AMP and GradScaler as
   Ultralytics trains; ratios within this one run).
3. One step of the distillation path (student forward, teacher, distiller, loss, backward) under
   ``torch.cuda.set_sync_debug_mode("error")``: any host-device sync in it fails, named.

Writes OUT/gpu.md and OUT/gpu.json. ``--small`` (with ``--device cpu``): tiny sizes, the dry run of the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")  # benchmarks run offline (gpu.sh sets it too); yolokd leaves it to its user
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

SIZES = {
    False: dict(teacher="yolov8l.yaml", imgsz=640, batch=16, teacher_epochs=10, epochs=5, iters=20),
    True: dict(teacher="yolov8s.yaml", imgsz=64, batch=4, teacher_epochs=1, epochs=1, iters=2),
}


def distil(data: Path, out: Path, device: str, s: dict) -> tuple[Path, list[dict], list[tuple]]:
    """Train the teacher briefly, then distil with AMP; results.csv rows and (epoch, ran_in, amp) per epoch."""
    from ultralytics.utils.torch_utils import unwrap_model

    from yolokd import DistillationTrainer, distill

    common = dict(
        data=str(data), imgsz=s["imgsz"], batch=s["batch"], device=device, workers=2, plots=False, seed=0,
        project=str(out), exist_ok=True, amp=True,
    )  # fmt: skip
    distill(s["teacher"], method="none", epochs=s["teacher_epochs"], name="teacher", val=False, **common)
    teacher = out / "teacher" / "weights" / "last.pt"
    seen: list[tuple] = []
    trainer = DistillationTrainer(
        overrides=dict(model="yolov8n.yaml", teacher=str(teacher), epochs=s["epochs"], name="student", **common)
    )
    trainer.add_callback(
        "on_train_epoch_end", lambda t: seen.append((t.epoch + 1, unwrap_model(t.model).criterion.ran_in, t.amp))
    )
    trainer.train()
    with open(out / "student" / "results.csv", newline="") as f:
        rows = [{k.strip(): float(v) for k, v in r.items() if v.strip()} for r in csv.DictReader(f)]
    return teacher, rows, seen


def _batch(n: int, imgsz: int, device, nc: int) -> dict:
    import torch

    g = torch.Generator().manual_seed(0)
    boxes = 5 * n
    xy, wh = torch.rand(boxes, 2, generator=g) * 0.6 + 0.2, torch.rand(boxes, 2, generator=g) * 0.2 + 0.05
    return {
        "img": torch.rand(n, 3, imgsz, imgsz, generator=g).to(device),
        "cls": torch.randint(0, nc, (boxes, 1), generator=g).float().to(device),
        "bboxes": torch.cat([xy, wh], 1).to(device),
        "batch_idx": torch.arange(n).repeat_interleave(5).float().to(device),
    }


def step_costs(teacher_pt: Path, device: str, s: dict) -> dict:
    """Milliseconds per plain step, teacher forward and KD step, peak memory, and the host-sync check."""
    import torch
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel

    from yolokd.cfg import check_kd_settings
    from yolokd.criterion import KDCriterion
    from yolokd.distiller import build_distiller
    from yolokd.integration.models import TeacherRunner, load_teacher, probe_levels, student_outputs

    dev = torch.device("cpu" if device == "cpu" else f"cuda:{device}")
    cuda = dev.type == "cuda"
    fmt = torch.channels_last if cuda else torch.contiguous_format  # as Ultralytics and yolokd do on CUDA
    teacher = load_teacher(teacher_pt, dev).to(memory_format=fmt)
    torch.manual_seed(0)
    student = DetectionModel("yolov8n.yaml", nc=len(teacher.names), verbose=False).to(dev).to(memory_format=fmt)
    student.args = get_cfg()  # the loss gains (box, cls, dfl)
    base = student.init_criterion()
    levels = probe_levels(student, teacher, 0.0)
    kd = check_kd_settings({}, require_teacher=False)
    distiller = build_distiller(kd, levels.student, levels.teacher, levels.reg_max).to(dev)
    runner = TeacherRunner(teacher, distiller.needs_head)
    crit = KDCriterion(base, runner, distiller, student_outputs, print)
    batch = _batch(s["batch"], s["imgsz"], dev, len(teacher.names))
    opt = torch.optim.SGD([*student.parameters(), *distiller.parameters()], lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    amp = (lambda: torch.autocast("cuda")) if cuda else contextlib.nullcontext

    def step(criterion) -> None:
        with amp():
            loss, _ = criterion(student(batch["img"]), batch)
        scaler.scale(loss.sum()).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)

    def forward() -> None:
        with torch.no_grad(), amp():
            runner(batch["img"])

    def timed(fn, *args) -> tuple[float, float | None]:
        for _ in range(3):
            fn(*args)
        if cuda:
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
        t = time.perf_counter()
        for _ in range(s["iters"]):
            fn(*args)
        if cuda:
            torch.cuda.synchronize(dev)
        ms = (time.perf_counter() - t) / s["iters"] * 1e3
        return ms, torch.cuda.max_memory_allocated(dev) / 2**20 if cuda else None

    out = {"plain": timed(step, base), "teacher": timed(forward), "kd": timed(step, crit)}
    out["sync"] = sync_check(student, crit, batch, amp) if cuda else "not checked (no CUDA device)"
    return out


def sync_check(student, crit, batch, amp) -> str:
    """The distillation path once more under CUDA's sync debug mode (the optimizer step, whose GradScaler reads
    its inf flag on the host by design, stays outside)."""
    import torch

    zero = crit.base
    crit.base = lambda preds, b: (preds["feats"][0].float().sum().reshape(1) * 0, {})  # only the distillation path
    try:
        with amp():  # once outside the mode: first-call allocations and copies are not per-step syncs
            loss, _ = crit(student(batch["img"]), batch)
        loss.sum().backward()
        torch.cuda.set_sync_debug_mode("error")
        try:
            with amp():
                loss, _ = crit(student(batch["img"]), batch)
            loss.sum().backward()
        finally:
            torch.cuda.set_sync_debug_mode(0)
        return "no host sync in the student forward, the teacher, the distiller, the loss and their backward"
    except RuntimeError as e:
        return f"host sync found: {str(e).splitlines()[0]}"
    finally:
        crit.base = zero


def report(args, s: dict, rows: list[dict], seen: list[tuple], cost: dict) -> str:
    import torch
    import ultralytics

    import yolokd

    name = torch.cuda.get_device_name(0) if args.device != "cpu" else "CPU (dry run)"
    lines = [
        f"# yolokd on {name} ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{' '.join(['bash benchmarks/gpu.sh run', str(args.out)])}` (device {args.device}"
        f"{', small dry-run sizes' if args.small else ''}); torch {torch.__version__}, ultralytics "
        f"{ultralytics.__version__}, yolokd {yolokd.__version__}; data `{args.data}`.",
        "",
        f"## 1. {s['teacher'].removesuffix('.yaml')} -> yolov8n, {s['imgsz']} px, AMP, yolokd's defaults",
        "",
        f"Teacher: {s['teacher']} trained {s['teacher_epochs']} epochs here (plain, AMP). Student: yolov8n.yaml, "
        f"{s['epochs']} epochs, kd_method=cwd, kd_precision=amp, batch {s['batch']}.",
        "",
        "| epoch | Ultralytics AMP | teacher + distiller in | box | cls | dfl | kd_cwd | kd_cwd / det | kd/skipped |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r, (epoch, ran_in, amp) in zip(rows, seen):
        det = r["train/box_loss"] + r["train/cls_loss"] + r["train/dfl_loss"]
        lines.append(
            f"| {epoch} | {'on' if amp else 'off'} | {ran_in} | {r['train/box_loss']:.3f} | "
            f"{r['train/cls_loss']:.3f} | {r['train/dfl_loss']:.3f} | {r['train/kd_cwd']:.3f} | "
            f"{r['train/kd_cwd'] / det:.3f} | {r['kd/skipped']:.3f} |"
        )
    (p_ms, p_mem), (t_ms, _), (k_ms, k_mem) = cost["plain"], cost["teacher"], cost["kd"]
    mem = f"{k_mem / p_mem:.2f}x" if p_mem else "n/a (CPU)"
    lines += [
        "",
        f"## 2. Step cost (random images, batch {s['batch']}, {s['imgsz']} px, mean of {s['iters']} steps)",
        "",
        "| step | ms | peak memory (MiB) |",
        "|---|---:|---:|",
        f"| plain student step | {p_ms:.1f} | {p_mem or 'n/a'} |",
        f"| teacher forward | {t_ms:.1f} | |",
        f"| KD step (teacher + student + distiller) | {k_ms:.1f} | {k_mem or 'n/a'} |",
        "",
        f"KD step / (teacher forward + plain step) = {k_ms / (t_ms + p_ms):.2f}; peak memory KD / plain = {mem}.",
        "",
        "## 3. Host syncs in the distillation path",
        "",
        cost["sync"],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="0")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--small", action="store_true")
    a = p.parse_args(argv)
    if not a.data.is_file():
        sys.exit(f"gpu_check: {a.data} not found; run 'bash benchmarks/gpu.sh prepare' (or pass DATA=...)")
    s = SIZES[a.small]
    a.out = a.out.resolve()
    teacher, rows, seen = distil(a.data, a.out, a.device, s)
    cost = step_costs(teacher, a.device, s)
    text = report(a, s, rows, seen, cost)
    (a.out / "gpu.md").write_text(text, encoding="utf-8")
    (a.out / "gpu.json").write_text(json.dumps({"sizes": s, "epochs": rows, "seen": seen, "cost": cost}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
