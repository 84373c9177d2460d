"""Pseudo-labels for ``kd_method=pseudo``: a frozen teacher's detections on the ``unlabeled=`` images written as
YOLO labels, which then train with the labelled images (today's practice: predict with a big model, save its
boxes as labels, retrain).

``out`` holds ``images/<name>`` (a link to each original, under a name made unique by a hash of its path; a copy
where links fail) and ``labels/<same stem>.txt``: the teacher's detections with confidence >= ``conf`` as
``class x y w h`` (normalised), an empty file where it found none (a background image: what the teacher says).
Ultralytics looks for an image's labels beside the path it is given (``/images/`` -> ``/labels/``), so it reads
these, never a label file beside an original. Every file is written to a temporary name and renamed, and
``pseudo.json``, written last, records what made them (teacher and pool fingerprints, ``conf``, ``imgsz``) and
the counts: a folder whose record matches is reused without running the teacher (DDP workers, resume), any
other is made again. The images are read here, as Ultralytics' predictor reads files, and handed to it one batch
at a time: memory stays flat over any pool, and an unreadable frame is skipped with a warning naming it instead
of stopping the labelling. Detect teachers only: a segment, pose or obb teacher is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from yolokd import fingerprint
from yolokd.cfg import SettingsError
from yolokd.data.unlabeled import list_unlabeled

RECORD = "pseudo.json"  # written last: a folder without it (an interrupted labelling) is made again


def pseudo_label(
    teacher: str | Path,
    unlabeled: str | Path,
    out: str | Path,
    conf: float = 0.25,
    imgsz: int = 640,
    device: str = "cpu",
    batch: int = 16,
) -> dict[str, Any]:
    """Label the images of ``unlabeled`` (a folder or a .txt list) with ``teacher``'s detections at ``conf`` under
    ``out``, or reuse ``out`` where its ``pseudo.json`` says it was made so; returns that record."""
    out = Path(out)
    want = {"teacher": fingerprint.weights(teacher), "unlabeled": fingerprint.unlabeled(unlabeled)}
    want |= {"conf": conf, "imgsz": imgsz}
    if (made := _matching(out, want)) is not None:
        return {**made, "reused": True}
    from ultralytics import YOLO
    from ultralytics.utils import TQDM

    from yolokd.recorder import input_channels

    model = YOLO(str(teacher))
    if model.task != "detect":
        raise SettingsError(
            f"kd_method=pseudo writes a detect teacher's boxes as labels; teacher '{teacher}' is a {model.task} "
            "model: use a detect teacher"
        )
    images = list_unlabeled(unlabeled)
    _clear(out)
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir()
    n = boxes = empty = 0
    gray = input_channels(model.model) == 1
    with TQDM(total=len(images), desc="yolokd: pseudo-labelling") as bar:
        for i in range(0, len(images), batch):  # one batch of images and results in memory at a time
            read = [(p, im) for p in images[i : i + batch] if (im := _read(p, gray)) is not None]
            if read:
                results = model.predict([im for _, im in read], conf=conf, imgsz=imgsz, device=device, verbose=False)
                for (image, _), r in zip(read, results):
                    rows = _rows(r.boxes, conf)
                    link = out / "images" / unique_name(image)
                    _write(out / "labels" / f"{link.stem}.txt", "".join(f"{row}\n" for row in rows))
                    _link(image, link)
                    n, boxes, empty = n + 1, boxes + len(rows), empty + (not rows)
            bar.update(len(images[i : i + batch]))
    if n == 0:
        raise SettingsError(f"unlabeled '{unlabeled}': none of its {len(images)} images could be read")
    record = {**want, "images": n, "boxes": boxes, "empty": empty, "unreadable": len(images) - n}
    _write(out / RECORD, json.dumps(record, indent=2))
    return {**record, "reused": False}


def unique_name(image: Path) -> str:
    """The link's file name: the original's stem, a hash of its absolute path (two cameras' ``000001.jpg`` differ)
    and its suffix."""
    digest = hashlib.sha256(os.path.abspath(image).encode()).hexdigest()[:12]
    return f"{image.stem}_{digest}{image.suffix}"


def train_split(train: str | list[str], kd: dict[str, Any], out: Path, device: Any, make: bool) -> list[str]:
    """The train entry of data.yaml plus ``out/images``, the teacher's pseudo-labelled ``kd["unlabeled"]`` images;
    they are labelled (or reused) here when ``make`` (rank -1/0, one line logged), else must already be there."""
    from ultralytics.utils import LOGGER

    if make:
        batch = int(kd["batch"]) if kd.get("batch", 16) >= 1 else 16  # batch=-1 / 0.7 (auto): a fixed one
        r = pseudo_label(kd["teacher"], kd["unlabeled"], out, kd["pseudo_conf"], kd["imgsz"], str(device), batch)
        skipped = f", {r['unreadable']} unreadable images skipped" if r["unreadable"] else ""
        LOGGER.info(
            f"yolokd: pseudo: {r['images']} unlabeled images labelled by teacher {kd['teacher']} at "
            f"pseudo_conf={kd['pseudo_conf']}: {r['boxes']} boxes, {r['empty']} images with none{skipped} "
            f"({'reused' if r['reused'] else 'written'} in {out})"
        )
    elif not (out / RECORD).is_file():
        raise SettingsError(f"the pseudo-labels '{out}' were not made by rank 0; run the training again")
    return [*(train if isinstance(train, list) else [train]), str(out / "images")]


def _read(image: Path, gray: bool) -> Any:
    """The image as Ultralytics' predictor reads a file (BGR, or grey for a 1-channel teacher), or None, warned,
    where it cannot be read: a corrupt frame is skipped (it gets no link, so it does not train)."""
    import cv2
    from ultralytics.utils import LOGGER
    from ultralytics.utils.patches import imread

    try:
        im = imread(image, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    except Exception:  # Ultralytics' fallback readers (PIL, HEIC) raise where cv2 returned None
        im = None
    if im is None:
        LOGGER.warning(f"yolokd: pseudo: '{image}' could not be read as an image; skipped")
    return im


def _rows(boxes: Any, conf: float) -> list[str]:
    """YOLO label rows ``class x y w h`` (normalised) of the detections with confidence >= ``conf``."""
    return [
        f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}"
        for c, p, (x, y, w, h) in zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xywhn.tolist())
        if p >= conf
    ]


def _matching(out: Path, want: dict[str, Any]) -> dict[str, Any] | None:
    """``out``'s record where it was made by the same teacher (same tensors), pool, ``conf`` and ``imgsz``."""
    try:
        made = json.loads((out / RECORD).read_text())
    except (OSError, ValueError):
        return None
    same = fingerprint.same_weights(made.get("teacher") or {}, want["teacher"])
    return made if same and all(made.get(k) == v for k, v in want.items() if k != "teacher") else None


def _clear(out: Path) -> None:
    """Remove what an earlier labelling left in ``out`` (its record first), so no stale label survives."""
    (out / RECORD).unlink(missing_ok=True)
    for sub in ("images", "labels"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "labels.cache").unlink(missing_ok=True)  # Ultralytics' label cache, where it put it


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _link(src: Path, dst: Path) -> None:
    """``dst`` -> ``src`` (absolute), made under a temporary name and renamed; a copy where links fail."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(os.path.abspath(src), tmp)
    except OSError:  # e.g. Windows without the privilege to make links
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)
