"""A small generated YOLO dataset: filled rectangles and discs on textured backgrounds, for every task yolokd trains.

Deterministic for a given seed; used by the tests. Two classes: 0 = box, 1 = disc. The labels follow Ultralytics'
formats (``ultralytics/data/utils.py`` ``verify_image_label``), all coordinates normalised to [0, 1]:

    detect    cls cx cy w h
    segment   cls x1 y1 x2 y2 ...          the shape's outline (4 corners, or 16 points round a disc)
    pose      cls cx cy w h x y v (x4)     4 keypoints: top-left, top-right, bottom-right, bottom-left (corners of
                                           a box, the matching points on a disc), all visible; kpt_shape [4, 3]
    obb       cls x1 y1 x2 y2 x3 y3 x4 y4  the rotated rectangle around the (rotated) shape

``obb`` draws each shape turned by a random angle; the other tasks draw them upright, with the same random
draws as ``detect`` (so a seed gives the same images for detect, segment and pose).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

NAMES = {0: "box", 1: "disc"}
TASKS = ("detect", "segment", "pose", "obb")
KPT_SHAPE = [4, 3]
FLIP_IDX = [1, 0, 3, 2]  # a horizontal flip swaps left and right keypoints
DISC_POINTS = 16


def _outline(cls: int, w: float, h: float, angle: float) -> np.ndarray:
    """(K, 2) the shape's outline around its centre, in pixels: a box's 4 corners (top-left first, clockwise in
    image coordinates) or ``DISC_POINTS`` points round the ellipse, turned by ``angle`` radians."""
    if cls == 0:
        pts = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    else:
        t = np.linspace(-math.pi, math.pi, DISC_POINTS, endpoint=False) + math.pi / 4  # from the top-left quadrant
        pts = np.stack([-w / 2 * np.cos(t), -h / 2 * np.sin(t)], axis=1)
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]])


def _keypoints(cls: int, w: float, h: float) -> np.ndarray:
    """(4, 2) keypoints around the centre: a box's corners; for a disc, its points at 45 degrees in each quadrant."""
    k = 1.0 if cls == 0 else math.sqrt(0.5)
    return np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]]) * k


def _label(task: str, cls: int, centre: np.ndarray, w: float, h: float, angle: float, size: int) -> str:
    pts = (_outline(cls, w, h, angle) + centre) / size
    if task == "segment":
        return f"{cls} " + " ".join(f"{v:.6f}" for v in pts.ravel())
    if task == "obb":
        box = (_outline(0, w, h, angle) + centre) / size
        return f"{cls} " + " ".join(f"{v:.6f}" for v in box.ravel())
    x, y = centre / size
    line = f"{cls} {x:.6f} {y:.6f} {w / size:.6f} {h / size:.6f}"
    if task == "pose":
        kpts = (_keypoints(cls, w, h) + centre) / size
        line += "".join(f" {px:.6f} {py:.6f} 2" for px, py in kpts)
    return line


def _image(rng: np.random.Generator, size: int, task: str = "detect") -> tuple[Image.Image, list[str]]:
    base = rng.integers(40, 200, size=3)
    noise = rng.normal(0, 18, size=(size, size, 3))
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    labels = []
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(0, 2))
        w, h = rng.uniform(0.15, 0.45, size=2) * size
        angle = float(rng.uniform(0, math.pi)) if task == "obb" else 0.0
        half = np.abs(_outline(0, w, h, angle)).max(axis=0)  # half the extent of the turned shape, (x, y)
        x0, y0 = rng.uniform(0, size - 2 * half[0]), rng.uniform(0, size - 2 * half[1])
        centre = np.array([x0 + half[0], y0 + half[1]])
        color = tuple(int(c) for c in (255 - base + rng.integers(-30, 30, size=3)) % 256)
        if angle == 0.0:  # the shapes of the original detection set, pixel for pixel
            shape = draw.rectangle if cls == 0 else draw.ellipse
            shape([x0, y0, x0 + w, y0 + h], fill=color)
        else:
            draw.polygon([tuple(p) for p in _outline(cls, w, h, angle) + centre], fill=color)
        labels.append(_label(task, cls, centre, w, h, angle, size))
    return img, labels


def make_dataset(
    out: str | Path, n_train: int = 32, n_val: int = 8, imgsz: int = 96, seed: int = 0, task: str = "detect"
) -> Path:
    """Write images, labels (in ``task``'s format) and ``data.yaml`` under ``out``; return the path of ``data.yaml``.
    A pose set's data.yaml has ``kpt_shape`` and ``flip_idx``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    out = Path(out).resolve()
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, labels = _image(rng, imgsz, task)
            img.save(out / "images" / split / f"{i:04d}.jpg", quality=95)
            (out / "labels" / split / f"{i:04d}.txt").write_text("\n".join(labels) + "\n")
    names = "\n".join(f"  {k}: {v}" for k, v in NAMES.items())
    extra = f"kpt_shape: {KPT_SHAPE}\nflip_idx: {FLIP_IDX}\n" if task == "pose" else ""
    yaml_path = out / "data.yaml"
    yaml_path.write_text(f"path: {out}\ntrain: images/train\nval: images/val\n{extra}names:\n{names}\n")
    return yaml_path
