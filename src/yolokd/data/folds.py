"""k-fold splits of a YOLO dataset for ``yolokd compare folds=k``.

The train and val images of ``data.yaml`` are pooled and each image is put in exactly one of k
folds; fold ``f``'s run trains on the other folds and validates on fold ``f``, so every image is
validated once per seed. Where the dataset has a ``tiles.csv`` (written by ``yolokd data voc`` and
``trees``: which source image each tile was cut from, and where), each source's
tiles are taken in reading order and cut into k contiguous blocks of about equal boxes, so a
validation tile's neighbours (which overlap it in content) mostly share its fold. Otherwise the
images are shuffled with a fixed seed and cut into k blocks. The assignment depends only on the
file names (and, with ``tiles.csv``, the tiles' positions and box counts), so it is the same on every
run and machine; it is written to ``folds.csv``. Every fold gets at least one image.
"""

from __future__ import annotations

import csv
import glob
import os
import random
from pathlib import Path

import yaml

from yolokd.cfg import SettingsError


def list_images(entry: str | list[str], root: Path) -> list[Path]:
    """The images of one data.yaml ``train``/``val`` entry (folders, image-list .txt files, or lists of them), as
    Ultralytics' ``BaseDataset.get_img_files`` finds them: its image formats, no hidden files in folders, and
    a list's lines kept only where they name an image."""
    from ultralytics.data.utils import IMG_FORMATS

    paths: list[Path] = []
    for e in entry if isinstance(entry, list) else [entry]:
        p = root / e  # an absolute e stays itself
        if isinstance(entry, str) and not p.exists() and e.startswith("../"):
            p = root / e[3:]  # Ultralytics' fallback for a single entry
        if p.is_dir():
            paths += map(Path, glob.glob(str(Path(glob.escape(str(p))) / "**" / "*.*"), recursive=True))
        elif p.suffix == ".txt" and p.is_file():
            for line in p.read_text(encoding="utf-8-sig").strip().splitlines():
                paths.append((p.parent / line[2:]) if line.startswith("./") else Path(line))
        else:
            raise SettingsError(f"data: '{p}' (a train/val entry) is not a folder or an image-list .txt")
    # absolute, not resolved: Ultralytics looks for a symlinked image's label beside the link
    return sorted(Path(os.path.abspath(p)) for p in paths if p.name.rpartition(".")[-1].lower() in IMG_FORMATS)


def dataset_root(cfg: dict, data: Path) -> Path:
    """The dataset root as Ultralytics' ``check_det_dataset`` (8.4.170-8.4.190) resolves it: ``path``, taken
    relative to the current folder if that exists, else under Ultralytics' datasets folder; no ``path``:
    the yaml's folder."""
    root = Path(cfg.get("path") or data.parent)
    if not root.exists() and not root.is_absolute():
        from ultralytics.utils import DATASETS_DIR

        root = DATASETS_DIR / root
    return root.resolve()


def read_dataset(data: str | Path) -> tuple[dict, dict[str, list[Path]]]:
    """``data.yaml``'s content and the images of its ``train`` and ``val`` entries, found as Ultralytics finds them."""
    data = Path(data).resolve()
    cfg = yaml.safe_load(data.read_text())
    root = dataset_root(cfg, data)
    return cfg, {split: list_images(cfg[split], root) for split in ("train", "val")}


def box_counts(images: list[Path]) -> list[int]:
    from ultralytics.data.utils import img2label_paths

    labels = map(Path, img2label_paths([str(p) for p in images]))
    return [sum(1 for line in lb.read_text().splitlines() if line.strip()) if lb.is_file() else 0 for lb in labels]


def _cut(weights: list[int], k: int) -> list[int]:
    """Block index (0..k-1) of each item when the sequence is cut into k contiguous blocks of about equal weight.

    An item goes to the block holding its weight's midpoint, except that no block may stay empty (with at
    least k items): a heavy item cannot push its neighbours past a whole block."""
    total, n = sum(weights) or 1, len(weights)
    out, acc, prev = [], 0.0, -1
    for j, w in enumerate(weights):
        mid = min(int((acc + w / 2) * k / total), k - 1)
        prev = max(min(mid, prev + 1), k - (n - j))  # skip no block; leave one item per block still to come
        out.append(prev)
        acc += w
    return out


