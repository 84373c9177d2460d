"""Weights named as Ultralytics names them: a path, or a bare name of its released weights (``yolov8l.pt``), found
where ``YOLO("yolov8l.pt")`` finds it: here, in Ultralytics' ``weights_dir``, or downloaded from its releases.

Whether Ultralytics is online is its own verdict (``YOLO_OFFLINE``, or no network when it was imported); offline,
or where the download fails, one line names the file and how to get it, instead of Ultralytics' traceback.
"""

from __future__ import annotations

from pathlib import Path

from ultralytics import utils
from ultralytics.utils import downloads

from yolokd.cfg import SettingsError, is_bare_name

RELEASES = "https://github.com/ultralytics/assets/releases"


def offline_reason() -> str | None:
    """Why Ultralytics is offline, as it decides it (``utils.is_online``, run once at its import), or None."""
    if utils.env_bool("YOLO_OFFLINE"):
        return "YOLO_OFFLINE is set"
    return None if utils.ONLINE else "no network was found"


def resolve_weights(weights: str | Path, role: str) -> str:
    """The file ``weights`` names: an existing path as given; a bare name found here or in ``weights_dir``, or
    downloaded by Ultralytics (``attempt_download_asset``, into the current folder, as ``YOLO(name)`` does).
    Anything else is returned unchanged for the caller's own check. Offline or on a failed download: a
    SettingsError naming the file, the cause and how to get it."""
    text = str(weights)
    if Path(text).is_file() or not is_bare_name(text):
        return text
    kept = Path(utils.SETTINGS["weights_dir"]) / text
    if kept.is_file():
        return str(kept.resolve())
    where = f"{role} '{text}' is not in the current folder or Ultralytics' weights_dir ({kept.parent})"
    reason = offline_reason()
    if reason is None:
        try:
            found = Path(downloads.attempt_download_asset(text))
        except Exception as e:  # ConnectionError, or whatever else the download raised
            reason = f"its download failed ({' '.join(str(e).split()) or type(e).__name__})"
        else:
            if found.is_file():
                return str(found.resolve())
            raise SettingsError(f"{where} and is not one of Ultralytics' released weights; pass the path to the file")
    online = "; or unset YOLO_OFFLINE" if reason.startswith("YOLO_OFFLINE") else ""
    raise SettingsError(
        f"{where}, and {reason}, so it was not downloaded: download it where the internet is reachable "
        f"(`yolo predict model={text}`, or from {RELEASES}), then pass its path or put it in weights_dir{online}"
    )
