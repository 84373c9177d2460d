"""A small generated YOLO dataset: filled rectangles and discs on textured backgrounds.

Deterministic for a given seed; used by the tests. Two classes: 0 = box, 1 = disc.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

NAMES = {0: "box", 1: "disc"}


def _image(rng: np.random.Generator, size: int) -> tuple[Image.Image, list[tuple[int, float, float, float, float]]]:
    base = rng.integers(40, 200, size=3)
    noise = rng.normal(0, 18, size=(size, size, 3))
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    labels = []
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(0, 2))
        w, h = rng.uniform(0.15, 0.45, size=2) * size
        x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        color = tuple(int(c) for c in (255 - base + rng.integers(-30, 30, size=3)) % 256)
        shape = draw.rectangle if cls == 0 else draw.ellipse
        shape([x0, y0, x0 + w, y0 + h], fill=color)
        labels.append((cls, (x0 + w / 2) / size, (y0 + h / 2) / size, w / size, h / size))
    return img, labels


def make_dataset(out: str | Path, n_train: int = 32, n_val: int = 8, imgsz: int = 96, seed: int = 0) -> Path:
    """Write images, labels and ``data.yaml`` under ``out``; return the path of ``data.yaml``."""
    out = Path(out).resolve()
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, labels = _image(rng, imgsz)
            img.save(out / "images" / split / f"{i:04d}.jpg", quality=95)
            lines = [f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in labels]
            (out / "labels" / split / f"{i:04d}.txt").write_text("\n".join(lines) + "\n")
    names = "\n".join(f"  {k}: {v}" for k, v in NAMES.items())
    yaml_path = out / "data.yaml"
    yaml_path.write_text(f"path: {out}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return yaml_path
