"""Pascal-VOC XML annotations → a tiled YOLO dataset (``yolokd data voc``).

Each image is cut into non-overlapping tiles of at most ``tile`` pixels: an image of width W
gets ceil(W / tile) equal columns (the same for rows), so no pixel is dropped and no tile is
padded. A box is kept in a tile when at least ``min_visible`` of its area lies inside it, and
is then clipped to the tile. Tiles without boxes are kept (empty label files are negatives).

The split is fixed and documented: tiles are numbered in the order of the sorted source
image names, then row by row; every ``val_every``-th tile (numbers val_every-1, 2*val_every-1,
...) is validation, the rest train. ``tiles.csv`` lists every tile with its source window.
"""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml
from PIL import Image

from yolokd.cfg import SettingsError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
Image.MAX_IMAGE_PIXELS = None  # aerial mosaics are legitimately large


class DatasetError(SettingsError):
    """The input annotations or images cannot be converted; the message says what to fix.

    A SettingsError, so every command (data, demo, compare) reports it as one line, exit code 2."""


@dataclass(frozen=True)
class Box:
    name: str
    x1: float
    y1: float
    x2: float
    y2: float


def read_voc(xml_path: Path) -> tuple[str, list[Box]]:
    """The image file name and boxes of one VOC XML file."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise DatasetError(f"{xml_path}: not a readable Pascal-VOC XML file ({e})") from None
    boxes = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        name = (obj.findtext("name") or "").strip()
        if bb is None or not name:
            raise DatasetError(f"{xml_path}: an <object> lacks <name> or <bndbox>")
        try:
            x1, y1, x2, y2 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError):
            raise DatasetError(f"{xml_path}: box of '{name}' needs numeric xmin, ymin, xmax, ymax") from None
        if x2 <= x1 or y2 <= y1:
            raise DatasetError(f"{xml_path}: box of '{name}' has xmax <= xmin or ymax <= ymin ({x1},{y1},{x2},{y2})")
        boxes.append(Box(name, x1, y1, x2, y2))
    return (root.findtext("filename") or "").strip(), boxes


def tile_windows(width: int, height: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping (x0, y0, x1, y1) windows of at most ``tile`` px covering the image, row by row."""
    cols, rows = math.ceil(width / tile), math.ceil(height / tile)
    xs = [round(i * width / cols) for i in range(cols + 1)]
    ys = [round(j * height / rows) for j in range(rows + 1)]
    return [(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(rows) for i in range(cols)]


def clip_boxes(boxes: list[Box], window: tuple[int, int, int, int], min_visible: float) -> list[Box]:
    """Boxes with at least ``min_visible`` of their area inside ``window``, clipped, in tile coordinates."""
    x0, y0, x1, y1 = window
    out = []
    for b in boxes:
        cx1, cy1, cx2, cy2 = max(b.x1, x0), max(b.y1, y0), min(b.x2, x1), min(b.y2, y1)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        if (cx2 - cx1) * (cy2 - cy1) >= min_visible * (b.x2 - b.x1) * (b.y2 - b.y1):
            out.append(Box(b.name, cx1 - x0, cy1 - y0, cx2 - x0, cy2 - y0))
    return out


def _find_image(xml_path: Path, filename: str, images: Path) -> Path:
    candidates = [images / filename] if filename else []
    candidates += [images / (xml_path.stem + s) for s in IMAGE_SUFFIXES]
    for c in candidates:
        if c.is_file():
            return c
    raise DatasetError(
        f"{xml_path}: its image '{filename or xml_path.stem}' is not in {images}; "
        "pass images=DIR holding the images named in the XML files' <filename>"
    )


def convert_voc(
    annotations: str | Path,
    out: str | Path,
    images: str | Path | None = None,
    tile: int = 400,
    classes: list[str] | None = None,
    rename: dict[str, str] | None = None,
    val_every: int = 3,
    min_visible: float = 0.5,
) -> Path:
    """Convert every ``*.xml`` in ``annotations`` (images in ``images``, default the same folder); return data.yaml.

    ``rename`` maps VOC names to dataset names before anything else (e.g. merge Alive/Dead into tree).
    ``classes`` fixes the class list and its order; by default it is the sorted set of (renamed) names.
    """
    annotations = Path(annotations)
    images = Path(images) if images else annotations
    out = Path(out).resolve()
    if tile < 32:
        raise DatasetError(f"tile={tile} is too small; use at least 32 (e.g. 400 or 640)")
    if val_every < 2:
        raise DatasetError(f"val_every={val_every} must be >= 2 (every val_every-th tile goes to validation)")
    if not 0 < min_visible <= 1:
        raise DatasetError(f"min_visible={min_visible} must be in (0, 1]")
    xmls = sorted(annotations.glob("*.xml"))
    if not xmls:
        raise DatasetError(f"no .xml files in '{annotations}'; pass annotations=DIR holding Pascal-VOC XML files")
    if (out / "images").exists() and any((out / "images").rglob("*")):
        raise DatasetError(f"'{out}' already holds a dataset; pass a new out=DIR (nothing is overwritten)")
    rename = rename or {}
    sources = []
    for x in xmls:
        filename, boxes = read_voc(x)
        boxes = [Box(rename.get(b.name, b.name), b.x1, b.y1, b.x2, b.y2) for b in boxes]
        sources.append((_find_image(x, filename, images), boxes))
    found = sorted({b.name for _, boxes in sources for b in boxes})
    names = list(classes) if classes else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise DatasetError(f"class names {unknown} are in the XML files but not in classes={','.join(names)}; add them")
    index = {n: i for i, n in enumerate(names)}

    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    rows, k = [], 0
    for image_path, boxes in sorted(sources, key=lambda s: s[0].name):
        with Image.open(image_path) as im:
            im = im.convert("RGB")
            for t, win in enumerate(tile_windows(im.width, im.height, tile)):
                split = "val" if k % val_every == val_every - 1 else "train"
                k += 1
                stem = f"{image_path.stem}_t{t:03d}"
                w, h = win[2] - win[0], win[3] - win[1]
                im.crop(win).save(out / "images" / split / f"{stem}.png")
                kept = clip_boxes(boxes, win, min_visible)
                lines = [
                    f"{index[b.name]} {(b.x1 + b.x2) / 2 / w:.6f} {(b.y1 + b.y2) / 2 / h:.6f} "
                    f"{(b.x2 - b.x1) / w:.6f} {(b.y2 - b.y1) / h:.6f}"
                    for b in kept
                ]
                (out / "labels" / split / f"{stem}.txt").write_text("".join(f"{s}\n" for s in lines))
                rows.append([f"{stem}.png", split, image_path.name, *win, len(kept)])
    with open(out / "tiles.csv", "w", newline="") as f:
        csv.writer(f).writerows([["tile", "split", "source", "x0", "y0", "x1", "y1", "boxes"], *rows])
    data = {"path": str(out), "train": "images/train", "val": "images/val", "names": dict(enumerate(names))}
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out / "data.yaml"
