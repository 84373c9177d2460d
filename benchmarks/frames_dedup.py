"""What ``yolokd data frames``' near-duplicate measure sees, on generated 640x360 street scenes.

For each case, two shots of one scene are compared as the frames step compares a sampled frame with the last kept
one, through its own code (:func:`~yolokd.data.frames.changed_fraction` of the two thumbnails, counted in pixels,
and whether :class:`~yolokd.data.frames.Dedup` keeps the second shot): both shrunk to 64x64 grey thumbnails, the
measure is how many of the 4,096 thumbnail pixels changed by more than LEVEL grey levels; a frame is dropped when
that count is below DEDUP x 4,096. Beside it, the mean absolute difference of the thumbnails (the obvious
alternative measure).

Cases: the same static scene shot twice (sensor noise of sigma 2-12 grey levels, JPEG at quality 30-95), a
1-pixel camera shake, a +5-level exposure change, and an object (a 2:1 block, 40 grey levels brighter or darker
than the street under it) moved by its own width, covering 0.02 % to 1 % of the frame. Each case over
``--trials`` scenes and positions; every shot gets fresh noise (sigma 4) and JPEG at quality 75 unless the case
varies them.

Usage: python benchmarks/frames_dedup.py [--trials 50] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from collections.abc import Callable

import cv2
import numpy as np

from yolokd.data.frames import DEDUP, LEVEL, THUMB, Dedup, changed_fraction, thumbnail

H, W = 360, 640
PIXELS = THUMB * THUMB


def scene(rng: np.random.Generator) -> np.ndarray:
    """A static street: smooth textured grey, hard-edged blocks (buildings, parked cars), lane marks; float (H, W)."""
    img = cv2.GaussianBlur(rng.normal(110, 35, (H, W)).astype(np.float32), (0, 0), 2)
    for _ in range(12):
        y, x = rng.integers(0, H - 40), rng.integers(0, W - 60)
        img[y : y + rng.integers(20, 120), x : x + rng.integers(30, 160)] = rng.uniform(40, 220)
    for x in range(20, W, 80):
        img[250:256, x : x + 40] = 235
    return np.clip(img, 0, 255)


def shot(img: np.ndarray, rng: np.random.Generator, sigma: float = 4, quality: int = 75) -> np.ndarray:
    """What the camera writes: the scene plus sensor noise, JPEG-encoded and decoded (grey)."""
    noisy = np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def compare(a: np.ndarray, b: np.ndarray) -> tuple[int, float, bool]:
    """Changed thumbnail pixels (the frames step's measure, as a count), the thumbnails' mean absolute difference,
    and whether the frames step keeps ``b`` after ``a``."""
    ta, tb = thumbnail(a), thumbnail(b)
    dedup = Dedup(DEDUP)
    dedup.keep(a)
    return round(changed_fraction(ta, tb) * PIXELS), float(np.abs(ta - tb).mean()), dedup.keep(b)


def static(sigma: float, quality: int) -> Callable:
    return lambda img, rng: compare(shot(img, rng, sigma, quality), shot(img, rng, sigma, quality))


def shake(img: np.ndarray, rng: np.random.Generator) -> tuple[int, float, bool]:
    return compare(shot(img, rng), shot(np.roll(img, 1, axis=1), rng))


def exposure(img: np.ndarray, rng: np.random.Generator) -> tuple[int, float, bool]:
    return compare(shot(img, rng), shot(np.clip(img + 5, 0, 255), rng))


def moving(area: float) -> Callable:
    """A 2:1 block covering ``area`` of the frame, 40 levels off the street under it, moved by its own width."""
    h = max(1, round((area * H * W / 2) ** 0.5))
    w = 2 * h

    def case(img: np.ndarray, rng: np.random.Generator) -> tuple[int, float, bool]:
        y, x = rng.integers(0, H - h), rng.integers(0, W - 2 * w)
        under = img[y : y + h, x : x + 2 * w].mean()
        level = under + 40 if under < 128 else under - 40
        a, b = img.copy(), img.copy()
        a[y : y + h, x : x + w], b[y : y + h, x + w : x + 2 * w] = level, level
        return compare(shot(a, rng), shot(b, rng))

    return case


CASES: list[tuple[str, str, Callable]] = [
    *[("static scene", f"noise sigma {s}, JPEG {q}", static(s, q)) for s in (2, 4, 8, 12) for q in (30, 50, 75, 95)],
    ("camera", "1-pixel shake", shake),
    ("camera", "+5-level exposure change", exposure),
    *[("object moved by its width", f"{100 * a:g} % of the frame", moving(a)) for a in (0.0002, 0.001, 0.0025, 0.01)],
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--out", help="also write the Markdown here")
    args = ap.parse_args()
    lines = [
        "# Near-duplicate measure of `yolokd data frames`",
        "",
        f"- command: `python benchmarks/frames_dedup.py --trials {args.trials}"
        + (f" --out {args.out}`" if args.out else "`"),
        f"- machine: {platform.machine()} CPU; Python {platform.python_version()}, OpenCV {cv2.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- generated {W}x{H} street scenes, {args.trials} trials per case (scene and position drawn afresh); "
        f"thumbnails {THUMB}x{THUMB}, a pixel changed when it moved by more than {LEVEL} grey levels; "
        f"dedup={DEDUP} drops a frame with fewer than {DEDUP * PIXELS:g} of {PIXELS} pixels changed",
        "",
        "| case | | changed pixels min / median / max | frames kept | mean abs. difference (levels) |",
        "|---|---|---:|---:|---:|",
    ]
    for i, (group, what, case) in enumerate(CASES):
        rng = np.random.default_rng(i)
        results = [case(scene(rng), rng) for _ in range(args.trials)]
        changed = np.array([c for c, _, _ in results])
        mad = np.array([m for _, m, _ in results])
        kept = sum(k for _, _, k in results)
        lines.append(
            f"| {group} | {what} | {changed.min()} / {np.median(changed):g} / {changed.max()} | "
            f"{kept} of {args.trials} | {mad.min():.2f}–{mad.max():.2f} |"
        )
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
