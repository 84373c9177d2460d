"""``yolokd data frames`` on videos and images generated here: sampling, near-duplicates, counts, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli

from yolokd.data import frames
from yolokd.data.frames import DEDUP, Dedup, extract_frames
from yolokd.data.voc import DatasetError

FPS, SECONDS, SIDE, SQUARE = 10, 3, 128, 16


def _scene(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A static textured background: smooth grey noise, as (h, w, 3) float."""
    base = cv2.GaussianBlur(rng.normal(120, 40, (h, w)).astype(np.float32), (0, 0), 3)
    return np.repeat(np.clip(base * 2 - 120, 0, 255)[..., None], 3, 2)


def _shot(scene: np.ndarray, rng: np.random.Generator, sigma: float = 3) -> np.ndarray:
    return np.clip(scene + rng.normal(0, sigma, scene.shape), 0, 255).astype(np.uint8)


def make_video(path: Path, seed: int = 0) -> Path:
    """3 s at 10 fps: a bright square moves 4 px per frame for frames 0-14, then stands still (frames 15-29).

    Every frame carries fresh sensor noise and is MJPG-compressed, so the static stretch repeats itself only
    up to noise, as a real camera's does."""
    rng = np.random.default_rng(seed)
    scene = _scene(rng, SIDE, SIDE)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIDE, SIDE))
    assert writer.isOpened()
    for i in range(FPS * SECONDS):
        img = scene.copy()
        x = 4 * min(i, 14)
        img[40 : 40 + SQUARE, x : x + SQUARE] = 250
        writer.write(_shot(img, rng))
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "cam.avi")


