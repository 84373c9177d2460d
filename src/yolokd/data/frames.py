"""``yolokd data frames``: still frames from camera videos or folders of images, near-duplicates dropped.

A static city camera repeats itself: hours of the same street with a car now and then. This writes a plain
folder of images, one file per kept frame, for training on unlabeled frames.

**Sampling** (``every=``): in a video, seconds — frame ``i`` is taken when it is the first frame at or after
``k * every`` seconds (``i = round(k * every * fps)``), from the video's own FPS; when a video does not say its
FPS (0, negative or absurd), 30 is assumed and a warning names the file. In a folder of images, a count: every
``every``-th image in sorted order (a whole number). Videos are read frame by frame (``grab`` decodes every frame;
only the sampled ones are converted to pixels), which is slower than seeking but exact on every codec.

**Near-duplicates** (``dedup=``): each sampled frame is compared with the last *kept* frame (across files, in
sorted order, so consecutive chunks of one camera continue each other). Both become 64x64 grey thumbnails
(OpenCV's area average); the measure is the *fraction of thumbnail pixels whose grey level changed by more
than 12* (of 255). A frame is a near-duplicate, and dropped, when that fraction is below ``dedup`` (default
0.001: fewer than 5 of the 4,096 pixels changed); ``dedup=0`` keeps every sampled frame.

Why this measure and threshold (``benchmarks/frames_dedup.py`` on generated 640x360 street scenes; the reading in
``benchmarks/results/README.md``; ``tests/test_frames.py`` checks both sides on smaller frames): the same static
scene shot twice with sensor noise of sigma 2-12 grey levels and JPEG re-encoding at quality 30-95 changes 0
thumbnail pixels (an area average over ~56 source pixels shrinks the noise to about a level), and so does a +5
level exposure change. An object moved by its own width changes 11-30 pixels when it covers 0.25 % of the frame
(a 100x50 px car in 1080p), 7-12 at 0.1 %, at most 4 when it is a speck of 0.02 % (a bird, a leaf): a frame is
kept from about 0.1 % of the frame in motion on. A 1-pixel camera shake changes 0-30 pixels at hard edges, so
some shaken frames are kept. The mean absolute difference of the thumbnails, the obvious alternative, cannot
separate them: up to 2 levels for noise and JPEG alone, 0.7-1.7 for objects of 0.1-1 % of the frame.

**Output**: ``out/<source>_f<frame>_<ms>ms.jpg`` for a video frame (the source's path under the folder, ``/``
as ``__``; frame index and time in the video; JPEG quality 95) and ``out/<source>.<suffix>`` for an image
(its bytes copied, not re-encoded). Each file is written to ``.part`` and renamed, so an interrupted or failing
run leaves only whole frames. A name already in ``out`` is not written again (the same settings make the same
names, so a re-run adds nothing; a re-run with other settings adds its frames beside the old ones).

**Bad input**: a missing source, a folder without images or videos, or a single unreadable file is an error
(one line naming it); an unreadable file in a folder is a warning line and the others continue; a video that
ends early (a truncated file) keeps the frames read before it, with a warning.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from yolokd.data.voc import IMAGE_SUFFIXES, DatasetError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm", ".ts", ".flv", ".asf")
DEDUP = 0.001  # fraction of thumbnail pixels that must change for a frame to be new
LEVEL = 12  # grey levels (of 255) a thumbnail pixel must change by to count as changed
THUMB = 64  # thumbnail side, pixels
FALLBACK_FPS = 30.0  # assumed when a video does not say its FPS
JPEG_QUALITY = 95
PROGRESS_FRAMES = 3000  # videos with more frames (2 minutes at 25 fps) print their progress every 10 %


@dataclass
class FrameCounts:
    """What one run did: frames kept (written now or already in ``out``), dropped, and files that failed."""

    out: Path
    sampled: int = 0
    written: int = 0
    existing: int = 0
    dropped: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.written + self.existing

    def summary(self, every: float, dedup: float) -> str:
        bad = f"; {len(self.unreadable)} unreadable file(s) skipped" if self.unreadable else ""
        again = f" ({self.existing} already there)" if self.existing else ""
        return (
            f"yolokd: {self.kept} frames kept in {self.out}{again}, {self.dropped} dropped as near-duplicates "
            f"(of {self.sampled} sampled; every={every}, dedup={dedup}){bad}"
        )


def thumbnail(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) BGR or (H, W) grey uint8 -> (THUMB, THUMB) int16 grey, by area average."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.int16)


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """The near-duplicate measure: the fraction of two thumbnails' pixels differing by more than LEVEL."""
    return float((np.abs(a - b) > LEVEL).mean())


class Dedup:
    """Keeps a frame when it differs from the last kept one by at least ``dedup`` (see the module's header)."""

    def __init__(self, dedup: float):
        self.dedup, self.last = dedup, None

    def keep(self, image: np.ndarray) -> bool:
        thumb = thumbnail(image)
        if self.last is not None and changed_fraction(thumb, self.last) < self.dedup:
            return False
        self.last = thumb
        return True


def video_fps(value: float, path: Path) -> float:
    """The FPS OpenCV reports for ``path``, or FALLBACK_FPS with a warning when it is unknown or absurd."""
    if math.isfinite(value) and 0 < value <= 1000:
        return value
    _warn(f"'{path}' does not say its frame rate; assuming {FALLBACK_FPS:g} fps for every=")
    return FALLBACK_FPS


