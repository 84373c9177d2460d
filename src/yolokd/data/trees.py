"""``yolokd data trees``: a real detection dataset from the aerial tree-crown annotations in DeepForest.

The ``deepforest==2.1.0`` wheel (MIT licence) ships four RGB aerial images with Pascal-VOC boxes
in ``deepforest/data/``: OSBS_029 and SOAP_061 (400x400), 2019_YELL_2_541000_4977000_image_crop
(1249x1035) and 2019_YELL_2_528000_4978000_image_crop2 (2299x2472), 951 boxes in all. The wheel is
fetched with ``pip download --no-deps`` and read as a zip; DeepForest is never installed or imported.
Every box becomes class 0 ``tree`` (SOAP_061's Alive/Dead are both trees); the images are tiled
by :func:`yolokd.data.voc.convert_voc` (tiles of at most 400 px, every 3rd tile validation).

Weinstein et al., "DeepForest: A Python package for RGB deep learning tree crown delineation",
Methods in Ecology and Evolution 2020. https://github.com/weecology/DeepForest
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from yolokd.data.voc import DatasetError, convert_voc

WHEEL = "deepforest==2.1.0"
SOURCES = (
    "OSBS_029",
    "SOAP_061",
    "2019_YELL_2_541000_4977000_image_crop",
    "2019_YELL_2_528000_4978000_image_crop2",
)
RENAME = {"Tree": "tree", "Alive": "tree", "Dead": "tree"}


def fetch_wheel(cache: Path, spec: str = WHEEL, size: str = "about 21 MB", key: str = "wheel") -> Path:
    """The wheel ``spec`` (``name==version``) in ``cache``, downloaded with pip (no dependencies, not installed);
    ``key`` is the setting that passes a local copy instead, named in the error."""
    name, _, version = spec.partition("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(cache.glob(pattern)) or sorted(cache.glob(f"{name}-{version}-*.whl"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    print(f"yolokd: downloading {spec} ({size}, not installed) into {cache}", flush=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", spec, "-d"]
    res = subprocess.run([*cmd, str(cache)], capture_output=True, text=True)
    found = sorted(cache.glob(pattern)) or sorted(cache.glob(f"{name}-{version}-*.whl"))
    if res.returncode or not found:
        why = (res.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise DatasetError(
            f"could not download {spec} with pip ({why}); check access to PyPI, or download the wheel elsewhere "
            f"and pass {key}=path/to/{pattern.replace('*', 'py3-none-any')}"
        )
    return found[0]


def make_trees(out: str | Path, wheel: str | Path | None = None, cache: str | Path | None = None) -> Path:
    """Write the tiled tree dataset to ``out`` and return its data.yaml; an existing one is reused."""
    out = Path(out).resolve()
    if (out / "data.yaml").is_file() and (out / "tiles.csv").is_file():
        return out / "data.yaml"
    cache = Path(cache) if cache else Path.home() / ".cache" / "yolokd"
    wheel = Path(wheel) if wheel else fetch_wheel(cache)
    if not wheel.is_file():
        raise DatasetError(f"wheel '{wheel}' not found; pass wheel=path/to/deepforest-2.1.0-py3-none-any.whl")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        for stem in SOURCES:
            for suffix in (".xml", ".png"):
                member = f"deepforest/data/{stem}{suffix}"
                try:
                    (Path(tmp) / f"{stem}{suffix}").write_bytes(z.read(member))
                except KeyError:
                    raise DatasetError(f"{wheel} has no {member}; pass the deepforest 2.1.0 wheel") from None
        return convert_voc(tmp, out, tile=400, rename=RENAME, classes=["tree"], val_every=3)
