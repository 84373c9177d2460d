"""Fingerprints of what a run was trained on, so ``yolokd compare`` never reuses a run made on other inputs.

A dataset's fingerprint is its number of images, a hash of their paths and sizes, and a hash of its
label files' contents (fixing a label or adding an image changes it; ~10⁴ images take about a second).
A weights file's fingerprint is its size, its SHA-256 and a SHA-256 of its model's tensors: a checkpoint
records the date it was written, so the same weights saved again (a teacher retrained bit for bit on the same
machine) have another file hash but the same tensors. A teacher trained by ``yolokd compare`` also carries its
recipe (settings, data, starting weights), which is what a committed record checks (``compare records=``).
The code that trains has a fingerprint too, one hash per file with comments and docstrings left out, so a
record made before a change to the distiller or a loss is not pooled with runs trained after it.
"""

from __future__ import annotations

import ast
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


def unlabeled(source: str | Path) -> dict[str, Any]:
    """The fingerprint of an ``unlabeled=`` pool: its images' paths and sizes (no labels: none are read)."""
    from yolokd.data.unlabeled import list_unlabeled

    images = hashlib.sha256()
    files = list_unlabeled(source)
    for image in files:
        images.update(f"{image}:{image.stat().st_size}\n".encode())
    return {"unlabeled": str(Path(source).resolve()), "images": len(files), "images_sha256": images.hexdigest()}


# What decides how a run trains: the Ultralytics integration (trainer, models, optimizer groups, run files), the
# registry of methods, the distiller, criterion, losses, connectors, attention blocks, the teacher's feature
# recorder, DDP helpers and the Ultralytics version check (_compat). Reporting, the CLI and compare itself are
# left out, and so are the defaults (cfg/default.yaml): a run's settings, defaults included, are checked on their
# own from its args.yaml, so a new default or help text keeps every record whose run it does not change.
TRAINING_CODE = (
    "integration",
    "methods.py",
    "distiller.py",
    "criterion.py",
    "distributed.py",
    "_compat.py",
    "recorder.py",
    "losses",
    "connectors",
    "attention",
)


def training_code() -> dict[str, str]:
    """SHA-256 per file of the code that trains a run (comments, docstrings and layout left out), by path."""
    root = Path(__file__).resolve().parent
    files = [
        f
        for rel in TRAINING_CODE
        for f in (sorted((root / rel).rglob("*.py")) if (root / rel).is_dir() else [root / rel])
    ]
    return {f.relative_to(root).as_posix(): code_sha256(f.read_text()) for f in files}


def code_sha256(text: str) -> str:
    """SHA-256 of a Python file's code: without comments and docstrings, as ast.unparse writes it."""
    return hashlib.sha256(_code(text).encode()).hexdigest()


def _code(text: str) -> str:
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def weights(path: str | Path) -> dict[str, Any]:
    """The fingerprint of a weights file: size, SHA-256, and the SHA-256 of its model's tensors where it loads."""
    path = Path(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    fp = {"file": str(path), "bytes": path.stat().st_size, "sha256": h.hexdigest()}
    if (tensors := _tensors_sha256(path)) is not None:
        fp["tensors_sha256"] = tensors
    return fp


def _tensors_sha256(path: Path) -> str | None:
    """SHA-256 over the names, dtypes, shapes and bytes of an Ultralytics checkpoint's model (EMA first), or None."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # not a checkpoint torch can read: the file hash alone decides
        return None
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if model is None or not hasattr(model, "state_dict"):
        return None
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().contiguous().cpu()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def same_weights(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Two weights fingerprints name the same model: equal tensors where both know them, else equal files."""
    if "tensors_sha256" in old and "tensors_sha256" in new:
        return old["tensors_sha256"] == new["tensors_sha256"]
    return old.get("sha256") is not None and old.get("sha256") == new.get("sha256")


def changes(old: dict[str, Any], new: dict[str, Any], same_recipe: bool = False) -> list[str]:
    """What differs between two fingerprints of runs (``{"data": ..., "teacher": ..., "model": ...}``), in words.

    ``same_recipe``: weights trained by the same recipe (their ``recipe`` fingerprint: settings, data, starting
    weights) count as the same even where training was not bit-reproducible (a recorded run's teacher, retrained
    on a fresh machine)."""
    out = []
    for what, fp in new.items():
        before = old.get(what)
        if before is None or before == fp or (what not in ("data", "unlabeled") and same_weights(before, fp)):
            continue
        if what == "unlabeled":
            n, was = fp["images"], before["images"]
            out.append(f"the unlabeled pool {fp['unlabeled']} has {n} images, {was} when the run was trained")
            if n == was:
                out[-1] = f"the unlabeled pool {fp['unlabeled']} changed (image names or sizes)"
            continue
        if same_recipe and what != "data" and before.get("recipe") and before.get("recipe") == fp.get("recipe"):
            continue
        if what == "data":
            if before["images"] != fp["images"]:
                out.append(f"the dataset has {fp['images']} images, {before['images']} when the run was trained")
            elif before["images_sha256"] != fp["images_sha256"]:
                out.append("the dataset's image files changed (names or sizes)")
            if before["labels_sha256"] != fp["labels_sha256"]:
                out.append("the dataset's label files changed")
        elif "bytes" in fp:
            size = f"{before.get('bytes')} -> {fp['bytes']} bytes"
            out.append(f"the {what} file {fp['file']} changed ({size}, another SHA-256)")
        else:  # known by its recipe only (a recorded run's teacher, not trained here)
            out.append(f"the {what} file {fp['file']} changed (it was trained with other settings, data or weights)")
    return out
