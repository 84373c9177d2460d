"""The images of ``unlabeled=``: a folder of images (searched recursively) or a ``.txt`` list of them, listed as
Ultralytics lists a dataset's images (:func:`yolokd.data.folds.list_images`). Their label files, if any, are
never read: a pool of unlabeled frames is only images."""

from __future__ import annotations

from pathlib import Path

from yolokd.cfg import SettingsError, pool_source
from yolokd.data.folds import list_images


def list_unlabeled(source: str | Path) -> list[Path]:
    """The images of ``unlabeled=source``, sorted; a SettingsError naming the source when there are none, or
    naming the first listed image that does not exist."""
    source = Path(source)
    images = list_images(str(pool_source(source)), Path.cwd())
    if missing := [p for p in images if not p.is_file()]:
        raise SettingsError(
            f"unlabeled '{source}' lists {len(missing)} image(s) that do not exist, e.g. '{missing[0]}'; fix the "
            "list (relative lines are read from the list's folder when they start with ./, else from the cwd)"
        )
    if not images:
        raise SettingsError(
            f"unlabeled '{source}' holds no images ({'listed' if source.is_file() else 'found in the folder'}); "
            "pass a folder of .jpg/.png images, e.g. the out= of yolokd data frames"
        )
    return images
