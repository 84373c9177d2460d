"""``yolokd data template``: an empty YOLO dataset laid out for one of the paper's smart-city tasks.

Templates live in ``yolokd/cfg/datasets/``: ``pothole`` (1 class), ``safety`` (safety clothing and
helmets, 7 classes) and ``scooter`` (e-scooter violations, 4 classes).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from yolokd.data.voc import DatasetError

TEMPLATES = Path(__file__).resolve().parent.parent / "cfg" / "datasets"


def names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.yaml"))


def write_template(name: str, out: str | Path) -> Path:
    """Create ``out/images/{train,val}``, ``out/labels/{train,val}`` and ``out/data.yaml``; return data.yaml."""
    src = TEMPLATES / f"{name}.yaml"
    if not src.is_file():
        raise DatasetError(f"no dataset template '{name}'; choose one of: {', '.join(names())}")
    out = Path(out).resolve()
    if (out / "data.yaml").exists():
        raise DatasetError(f"'{out / 'data.yaml'}' exists; pass a new out=DIR (nothing is overwritten)")
    for sub in ("images/train", "images/val", "labels/train", "labels/val"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    text = src.read_text(encoding="utf-8")
    comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    cfg = yaml.safe_load(text)
    cfg["path"] = str(out)
    (out / "data.yaml").write_text(
        comments + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return out / "data.yaml"
