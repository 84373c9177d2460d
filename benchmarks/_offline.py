"""Imported first by the benchmark scripts that run Ultralytics: offline, as on the machines they ran on.

yolokd leaves Ultralytics' environment to its user; these scripts set theirs (unless the caller has), before
Ultralytics is imported: no downloads, no package installs. The shell scripts get the same from _common.sh.
"""

from __future__ import annotations

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
