"""The Ultralytics releases yolokd supports, checked when yolokd is imported.

``ULTRALYTICS`` is the range the test suite passes on (CI runs it at both ends: 8.4.170 with torch
2.11, and the lock, 8.4.190 with torch 2.14.1); pyproject.toml declares the same range. yolokd
overrides and calls these Ultralytics internals (all in :mod:`yolokd.integration`): ``BaseTrainer``'s
``check_resume``, ``build_optimizer`` (its ``param_group`` names), ``_build_train_pipeline``,
``_setup_train``, ``_load_checkpoint_state``, ``_model_train``, ``_handle_nan_recovery``,
``optimizer_step``, ``save_model`` (``self.last``/``self.best``/``save_period``), ``final_eval``,
``save_metrics`` (its header written once); ``load_checkpoint``, ``strip_optimizer``,
``get_save_dir``; the Detect head's ``cv2``/``cv3``/``reg_max``, its ``one2one_cv2`` and ``end2end`` setter
(which branches fusion keeps) and its training-mode output dict; the criterion ``resume_training`` restores.
Outside that package, a few places follow Ultralytics conventions rather than call it: ``data/folds.py``
resolves a dataset's root as ``check_det_dataset`` does and lists its images as ``get_img_files`` does
(with its ``IMG_FORMATS``), and ``compare.train._finished`` reads a stripped checkpoint's ``epoch == -1``.
Across 8.4.170-8.4.190 none of them differs in what yolokd relies on, so there is no version switch
here; a release that changes one gets its branch in this module, with the versions named.
"""

from __future__ import annotations

import re
from importlib import metadata

ULTRALYTICS = (8, 4, 170), (8, 4, 190)  # oldest and newest supported release, inclusive


def _parse(version: str) -> tuple[int, ...]:
    """The release numbers, each part's leading digits: 8.4.190rc1 -> (8, 4, 190), 8.4.190.post1 -> (8, 4, 190)."""
    return tuple(int(re.match(r"\d*", p).group() or 0) for p in version.split(".")[:3])


def check_ultralytics(version: str | None = None) -> None:
    """Raise ImportError (one line: installed version, supported range, the pip command) outside the range."""
    if version is None:
        try:
            version = metadata.version("ultralytics")
        except metadata.PackageNotFoundError:
            return  # the pure-torch parts work without it; the trainer's import says what is missing
    lo, hi = (".".join(map(str, v)) for v in ULTRALYTICS)
    if not ULTRALYTICS[0] <= _parse(version) <= ULTRALYTICS[1]:
        raise ImportError(
            f"yolokd supports ultralytics {lo} to {hi}, but {version} is installed; "
            f'fix: pip install "ultralytics>={lo},<={hi}"'
        )
