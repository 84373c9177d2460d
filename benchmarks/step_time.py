"""Time a yolokd distillation step against its parts and against Ultralytics' native distillation.

One process, the same random batches for every variant, warm-up, then rounds in which every
variant runs once (interleaved, so machine noise hits all alike); medians over the rounds.

    .venv/bin/python benchmarks/step_time.py                      # CPU size: YOLOv8s -> YOLOv8n, 320 px, batch 8
    .venv/bin/python benchmarks/step_time.py --device 0 --teacher yolov8l.yaml --imgsz 640 --batch 16 --amp

Variants: (a) plain student step, (b) teacher forward as yolokd runs it, (c) yolokd step for cwd
and cwd_attn, (d) Ultralytics' native distillation step, (e) the teacher's plain unfused fp32
eval forward, (f) the cwd step with r unlabeled images per labelled one (``unlabeled_ratio`` 1 and 3).
Writes a Markdown report (``--out``) with medians, ratios against the targets of issues 5 and 30, and peak
memory per variant. Issue 30's: with r unlabeled images per labelled one a step costs at most (1 + r) x the
labelled cwd step (the teacher and the student each see every image once), or, where the machine itself costs
more per image in larger batches, within 5 % of the plain student's own cost of (1 + r) x its batch (the
reference rows; a CPU's caches are the usual cause).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from copy import deepcopy
from pathlib import Path

import _offline  # noqa: F401  # isort: skip  (YOLO_OFFLINE=1, YOLO_AUTOINSTALL=0 before Ultralytics)
import torch
from ultralytics.cfg import get_cfg
from ultralytics.nn.distill_model import DistillationModel
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils.torch_utils import autocast

from yolokd.cfg import check_kd_settings
from yolokd.criterion import KDCriterion
from yolokd.distiller import Outputs, build_distiller
from yolokd.integration.models import TeacherRunner, detect_head, prepare_teacher, student_outputs
from yolokd.recorder import FeatureRecorder, probe_features

UNLABELED_RATIOS = (1, 3)  # unlabeled images per labelled one (issue 30)


def make_batch(n: int, imgsz: int, nc: int, device: torch.device, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    boxes = 4
    xy = torch.rand(n * boxes, 2, generator=g) * 0.6 + 0.2
    wh = torch.rand(n * boxes, 2, generator=g) * 0.3 + 0.05
    return {
        "img": torch.rand(n, 3, imgsz, imgsz, generator=g).to(device),
        "batch_idx": torch.arange(n).repeat_interleave(boxes).float().to(device),
        "cls": torch.randint(0, nc, (n * boxes, 1), generator=g).float().to(device),
        "bboxes": torch.cat([xy, wh], 1).to(device),
    }


def build(args, device):
    nc = 2
    hyp = get_cfg(overrides={"imgsz": args.imgsz})
    student = DetectionModel(args.student, nc=nc, verbose=False).to(device).train()
    student.args = hyp
    teacher = DetectionModel(args.teacher, nc=nc, verbose=False).to(device).eval()
    teacher.args = hyp
    if device.type == "cuda":
        student = student.to(memory_format=torch.channels_last)
        teacher = teacher.to(memory_format=torch.channels_last)
    teacher.requires_grad_(False)
    return student, teacher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", default="yolov8n.yaml")
    ap.add_argument("--teacher", default="yolov8s.yaml")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true", help="autocast fp16 (CUDA)")
    ap.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1), help="CPU threads (yolokd's)")
    ap.add_argument("--threads-sweep", action="store_true", help="also time 1..cpu_count threads (CPU)")
    ap.add_argument("--out", default="benchmarks/results/step_time_cpu.md")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device("cpu" if args.device == "cpu" else f"cuda:{args.device}")
    cuda = device.type == "cuda"
    student0, teacher0 = build(args, device)
    batch = make_batch(args.batch, args.imgsz, 2, device)
    img = batch["img"]

    # (b) yolokd's teacher: fused, eval, no grad, stops at the Detect head's inputs
    yk_teacher = prepare_teacher(deepcopy(teacher0))
    recorder = FeatureRecorder(yk_teacher, detect_head(yk_teacher, "teacher"))
    s_ch = [s[1] for s in probe_features(student0, detect_head(student0, "student"), 128)]
    t_ch = [s[1] for s in probe_features(yk_teacher, detect_head(yk_teacher, "teacher"), 128)]
    kd_settings = check_kd_settings({"kd_tau": 0.5, "kd_attn_mode": "student"}, require_teacher=False)

    def trainable(method, ratio=0, scale=1):
        student = deepcopy(student0)
        params = list(student.parameters())
        crit = student.init_criterion()
        if method in ("cwd", "cwd_attn"):
            distiller = build_distiller({**kd_settings, "kd_method": method}, s_ch, t_ch).to(device)
            params += list(distiller.parameters())
            runner = TeacherRunner(yk_teacher, need_head=False)
            weight = 1.0 if ratio else None  # kd_unlabeled; None: no unlabeled images in the run
            crit = KDCriterion(crit, runner, distiller, student_outputs, forward=student, unlabeled_weight=weight)
        opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9)
        step_batch = batch if scale == 1 else make_batch(args.batch * scale, args.imgsz, 2, device)
        if ratio:  # the trainer's stream adds them as batch["unlabeled_img"]
            unl = make_batch(args.batch * ratio, args.imgsz, 2, device, seed=1)["img"]
            step_batch = {**batch, "unlabeled_img": unl}

        def step():
            with autocast(args.amp, device=device.type):
                loss, _ = crit(student(step_batch["img"]), step_batch)
            loss.sum().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        return step

    def native():
        student = deepcopy(student0)
        dm = DistillationModel(teacher_model=deepcopy(teacher0), student_model=student).to(device)
        opt = torch.optim.SGD([p for p in dm.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)

        def step():
            with autocast(args.amp, device=device.type):
                loss, _ = dm.loss(batch)
            loss.sum().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        return step

    def forward(fn, amp=args.amp):
        def step():
            with torch.no_grad(), autocast(amp, device=device.type):
                fn(img)

        return step

    def distiller_alone():  # what yolokd adds: adapters + attention + CWD, forward and backward
        with torch.no_grad():
            s_feats = [f.detach() for f in student0(img)["feats"]]
            t_feats = recorder(img)
        distiller = build_distiller({**kd_settings, "kd_method": "cwd_attn"}, s_ch, t_ch).to(device)
        leaves = [f.clone().requires_grad_(True) for f in s_feats]

        def step():
            with autocast(args.amp, device=device.type):
                kd = distiller(Outputs(leaves), Outputs(t_feats))["kd_loss"]
            kd.backward()

        return step

    factories = {  # built lazily: a memory-measuring child process builds only its own variant
        "student step": lambda: trainable("none"),
        "teacher forward (yolokd)": lambda: forward(recorder),
        "yolokd step cwd": lambda: trainable("cwd"),
        "yolokd step cwd_attn": lambda: trainable("cwd_attn"),
        "native distillation step": native,
        "teacher eval forward, unfused fp32": lambda: forward(teacher0, amp=False),
        "distiller alone, cwd_attn (fwd+bwd)": distiller_alone,
        **{f"yolokd step cwd, unlabeled_ratio {r}": (lambda r=r: trainable("cwd", r)) for r in UNLABELED_RATIOS},
        **{f"student step, batch x{1 + r}": (lambda r=r: trainable("none", scale=1 + r)) for r in UNLABELED_RATIOS},
    }
    if only := os.environ.get("YOLOKD_BENCH_ONLY"):  # child process of peak_memory()
        fn = factories[only]()
        before = _peak_rss_mib()
        for _ in range(2):
            fn()
        print(max(_peak_rss_mib() - before, 0.0))
        return
    variants = {k: f() for k, f in factories.items()}

    def timed(fn):
        if cuda:
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter() - t

    def medians(names):
        for k in names:
            for _ in range(args.warmup):
                variants[k]()
        times = {k: [] for k in names}
        for _ in range(args.iters):
            for k in names:
                times[k].append(timed(variants[k]))
        return {k: statistics.median(v) * 1000 for k, v in times.items()}

    med = medians(list(variants))
    mem = {k: peak_memory(k, fn, device) for k, fn in variants.items()}
    sweep = {}
    if not cuda and args.threads_sweep:  # which CPU thread count trains fastest
        for n in range(1, (os.cpu_count() or 1) + 1):
            torch.set_num_threads(n)
            sweep[n] = medians(["student step", "yolokd step cwd_attn"])
        torch.set_num_threads(args.threads)

    s, t = med["student step"], med["teacher forward (yolokd)"]
    rows = []
    for m in ("cwd", "cwd_attn"):
        step = med[f"yolokd step {m}"]
        rows += [
            (f"{m}: step / (teacher forward + student step)", step / (s + t), "<= 1.05", step / (s + t) <= 1.05),
            (f"{m}: adapters + attention + loss share of the step", (step - s - t) / step, "<= 0.05",
             (step - s - t) / step <= 0.05),
            (f"{m}: step / native step", step / med["native distillation step"], "<= 1.00",
             step <= med["native distillation step"]),
        ]  # fmt: skip
    alone = med["distiller alone, cwd_attn (fwd+bwd)"] / med["yolokd step cwd_attn"]
    rows.append(("cwd_attn: distiller alone (fwd+bwd) / step", alone, "<= 0.05", alone <= 0.05))
    for r in UNLABELED_RATIOS:  # the plain student's own cost of (1 + r) x the images is the machine's, not yolokd's
        own = med[f"student step, batch x{1 + r}"] / ((1 + r) * s)
        cost = med[f"yolokd step cwd, unlabeled_ratio {r}"] / ((1 + r) * med["yolokd step cwd"])
        rows.append((f"reference: student step at {1 + r}x batch / ({1 + r} x student step)", own, "-", True))
        target = max(1.0, own)
        ok = cost <= target * 1.05  # within 5 % of the machine's own scaling
        rows.append((f"cwd, unlabeled_ratio {r}: step / ((1 + {r}) x cwd step)", cost, f"<= {target:.2f}", ok))
    speedup = med["teacher eval forward, unfused fp32"] / t
    rows.append(("unfused fp32 eval forward / yolokd teacher forward", speedup, ">= 1.20", speedup >= 1.2))

    dev_name = (
        torch.cuda.get_device_name(device) if cuda else f"{platform.processor() or 'CPU'} ({os.cpu_count()} cores)"
    )
    lines = [
        "# Step time",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- machine: {dev_name}; torch {torch.__version__}; {args.threads} CPU threads",
        f"- date: {datetime.date.today().isoformat()}",
        f"- {args.teacher} -> {args.student}, imgsz {args.imgsz}, batch {args.batch}, amp {args.amp}, "
        f"median of {args.iters} interleaved rounds after {args.warmup} warm-up",
        "",
        "| variant | median ms | peak memory MiB |",
        "|---|---:|---:|",
        *(f"| {k} | {v:.1f} | {mem[k]:.0f} |" for k, v in med.items()),
        "",
        "| ratio | measured | target | met |",
        "|---|---:|---:|---|",
        *(f"| {name} | {val:.3f} | {target} | {'yes' if ok else 'NO'} |" for name, val, target, ok in rows),
        *(
            [
                "",
                "CPU threads (Ultralytics sets cpu_count - 1; yolokd uses min(8, cpu_count)):",
                "",
                "| threads | student step ms | yolokd step cwd_attn ms |",
                "|---:|---:|---:|",
                *(f"| {n} | {m['student step']:.1f} | {m['yolokd step cwd_attn']:.1f} |" for n, m in sweep.items()),
            ]
            if sweep
            else []
        ),
        "",
        "Peak memory: on a GPU, CUDA max allocated while the variant runs; on a CPU, how much the variant",
        "raises the peak RSS of a fresh process that builds the models and then runs only that variant.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report, encoding="utf-8")


def peak_memory(name: str, fn, device: torch.device, iters: int = 2) -> float:
    """Peak memory (MiB) that running ``fn`` adds: CUDA max allocated, or on CPU the growth of the peak
    RSS of a fresh process that runs only this variant (an allocator keeps freed memory, so only a
    process of its own shows a variant's need)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        for _ in range(iters):
            fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    env = {**os.environ, "YOLOKD_BENCH_ONLY": name}
    r = subprocess.run([sys.executable, *sys.argv], env=env, capture_output=True, text=True, check=True)
    return float(r.stdout.strip().splitlines()[-1])


def _peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM; unlike ru_maxrss it is not inherited from the parent process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB on most systems


if __name__ == "__main__":
    main()