def _warn(text: str) -> None:
    print(f"yolokd: warning: {text}", file=sys.stderr, flush=True)


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """FFmpeg's and OpenCV's own messages off while reading (a damaged file is reported in one line of ours)."""
    old_env, old_level = os.environ.get("OPENCV_FFMPEG_LOGLEVEL"), cv2.utils.logging.getLogLevel()
    os.environ["OPENCV_FFMPEG_LOGLEVEL"] = "-8"  # AV_LOG_QUIET
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(old_level)
        if old_env is None:
            os.environ.pop("OPENCV_FFMPEG_LOGLEVEL", None)
        else:
            os.environ["OPENCV_FFMPEG_LOGLEVEL"] = old_env


class Unreadable(Exception):
    """A file OpenCV cannot read; its message is the reason, the caller names the file."""


def video_frames(path: Path, every: float, verbose: bool) -> Iterator[tuple[int, int, np.ndarray]]:
    """(frame index, time in ms, BGR frame) for each sampled frame of the video ``path``."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise Unreadable("not a readable video (OpenCV cannot open it)")
        fps = video_fps(cap.get(cv2.CAP_PROP_FPS), path)
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        step = every * fps  # frames between samples
        i, k, shown = 0, 0, 0
        while cap.grab():
            if i >= round(k * step):
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    break
                yield i, round(1000 * i / fps), frame
                while round(k * step) <= i:  # the next sample time after this frame
                    k += 1
            i += 1
            if verbose and total > PROGRESS_FRAMES and 10 * i // total > shown:
                shown = 10 * i // total
                print(f"yolokd: {path.name}: {10 * shown}% (frame {i} of {total})", file=sys.stderr, flush=True)
        if i == 0:
            raise Unreadable("not a readable video (no frame could be decoded)")
        if total > 0 and i < 0.95 * total:
            _warn(f"'{path}' ended at frame {i} of {total} (damaged or truncated); the frames before it are kept")
    finally:
        cap.release()


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` whole or not at all: a ``.part`` file renamed into place."""
    part = path.with_name(path.name + ".part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def _name(path: Path, root: Path) -> str:
    """A source's name in ``out``: its path under the source folder without suffix, ``/`` as ``__``."""
    rel = path.relative_to(root) if path != root else Path(path.name)
    return "__".join(rel.with_suffix("").parts)


def find_sources(source: Path, out: Path) -> tuple[list[Path], list[Path]]:
    """The (images, videos) under ``source``, sorted, leaving out anything inside ``out``."""
    if not source.exists():
        raise DatasetError(f"source '{source}' not found; pass source=VIDEO or source=FOLDER of videos or images")
    if source.is_file():
        files = [source]
    else:
        files = sorted(p for p in source.rglob("*") if p.is_file() and out not in p.resolve().parents)
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    if not images and not videos:
        kinds = f"videos ({', '.join(VIDEO_SUFFIXES)}) or images ({', '.join(IMAGE_SUFFIXES)})"
        raise DatasetError(f"no {kinds} in '{source}'; pass source=VIDEO or a folder holding them")
    return images, videos


def _check(every: float, dedup: float, images: bool) -> None:
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not every > 0:
        raise DatasetError(f"every={every} must be a number > 0 (seconds of video; for images, every N-th image)")
    if images and float(every) != int(every):
        raise DatasetError(f"every={every} counts images in a folder of images; use a whole number, e.g. every=2")
    if isinstance(dedup, bool) or not isinstance(dedup, (int, float)) or not 0 <= dedup < 1:
        raise DatasetError(f"dedup={dedup} must be a fraction in [0, 1) (0 keeps every sampled frame; default {DEDUP})")


def extract_frames(
    source: str | Path, out: str | Path, every: float = 1, dedup: float = DEDUP, verbose: bool = True
) -> FrameCounts:
    """Write the sampled, deduplicated frames of ``source`` (a video, or a folder of videos and/or images) to
    ``out`` and return the counts; ``verbose`` prints progress on long videos and the counts at the end."""
    source, out = Path(source), Path(out).resolve()
    images, videos = find_sources(source, out)
    _check(every, dedup, bool(images))
    root = source if source.is_dir() else source.parent
    out.mkdir(parents=True, exist_ok=True)
    counts, dedupe = FrameCounts(out), Dedup(dedup)

    def offer(image: np.ndarray, name: str, data: bytes | None = None) -> None:
        counts.sampled += 1
        if not dedupe.keep(image):
            counts.dropped += 1
        elif (out / name).exists():
            counts.existing += 1
        else:
            if data is None:
                data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()
            _write(out / name, data)
            counts.written += 1

    def failed(path: Path, reason: str) -> None:
        if source.is_file():
            raise DatasetError(f"'{path}': {reason}; check that it opens in a viewer, or re-encode it")
        _warn(f"skipped '{path}': {reason}")
        counts.unreadable.append(str(path))

    with _quiet_opencv():
        for path in images[:: int(every)] if images else []:
            data = path.read_bytes()
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                failed(path, "not a readable image")
                continue
            offer(image, _name(path, root) + path.suffix.lower(), data)
        for path in videos:
            try:
                for index, ms, frame in video_frames(path, float(every), verbose):
                    offer(frame, f"{_name(path, root)}_f{index:06d}_{ms:08d}ms.jpg")
            except Unreadable as e:
                failed(path, str(e))
    if counts.sampled == 0:
        raise DatasetError(f"none of the images or videos in '{source}' could be read (see the warnings above)")
    if verbose:
        print(counts.summary(every, dedup), flush=True)
    return counts
