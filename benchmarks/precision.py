"""Which precision should the teacher and the distiller run in under AMP? fp16 and bf16 against fp32, measured.

On real images (a dataset's val split), for each image size: the teacher's neck features (the Detect head's
inputs, what CWD distils) in float32, and under autocast in bfloat16 and float16 (CPU autocast here; on a GPU
the same casts run on tensor cores). Per precision and level: the largest |feature| (fp16 overflows above
65504), the relative error ||x - x32|| / ||x32||, and whether any value is not finite. Then the yolokd default
term (kd_cwd: adapter + CWD at tau 1, the distiller in the same precision) between a YOLOv8n student and those
features: the loss's relative error and the cosine between the gradient it sends into the student's features
and the fp32 one. The CWD softmax/KL itself always runs in float32 (losses/cwd.py).

Usage: .venv/bin/python benchmarks/precision.py TEACHER.pt DATA.yaml [--student S.pt] [--imgsz 320,640]
           [--images 16] [--out benchmarks/results/precision_cpu.md]
Without --student, a YOLOv8n built from its yaml (seed 0) is the student: the start of a distillation.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")  # benchmarks run offline; the library leaves the environment alone
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

PRECISIONS = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}
FP16_MAX = 65504.0


def images(data: Path, n: int, imgsz: int):
    """The first ``n`` val images of ``data``, letterboxed to ``imgsz`` as Ultralytics validates, as (n, 3, s, s)."""
    import cv2
    import numpy as np
    import torch
    from ultralytics.data.augment import LetterBox
    from ultralytics.data.utils import check_det_dataset

    info = check_det_dataset(str(data))
    val = Path(info["val"])
    if val.is_dir():
        files = sorted(p for p in val.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:n]
    else:  # a list of image paths, relative to the list's folder
        files = [val.parent / line.strip() for line in val.read_text().splitlines() if line.strip()][:n]
    box = LetterBox((imgsz, imgsz), auto=False)
    batch = np.stack([box(image=cv2.imread(str(f)))[..., ::-1].transpose(2, 0, 1) for f in files])
    return torch.from_numpy(batch.copy()).float() / 255


def measure(teacher_path: Path, data: Path, student_path: Path | None, sizes: list[int], n: int) -> list[str]:
    import torch
    from ultralytics.nn.tasks import DetectionModel, load_checkpoint

    from yolokd.integration.models import TeacherRunner, detect_head, load_teacher
    from yolokd.losses.feature import FeatureCWD
    from yolokd.losses.outputs import Outputs
    from yolokd.recorder import FeatureRecorder

    teacher = load_teacher(teacher_path, torch.device("cpu"))
    run = TeacherRunner(teacher, need_head=False)
    torch.manual_seed(0)
    if student_path is None:
        student = DetectionModel("yolov8n.yaml", nc=len(teacher.names), verbose=False)
    else:
        student = load_checkpoint(student_path)[0].float()
    student.eval()
    record = FeatureRecorder(student, detect_head(student, "student"))
    lines = [
        "| imgsz | precision | level | max abs feature | max / fp16 max | rel. error vs fp32 | non-finite | "
        "kd_cwd rel. error | grad cosine |",
        "|---:|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for imgsz in sizes:
        img = images(data, n, imgsz)
        with torch.no_grad():
            s_feats = [f.detach() for f in record(img)]
        torch.manual_seed(0)
        term = FeatureCWD([f.shape[1] for f in s_feats], [f.shape[1] for f in run(img[:1]).feats], tau=1.0)
        ref = None
        for name, dtype in PRECISIONS.items():
            ctx = torch.autocast("cpu", dtype=getattr(torch, dtype)) if dtype else torch.autocast("cpu", enabled=False)
            s = [f.clone().requires_grad_(True) for f in s_feats]
            with torch.no_grad(), ctx:
                t = run(img).feats
            with ctx:
                loss = term(Outputs(s), Outputs(t))
            grads = torch.autograd.grad(loss, s)
            g = torch.cat([x.flatten() for x in grads]).double()
            t = [x.double() for x in t]
            ref = ref or (t, float(loss.detach()), g)
            rel_loss = abs(float(loss.detach()) - ref[1]) / abs(ref[1])
            cos = float(torch.nn.functional.cosine_similarity(g, ref[2], dim=0))
            for i, (x, x32) in enumerate(zip(t, ref[0])):
                peak = float(x32.abs().max())
                err = float((x - x32).norm() / x32.norm())
                bad = "yes" if not bool(torch.isfinite(x).all()) else "no"
                lines.append(
                    f"| {imgsz} | {name} | P{i + 3} | {peak:.1f} | {peak / FP16_MAX:.1e} | {err:.1e} | {bad} | "
                    f"{rel_loss:.1e} | {cos:.6f} |"
                )
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("teacher", type=Path)
    p.add_argument("data", type=Path)
    p.add_argument("--student", type=Path)
    p.add_argument("--imgsz", default="320,640")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    import torch
    from ultralytics.utils.torch_utils import get_cpu_info

    sizes = [int(s) for s in a.imgsz.split(",")]
    head = [
        f"# Teacher features and kd_cwd in fp16 / bf16 against fp32 ({date.today()}, {os.cpu_count()}-core "
        f"{get_cpu_info()}, torch {torch.__version__})",
        "",
        f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`. Teacher `{a.teacher}`, data `{a.data}` "
        f"({a.images} val images), student `{a.student or 'yolov8n.yaml, seed 0'}`.",
        "",
    ]
    text = "\n".join([*head, *measure(a.teacher, a.data, a.student, sizes, a.images)]) + "\n"
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