def _stems(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize(("every", "indices"), [(1, [0, 10, 20]), (0.5, [0, 5, 10, 15, 20, 25]), (0.1, range(30))])
def test_every_is_seconds_of_video(video, tmp_path, every, indices):
    counts = extract_frames(video, tmp_path / "out", every=every, dedup=0, verbose=False)
    assert (counts.sampled, counts.kept, counts.dropped) == (len(indices), len(indices), 0)
    assert _stems(tmp_path / "out") == [f"cam_f{i:06d}_{100 * i:08d}ms.jpg" for i in indices]  # 100 ms a frame
    first = cv2.imread(str(tmp_path / "out" / "cam_f000000_00000000ms.jpg"))
    assert first.shape == (SIDE, SIDE, 3)


def test_the_static_stretch_is_dropped_as_near_duplicates(video, tmp_path, capsys):
    """Samples at frames 0, 5, 10, 15, 20, 25: the square moves until frame 14, so 20 and 25 repeat 15."""
    counts = extract_frames(video, tmp_path / "out", every=0.5)
    assert (counts.sampled, counts.kept, counts.dropped) == (6, 4, 2)
    assert [int(n.split("_f")[1][:6]) for n in _stems(tmp_path / "out")] == [0, 5, 10, 15]
    assert "4 frames kept" in capsys.readouterr().out
    every_frame = extract_frames(video, tmp_path / "all", every=0.1, verbose=False)
    assert (every_frame.kept, every_frame.dropped) == (15, 15)  # moving: each kept; still: each dropped


def test_the_threshold_separates_noise_and_jpeg_from_a_small_moving_object():
    """Both sides of DEDUP on 320x240 frames: noise (sigma 8) and JPEG at quality 50 of one static scene are
    duplicates; an object covering 0.26 % of the frame (14x14 px) moved by its width, at contrast 40, is new,
    a speck of 0.02 % (4x4 px) is not."""
    rng = np.random.default_rng(1)
    scene = _scene(rng, 240, 320)

    def jpeg(img: np.ndarray) -> np.ndarray:
        return cv2.imdecode(cv2.imencode(".jpg", _shot(img, rng, 8), [cv2.IMWRITE_JPEG_QUALITY, 50])[1], 1)

    for _ in range(5):
        d = Dedup(DEDUP)
        assert d.keep(jpeg(scene)) and not d.keep(jpeg(scene))

    def moved(side: int) -> int:  # of 10 objects of side x side px, moved by their width: how many are new
        new = 0
        for y, x in rng.integers(20, 200, (10, 2)):
            a, b = scene.copy(), scene.copy()
            level = np.clip(scene[y : y + side, x : x + side].mean() + 40, 0, 255)
            a[y : y + side, x : x + side], b[y : y + side, x + side : x + 2 * side] = level, level
            d = Dedup(DEDUP)
            new += d.keep(jpeg(a)) and d.keep(jpeg(b))
        return new

    assert moved(14) == 10  # 0.26 % of the frame: always new
    assert moved(4) == 0  # a 4x4 px speck (0.02 %: a bird, a leaf) changes at most 3 of 4,096 pixels: a duplicate
    assert Dedup(0).keep(scene) and Dedup(0).keep(scene)  # dedup=0 keeps all (a fresh reference each time)
    d = Dedup(0)
    assert d.keep(_shot(scene, rng)) and d.keep(_shot(scene, rng))


def test_a_folder_of_images_every_nth_copied_as_they_are(tmp_path):
    rng = np.random.default_rng(2)
    src = tmp_path / "src"
    (src / "b").mkdir(parents=True)
    scenes = [_scene(rng, 96, 128) for _ in range(3)]
    order = [0, 9, 0, 9, 1, 9, 2, 9]  # every=2 takes images 0, 2, 4, 6: scenes 0, 0, 1, 2
    for i, s in enumerate(order):
        img = _shot(scenes[s] if s < 9 else scenes[0] * 0, rng)
        cv2.imwrite(str(src / ("b" if i >= 4 else "") / f"im{i}.png"), img)
    counts = extract_frames(src, tmp_path / "out", every=2, verbose=False)
    assert (counts.sampled, counts.kept, counts.dropped) == (4, 3, 1)
    assert _stems(tmp_path / "out") == ["b__im4.png", "b__im6.png", "im0.png"]
    assert (tmp_path / "out" / "b__im6.png").read_bytes() == (src / "b" / "im6.png").read_bytes()
    with pytest.raises(DatasetError, match=r"every=0.5 counts images .* whole number"):
        extract_frames(src, tmp_path / "out2", every=0.5, verbose=False)


def test_a_folder_of_videos_with_a_corrupt_one_warns_and_continues(video, tmp_path, capsys):
    src = tmp_path / "src"
    (src / "north").mkdir(parents=True)
    (src / "a.avi").write_bytes(video.read_bytes())
    make_video(src / "north" / "b.avi", seed=3)
    (src / "broken.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    counts = extract_frames(src, tmp_path / "out", every=1, dedup=0)
    err = capsys.readouterr().err
    assert counts.unreadable == [str(src / "broken.mp4")]
    assert err.count("\n") == 1 and f"skipped '{src / 'broken.mp4'}': not a readable video" in err
    names = _stems(tmp_path / "out")
    assert len(names) == 6 and names[0].startswith("a_f000000") and names[-1].startswith("north__b_f000020")


def test_a_truncated_video_keeps_the_frames_before_the_damage(video, tmp_path, capsys):
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    counts = extract_frames(cut, tmp_path / "out", every=0.1, dedup=0)
    err = capsys.readouterr().err
    assert 0 < counts.kept < 30 and len(list((tmp_path / "out").iterdir())) == counts.kept
    assert f"'{cut}' ended at frame {counts.kept} of 30" in err and err.count("\n") == 1


def test_a_rerun_writes_nothing_twice_and_an_interrupted_write_leaves_no_part(video, tmp_path, monkeypatch):
    out = tmp_path / "out"
    extract_frames(video, out, every=0.5, verbose=False)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = extract_frames(video, out, every=0.5, verbose=False)
    assert (again.written, again.existing, again.dropped) == (0, 4, 2)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before

    calls, real = [], frames.os.replace

    def replace(a, b):  # the second frame's rename fails, as a full disk or Ctrl-C would
        calls.append(b)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(a, b)

    monkeypatch.setattr(frames.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        extract_frames(video, tmp_path / "cut", every=0.5, verbose=False)
    assert _stems(tmp_path / "cut") == ["cam_f000000_00000000ms.jpg"]  # the whole first frame, no .part


def test_progress_is_printed_on_long_videos_only(video, tmp_path, monkeypatch, capsys):
    extract_frames(video, tmp_path / "a", every=1)
    assert "%" not in capsys.readouterr().err  # 30 frames: no progress
    monkeypatch.setattr(frames, "PROGRESS_FRAMES", 10)
    extract_frames(video, tmp_path / "b", every=1)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"yolokd: cam.avi: {p}% (frame {3 * p // 10} of 30)" for p in range(10, 101, 10)]
    extract_frames(video, tmp_path / "c", every=1, verbose=False)
    assert capsys.readouterr() == ("", "")


def test_an_unknown_frame_rate_is_assumed_30_with_a_warning(capsys):
    assert frames.video_fps(25.0, Path("v.mp4")) == 25.0 and capsys.readouterr().err == ""
    for bad in (0.0, -1.0, math.nan, 90000.0):
        assert frames.video_fps(bad, Path("v.mp4")) == 30.0
        assert "'v.mp4' does not say its frame rate; assuming 30 fps" in capsys.readouterr().err


def test_cli_counts_and_bad_inputs(video, tmp_path):
    code, out = run_cli("data", "frames", f"source={video}", f"out={tmp_path / 'out'}", "every=0.5")
    assert code == 0 and "4 frames kept" in out and "2 dropped as near-duplicates (of 6 sampled" in out, out
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 and then nothing")
    (tmp_path / "allbad").mkdir()
    (tmp_path / "allbad" / "x.png").write_bytes(b"png? no")
    for source, message in [
        ("missing", f"source '{tmp_path / 'missing'}' not found; pass source=VIDEO or source=FOLDER"),
        ("empty", f".webp) in '{tmp_path / 'empty'}'; pass source=VIDEO or a folder holding them"),
        ("bad.jpg", f"'{tmp_path / 'bad.jpg'}': not a readable image; check that it opens"),
        ("bad.mp4", f"'{tmp_path / 'bad.mp4'}': not a readable video (OpenCV cannot open it)"),
        ("allbad", f"none of the images or videos in '{tmp_path / 'allbad'}' could be read"),
    ]:
        code, out = run_cli("data", "frames", f"source={tmp_path / source}", f"out={tmp_path / 'o'}")
        assert code == 2 and message in out and "Traceback" not in out, out
        assert out.count("yolokd: error:") == 1
    code, out = run_cli("data", "frames", f"source={video}", f"out={tmp_path / 'o'}", "dedup=1.5")
    assert code == 2 and "dedup=1.5 must be a fraction in [0, 1)" in out


def test_the_threshold_benchmark_writes_its_table_and_keeps_its_reading(tmp_path):
    """benchmarks/frames_dedup.py (the docs quote it) on a few trials: every case has a row, static scenes and
    an exposure change are all dropped, a 0.02 % speck is dropped and objects of 0.1 % and more are kept."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "frames_dedup.py"
    if not script.is_file():
        pytest.skip("benchmarks/ is part of the source tree, not of the wheel")
    out = tmp_path / "dedup.md"
    subprocess.run([sys.executable, str(script), "--trials", "4", "--out", str(out)], check=True, capture_output=True)
    rows = {" ".join(c.strip() for c in line.split("|")[1:3]): line.split("|")[4].strip()
            for line in out.read_text().splitlines() if line.startswith("| ") and "of 4" in line}  # fmt: skip
    assert len(rows) == 16 + 2 + 4
    assert all(kept == "0 of 4" for case, kept in rows.items() if "static" in case or "exposure" in case)
    assert rows["object moved by its width 0.02 % of the frame"] == "0 of 4"
    for area in ("0.1", "0.25", "1"):
        assert rows[f"object moved by its width {area} % of the frame"] == "4 of 4"
    assert "- command: `python benchmarks/frames_dedup.py --trials 4" in out.read_text()
