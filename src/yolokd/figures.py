"""The figures of a ``yolokd compare`` report: ``map.png`` (mAP per model over runs) and ``examples.png``
(the same validation images with ground truth and each model's detections, like the paper's Fig. 2)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from yolokd.stats import METRICS


def plot_map(out: Path, rows: list[dict], runs: list[dict], path: Path, heading: str = "") -> None:
    """Bar chart of mean mAP50 and mAP50-95 per method, error bars = std over runs, dots = runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = [r for r in rows if r["model"] != "teacher"]
    teacher = rows[0]
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.2 * len(students), 4), constrained_layout=True)
    for ax, (k, name) in zip(axes, METRICS):
        x = range(len(students))
        means = [r[f"{k}_mean"] for r in students]
        errs = [0 if math.isnan(r.get(f"{k}_std", math.nan)) else r[f"{k}_std"] for r in students]
        ax.bar(x, means, yerr=errs, capsize=4, color="#4c72b0", alpha=0.8)
        for i, r in enumerate(students):
            vals = [v[k] for v in runs if v["label"] == r["model"]]
            ax.scatter([i] * len(vals), vals, color="k", s=12, zorder=3)
        ax.axhline(teacher[f"{k}_mean"], color="#c44e52", ls="--")  # named in the title: a legend would cover bars
        ax.set_xticks(list(x), [r["model"] for r in students], rotation=20, ha="right", fontsize=8)
        ax.set_title(f"{name} (dashed: teacher {teacher[f'{k}_mean']:.3f})", fontsize=10)
    dots = "dots: runs (one per seed, or per seed and fold)"
    fig.suptitle(f"{heading or out.name}\nbars: mean ± std over runs; {dots}", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _val_images(data: str, n: int) -> list[Path]:
    from ultralytics.data.utils import check_det_dataset

    from yolokd.data.folds import list_images

    paths = list_images(check_det_dataset(data)["val"], Path(data).parent)
    if len(paths) <= n:
        return paths
    return [paths[round(i * (len(paths) - 1) / max(n - 1, 1))] for i in range(n)]


def top_detections(boxes: Any, scores: Any, k: int, conf: float) -> tuple[Any, str]:
    """The ``k`` most confident of one image's detections (arrays (M, 4), (M,)) and a caption with the
    confidence of the last one drawn, e.g. ``top 3, conf ≥ 0.21`` (two significant digits)."""
    top = scores.argsort()[::-1][:k]
    if not len(top):
        return boxes[top], f"nothing at conf ≥ {conf:g}"
    return boxes[top], f"top {len(top)}, conf ≥ {scores[top[-1]]:.2g}"


def plot_examples(
    data: str,
    columns: list[tuple[str, str]],
    imgsz: int,
    n: int,
    path: Path,
    note: str = "",
    conf: float = 0.001,
    device: Any = None,
) -> None:
    """Grid like the paper's Fig. 2: the same validation images with ground truth and each model's detections.

    ``columns`` is [(title, weights)]. Each panel draws the model's K most confident detections (at
    confidence >= ``conf``), K = the image's number of ground-truth boxes, and prints the confidence of
    the K-th: briefly trained students are rarely confident, and a fixed threshold would show nothing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    from ultralytics import YOLO
    from ultralytics.data.utils import img2label_paths

    images = _val_images(data, n)
    if not images:
        return
    preds = {}
    for title, weights in columns:
        results = YOLO(weights).predict([str(p) for p in images], imgsz=imgsz, conf=conf, verbose=False, device=device)
        preds[title] = [(r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy()) for r in results]
    ncol = len(columns) + 1
    fig, axes = plt.subplots(len(images), ncol, figsize=(3 * ncol, 3 * len(images)), squeeze=False)
    for i, (img_path, label_path) in enumerate(zip(images, img2label_paths([str(p) for p in images]))):
        im = Image.open(img_path).convert("RGB")
        w, h = im.size
        gt = []
        if Path(label_path).is_file():
            for line in Path(label_path).read_text().splitlines():
                if line.strip():
                    _, cx, cy, bw, bh = map(float, line.split()[:5])
                    gt.append(((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
        panels = [
            ("ground truth", gt, f"{len(gt)} box{'es' if len(gt) != 1 else ''}", "#2ca02c")
        ]  # (title, boxes, caption, colour)
        k = max(len(gt), 1)
        panels += [(t, *top_detections(*preds[t][i], k, conf), "#ff7f0e") for t, _ in columns]
        for ax, (name, boxes, caption, color) in zip(axes[i], panels):
            ax.imshow(im)
            for x1, y1, x2, y2 in boxes:
                ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=color, lw=1))
            ax.set_title(f"{name}\n{caption}" if i == 0 else caption, fontsize=8)
            ax.axis("off")
    fig.suptitle(
        "validation images: ground truth (green); each model's K most confident detections (orange), "
        f"K = the image's ground-truth boxes; {note}",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