def source_groups(images: list[Path], tiles: Path | None) -> list[list[int]] | None:
    """The indices of ``images`` per source image of ``tiles.csv`` (sources sorted by name, each source's tiles in
    reading order; an image tiles.csv does not name is a source of its own), or None without a tiles.csv."""
    rows = {}
    if tiles is not None and tiles.is_file():
        with open(tiles, newline="") as f:
            rows = {r["tile"]: r for r in csv.DictReader(f)}
    if not rows:
        return None
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(images):
        r = rows.get(p.name)
        groups.setdefault(r["source"] if r else p.name, []).append(i)

    def reading_order(i: int) -> tuple[int, int]:
        r = rows.get(images[i].name)
        return (int(r["y0"]), int(r["x0"])) if r else (0, 0)

    return [sorted(idx, key=reading_order) for _, idx in sorted(groups.items())]


def fixed_order(images: list[Path]) -> list[int]:
    """The indices of ``images`` in the fixed-seed order used without a tiles.csv: by name, shuffled with seed 0."""
    order = sorted(range(len(images)), key=lambda i: images[i].name)
    random.Random(0).shuffle(order)
    return order


def assign(images: list[Path], boxes: list[int], k: int, tiles: Path | None = None) -> list[int]:
    """The fold (0..k-1) of each image (``boxes``: its number of labelled boxes); see the module docstring."""
    fold = [-1] * len(images)
    load = [0] * k  # boxes + 1 per image, so empty images count
    groups = source_groups(images, tiles)
    if groups is not None:
        for g, idx in enumerate(groups):
            weights = [boxes[i] + 1 for i in idx]
            if len(idx) >= k:  # contiguous blocks; the block order rotates per source so no fold always gets the top
                for i, b, w in zip(idx, _cut(weights, k), weights):
                    fold[i] = (b + g) % k
                    load[fold[i]] += w
            else:  # too few tiles to cut: each to the lightest fold
                for i, w in zip(idx, weights):
                    fold[i] = min(range(k), key=lambda f: (load[f], f))
                    load[fold[i]] += w
        return fold
    order = fixed_order(images)
    for pos, i in enumerate(order):
        fold[i] = pos * k // len(order)
    return fold


def write_folds(data: str | Path, k: int, out: Path) -> list[Path]:
    """Write ``out/f{i}/data.yaml`` (train/val image lists) for each fold and ``out/folds.csv``; return the yamls.

    Refuses a fold folder whose existing assignment differs (the dataset changed since the runs were made)."""
    data = Path(data).resolve()
    cfg, splits = read_dataset(data)
    images = sorted(set(splits["train"]) | set(splits["val"]))
    if len(images) < 2 * k:
        raise SettingsError(f"folds={k} needs at least {2 * k} images; '{data}' has {len(images)}")
    boxes = box_counts(images)
    fold = assign(images, boxes, k, data.parent / "tiles.csv")
    table = "image,fold,boxes\n" + "".join(f"{p},{f},{b}\n" for p, f, b in zip(images, fold, boxes))
    csv_file = out / "folds.csv"
    old = csv_file.read_text() if csv_file.is_file() else table  # read once: k and the assignment
    if old != table and (made := 1 + max(int(r["fold"]) for r in csv.DictReader(old.splitlines()))) != k:
        raise SettingsError(
            f"'{out.parent}' was made with folds={made}; pass folds={made}, or a new name= for folds={k}"
        )
    if old != table:
        raise SettingsError(
            f"the images or labels of '{data}' changed since '{csv_file}' assigned the folds; "
            "pass a new name= or delete that comparison folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    csv_file.write_text(table)
    names = cfg["names"]
    yamls = []
    for f in range(k):
        d = out / f"f{f}"
        d.mkdir(exist_ok=True)
        (d / "train.txt").write_text("".join(f"{p}\n" for p, g in zip(images, fold) if g != f))
        (d / "val.txt").write_text("".join(f"{p}\n" for p, g in zip(images, fold) if g == f))
        spec = {"path": str(d), "train": "train.txt", "val": "val.txt", "names": names}
        spec |= {k: cfg[k] for k in ("channels",) if k in cfg}  # a grayscale dataset stays one
        (d / "data.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        yamls.append(d / "data.yaml")
    return yamls
