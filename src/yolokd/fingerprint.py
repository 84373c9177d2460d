"""Fingerprints of what a run was trained on, so ``yolokd compare`` never reuses a run made on other inputs.

A dataset's fingerprint is its number of images, a hash of their paths and sizes, and a hash of its
label files' contents (fixing a label or adding an image changes it; ~10⁴ images take about a second).
A weights file's fingerprint is its size and SHA-256.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from yolokd.data.folds import read_dataset


def dataset(data: str | Path) -> dict[str, Any]:
    """The fingerprint of the train and val images (and their labels) of ``data.yaml``."""
    from ultralytics.data.utils import img2label_paths

    data = Path(data).resolve()
    images, labels = hashlib.sha256(), hashlib.sha256()
    n = 0
    for split, files in read_dataset(data)[1].items():
        for image, label in zip(files, map(Path, img2label_paths([str(f) for f in files]))):
            n += 1
            images.update(f"{split}:{image}:{image.stat().st_size}\n".encode())
            labels.update(f"{label}\n".encode() + (label.read_bytes() if label.is_file() else b"(none)") + b"\n")
    return {"data": str(data), "images": n, "images_sha256": images.hexdigest(), "labels_sha256": labels.hexdigest()}


def weights(path: str | Path) -> dict[str, Any]:
    """The fingerprint of a weights file: size and SHA-256."""
    path = Path(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"file": str(path), "bytes": path.stat().st_size, "sha256": h.hexdigest()}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints of runs (``{"data": ..., "teacher": ..., "model": ...}``), in words."""
    out = []
    for what, fp in new.items():
        before = old.get(what)
        if before is None or before == fp:
            continue
        if what == "data":
            if before["images"] != fp["images"]:
                out.append(f"the dataset has {fp['images']} images, {before['images']} when the run was trained")
            elif before["images_sha256"] != fp["images_sha256"]:
                out.append("the dataset's image files changed (names or sizes)")
            if before["labels_sha256"] != fp["labels_sha256"]:
                out.append("the dataset's label files changed")
        else:
            size = f"{before['bytes']} -> {fp['bytes']} bytes"
            out.append(f"the {what} file {fp['file']} changed ({size}, another SHA-256)")
    return out
