"""The figures of a ``yolokd compare`` report: ``map.png`` (mAP per model over runs) and ``examples.png``
(the same validation images with ground truth and each model's detections, like the paper's Fig. 2; masks,
keypoints or rotated boxes for a segment, pose or obb comparison, drawn by Ultralytics' ``Results.plot``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from yolokd.stats import METRICS


def plot_map(out: Path, rows: list[dict], runs: list[dict], path: Path, heading: str = "", metrics=METRICS) -> None:
    """Bar chart of the task's own mean mAP50 and mAP50-95 per method (the first pair of ``metrics``, see
    :data:`yolokd.stats.TASK_METRICS`), error bars = std over runs, dots = runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = [r for r in rows if r["model"] != "teacher"]
    teacher = rows[0]
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.2 * len(students), 4), constrained_layout=True)
    for ax, (k, name) in zip(axes, metrics[:2]):
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


def ground_truth(task: str, label_path: Path, w: int, h: int) -> list[tuple[Any, Any]]:
    """One image's labels of a segment, pose or obb set in pixels: [(outline (N, 2), keypoints (K, 2) or None)];
    the outline is the polygon (segment), the rotated box's corners (obb) or the box's corners (pose)."""
    import numpy as np

    shapes = []
    for line in Path(label_path).read_text().splitlines() if Path(label_path).is_file() else []:
        v = np.array(line.split()[1:], dtype=float)
        if not len(v):
            continue
        if task == "pose":
            cx, cy, bw, bh = v[:4]
            box = np.array([[cx - bw / 2, cy - bh / 2], [cx + bw / 2, cy - bh / 2], [cx + bw / 2, cy + bh / 2],
                            [cx - bw / 2, cy + bh / 2]])  # fmt: skip
            kpts = v[4:].reshape(-1, 3) if len(v[4:]) % 3 == 0 else v[4:].reshape(-1, 2)  # (K, 3) or (K, 2)
            visible = kpts[:, 2] > 0 if kpts.shape[1] == 3 else np.ones(len(kpts), bool)
            shapes.append((box * (w, h), kpts[visible, :2] * (w, h)))
        else:
            shapes.append((v.reshape(-1, 2) * (w, h), None))  # (N, 2) polygon or rotated box
    return shapes


def _draw_task(ax: Any, task: str, im: Any, result: Any, gt: list | None, k: int, conf: float) -> str:
    """One panel of a segment, pose or obb comparison: the ground truth ``gt`` (green outlines, keypoints), or
    the model's ``k`` most confident predictions drawn by Ultralytics (masks, keypoints, rotated boxes); its
    caption."""
    import numpy as np
    from matplotlib.patches import Polygon

    if gt is not None:
        ax.imshow(im)
        for outline, kpts in gt:
            ax.add_patch(Polygon(outline, closed=True, fill=False, color="#2ca02c", lw=1))
            if kpts is not None:
                ax.scatter(kpts[:, 0], kpts[:, 1], s=6, color="#2ca02c")
        return f"{len(gt)} {'object' if len(gt) == 1 else 'objects'}"
    found = result.obb if task == "obb" else result.boxes
    scores = found.conf.numpy() if found is not None else np.zeros(0)
    top, caption = top_detections(np.arange(len(scores)), scores, k, conf)
    ax.imshow(result[top].plot(conf=False, labels=False, line_width=1, kpt_radius=1)[..., ::-1])  # BGR
    return caption


def plot_examples(
    data: str,
    columns: list[tuple[str, str]],
    imgsz: int,
    n: int,
    path: Path,
    note: str = "",
    conf: float = 0.001,
    device: Any = None,
    task: str = "detect",
) -> None:
    """Grid like the paper's Fig. 2: the same validation images with ground truth and each model's detections.

    ``columns`` is [(title, weights)]. Each panel draws the model's K most confident detections (at
    confidence >= ``conf``), K = the image's number of ground-truth boxes, and prints the confidence of
    the K-th: briefly trained students are rarely confident, and a fixed threshold would show nothing.
    A segment, pose or obb ``task`` draws each model's masks, keypoints or rotated boxes with Ultralytics' own
    ``Results.plot`` (K = the image's labelled objects) and the labels' polygons, keypoints or rotated boxes.
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
        if task != "detect":
            preds[title] = [r.cpu() for r in results]
            continue
        preds[title] = [(r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy()) for r in results]
    ncol = len(columns) + 1
    fig, axes = plt.subplots(len(images), ncol, figsize=(3 * ncol, 3 * len(images)), squeeze=False)
    for i, (img_path, label_path) in enumerate(zip(images, img2label_paths([str(p) for p in images]))):
        im = Image.open(img_path).convert("RGB")
        w, h = im.size
        if task != "detect":
            shapes = ground_truth(task, Path(label_path), w, h)
            for j, (ax, (name, _)) in enumerate(zip(axes[i], [("ground truth", None), *columns])):
                caption = _draw_task(ax, task, im, None if j == 0 else preds[name][i], shapes if j == 0 else None,
                                     max(len(shapes), 1), conf)  # fmt: skip
                ax.set_title(f"{name}\n{caption}" if i == 0 else caption, fontsize=8)
                ax.axis("off")
            continue
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
    drawn = {"segment": "masks", "pose": "keypoints", "obb": "rotated boxes"}.get(task)
    fig.suptitle(
        "validation images: ground truth (green); each model's K most confident detections (orange), "
        f"K = the image's ground-truth boxes; {note}"
        if drawn is None
        else f"validation images: ground truth (green); each model's K most confident {drawn} (drawn by "
        f"Ultralytics), K = the image's labelled objects; {note}",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
