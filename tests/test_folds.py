"""``compare folds=k``: the fold assignment (tiles kept together, every image once) and the runs it makes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY

from yolokd.cfg import SettingsError
from yolokd.compare import compare
from yolokd.data.folds import _cut, assign, read_dataset, write_folds
from yolokd.records import has_record

ARGS = {k: v for k, v in TINY.items() if k not in ("epochs", "seed", "exist_ok")}


def _tiled_dataset(root: Path) -> Path:
    """A 3x4 grid of tiles from one source image plus two single-tile sources; tile i has i % 4 boxes."""
    rows = ["tile,split,source,x0,y0,x1,y1,boxes"]
    tiles = [("big.png", x, y) for y in range(3) for x in range(4)] + [("a.png", 0, 0), ("b.png", 0, 0)]
    for i, (src, x, y) in enumerate(tiles):
        split = "val" if i % 3 == 2 else "train"
        name = f"{src[:-4]}_t{i:03d}.png"
        for sub in ("images", "labels"):
            (root / sub / split).mkdir(parents=True, exist_ok=True)
        (root / "images" / split / name).write_bytes(b"")
        (root / "labels" / split / name.replace(".png", ".txt")).write_text("0 0.5 0.5 0.1 0.1\n" * (i % 4))
        rows.append(f"{name},{split},{src},{x * 100},{y * 100},{x * 100 + 100},{y * 100 + 100},{i % 4}")
    (root / "tiles.csv").write_text("\n".join(rows) + "\n")
    spec = {"path": str(root), "train": "images/train", "val": "images/val", "names": {0: "tree"}}
    (root / "data.yaml").write_text(yaml.safe_dump(spec))
    return root / "data.yaml"


def test_folds_keep_tiles_of_a_source_together_and_validate_every_image_once(tmp_path):
    data = _tiled_dataset(tmp_path / "d")
    yamls = write_folds(data, 3, tmp_path / "folds")
    table = list(csv.DictReader(open(tmp_path / "folds" / "folds.csv")))
    assert len(table) == 14 and {r["fold"] for r in table} == {"0", "1", "2"}
    val = [set((y.parent / "val.txt").read_text().split()) for y in yamls]
    train = [set((y.parent / "train.txt").read_text().split()) for y in yamls]
    everything = {r["image"] for r in table}
    assert all(len(v) >= 3 for v in val) and set().union(*val) == everything
    assert sum(len(v) for v in val) == 14  # each image validated exactly once
    for v, t in zip(val, train):
        assert not v & t and v | t == everything
    # the big source's tiles in reading order change fold at most twice: contiguous blocks
    big = sorted((r for r in table if Path(r["image"]).name.startswith("big")), key=lambda r: Path(r["image"]).name)
    changes = sum(a["fold"] != b["fold"] for a, b in zip(big, big[1:]))
    assert changes == 2
    assert yaml.safe_load(yamls[1].read_text())["names"] == {0: "tree"}
    assert write_folds(data, 3, tmp_path / "folds") == yamls  # the same assignment again
    label = next((tmp_path / "d" / "labels" / "train").glob("big_t001.txt"))
    label.write_text(label.read_text() + "0 0.2 0.2 0.1 0.1\n")
    with pytest.raises(SettingsError, match="changed since"):
        write_folds(data, 3, tmp_path / "folds")


def test_no_fold_is_left_empty_by_a_heavy_tile(tmp_path):
    """Ten tiles of one source, the last with 100 boxes: cut by box midpoints alone, folds 1, 3 and 4 got none."""
    images = [tmp_path / f"s_t{i}.png" for i in range(10)]
    rows = ["tile,split,source,x0,y0,x1,y1,boxes"] + [
        f"s_t{i}.png,train,s.png,{i * 10},0,{i * 10 + 10},10,0" for i in range(10)
    ]
    (tmp_path / "tiles.csv").write_text("\n".join(rows) + "\n")
    folds = assign(images, [0] * 9 + [100], 5, tmp_path / "tiles.csv")
    assert sorted(set(folds)) == [0, 1, 2, 3, 4]
    import random

    rng = random.Random(1)
    for _ in range(500):  # any weights: k non-empty contiguous blocks in order
        k = rng.randint(2, 6)
        blocks = _cut([rng.choice([1, 1, 2, 5, 200]) for _ in range(rng.randint(k, 3 * k))], k)
        assert sorted(set(blocks)) == list(range(k)) and blocks == sorted(blocks)


def test_relative_dataset_path_is_found_as_ultralytics_finds_it(tmp_path, monkeypatch):
    """``path: ds`` is relative to the current folder (then Ultralytics' datasets folder), not to the yaml."""
    from ultralytics.data.utils import check_det_dataset

    for split in ("train", "val"):
        (tmp_path / "proj" / "ds" / "images" / split).mkdir(parents=True)
        (tmp_path / "proj" / "ds" / "images" / split / f"{split}.png").write_bytes(b"")
    (tmp_path / "proj" / "cfg").mkdir()
    spec = {"path": "ds", "train": "images/train", "val": "images/val", "names": {0: "a"}}
    (tmp_path / "proj" / "cfg" / "d.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(tmp_path / "proj")
    _, splits = read_dataset("cfg/d.yaml")
    assert splits["train"] == [(tmp_path / "proj" / "ds" / "images" / "train" / "train.png").resolve()]
    assert Path(check_det_dataset("cfg/d.yaml")["val"]) == splits["val"][0].parent  # where Ultralytics trains


def test_images_are_listed_as_ultralytics_lists_them(tmp_path):
    """Its image formats (an .avif counts, a .pfm does not), no hidden files, a list's non-image lines skipped, a
    symlinked image kept at the link (its label is looked for beside the link)."""
    from types import SimpleNamespace

    from ultralytics.data.base import BaseDataset

    from yolokd.data.folds import list_images

    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for name in ("a.png", "b.avif", "c.JPG", "d.pfm", "._e.jpg", "notes.txt", "sub/f.webp"):
        (images / name).write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "g.png").write_bytes(b"")
    (images / "g.png").symlink_to(tmp_path / "elsewhere" / "g.png")
    (tmp_path / "more.txt").write_text("./images/a.png\n./images/d.pfm\n./images/notes.txt\n\n")
    ours = list_images(["images", "more.txt"], tmp_path)
    theirs = BaseDataset.get_img_files(
        SimpleNamespace(prefix="", fraction=1.0), [str(images), str(tmp_path / "more.txt")]
    )
    assert ours == sorted(Path(os.path.abspath(f)) for f in theirs)
    assert [p.name for p in ours] == ["a.png", "a.png", "b.avif", "c.JPG", "g.png", "f.webp"]
    assert all(p.parent.name in ("images", "sub") for p in ours)


def test_folds_without_tiles_split_evenly(data, tmp_path):
    yamls = write_folds(data, 3, tmp_path / "folds")
    sizes = [len((y.parent / "val.txt").read_text().split()) for y in yamls]
    assert sizes == [4, 4, 4]  # 8 train + 4 val images pooled
    with pytest.raises(SettingsError, match="needs at least 14 images"):
        write_folds(data, 7, tmp_path / "folds7")
    with pytest.raises(SettingsError, match="was made with folds=3; pass folds=3, or a new name= for folds=2"):
        write_folds(data, 2, tmp_path / "folds")
    assert "channels" not in yaml.safe_load(yamls[0].read_text())
    gray = tmp_path / "gray.yaml"  # a grayscale dataset's folds stay grayscale
    gray.write_text(yaml.safe_dump({**yaml.safe_load(data.read_text()), "channels": 1}))
    assert all(yaml.safe_load(y.read_text())["channels"] == 1 for y in write_folds(gray, 3, tmp_path / "gray"))


def test_compare_with_folds_trains_a_teacher_per_fold(data, tmp_path, capsys):
    """One teacher per fold, trained on the other folds; then (records=) the same comparison on a fresh machine."""
    import shutil

    records = tmp_path / "records"
    kw = dict(data=str(data), teacher="yolov8n.yaml", teacher_epochs=1, methods="cwd", seeds=1, epochs=1, folds=2,
              project=str(tmp_path), name="cmp-folds", records=str(records), **ARGS)  # fmt: skip
    out = compare(examples=0, only_folds=1, **kw)  # fold 1 alone first: fold 0's teacher and runs wait
    assert {r["fold"] for r in json.loads((out / "summary.json").read_text())["runs"]} == {1}
    assert (out / "cwd-s0-f1").is_dir() and not (out / "teacher-f0").exists() and not (out / "none-s0-f0").exists()
    assert "validation boxes over 1 of 2 folds (only_folds=1)" in (out / "table.md").read_text()
    out = compare(examples=1, **kw)  # then all folds: fold 1's runs reused
    for f in (0, 1):
        fold_yaml = out / "folds" / f"f{f}" / "data.yaml"
        val = set((fold_yaml.parent / "val.txt").read_text().split())
        t_args = yaml.safe_load((out / f"teacher-f{f}" / "args.yaml").read_text())
        assert t_args["data"] == str(fold_yaml)
        assert not val & set(Path(t_args["data"]).with_name("train.txt").read_text().split())
        s_args = yaml.safe_load((out / f"cwd-s0-f{f}" / "args.yaml").read_text())
        assert s_args["data"] == str(fold_yaml)
        assert s_args["teacher"] == str(out / f"teacher-f{f}" / "weights" / "best.pt")
    summary = json.loads((out / "summary.json").read_text())
    boxes = sum(len(p.read_text().splitlines()) for p in Path(data).parent.glob("labels/*/*.txt"))
    assert summary["teacher"]["val_boxes"] == boxes  # every box validated once (per seed)
    assert [t["fold"] for t in summary["teacher"]["folds"]] == [0, 1]
    assert sorted((r["label"], r["fold"]) for r in summary["runs"]) == [
        ("cwd", 0),
        ("cwd", 1),
        ("none", 0),
        ("none", 1),
    ]
    row = next(r for r in csv.DictReader(open(out / "table.csv")) if r["model"] == "cwd")
    assert row["n"] == "2" and row["map50_s0f1"] and row["d_map50"]
    table = (out / "table.md").read_text()
    assert f"({boxes} validation boxes over 2 folds)" in table and "Per fold" in table and "| 0 / 1 |" in table
    assert (out / "examples.png").is_file()
    made = (records / "teacher-f0" / "record.json").read_text()
    compare(examples=0, **kw)  # everything reused: the teacher's record is not rewritten
    assert (records / "teacher-f0" / "record.json").read_text() == made
    (records / "teacher-f0" / "metrics.json").unlink()
    assert not has_record(records / "teacher-f0")  # a record copied in part is none
    (records / "teacher-f0" / "metrics.json").write_text((out / "teacher-f0" / "metrics.json").read_text())

    # A fresh machine retrains the fold teachers (on another CPU, not bit for bit) and reuses the committed
    # records of runs distilled from a teacher of the same recipe; a teacher of another recipe is refused.
    rec = records / "cwd-s0-f0"
    spec, metrics = json.loads((rec / "yolokd_run.json").read_text()), json.loads((rec / "metrics.json").read_text())
    assert spec["inputs"]["teacher"]["recipe"] and metrics["teacher_tensors"] and "teacher_map50" in metrics
    spec["inputs"]["teacher"].update(sha256="0" * 64, tensors_sha256="0" * 64)  # as trained on the other machine
    metrics.update(teacher_tensors="0" * 64, teacher_map50=0.123)
    (rec / "yolokd_run.json").write_text(json.dumps(spec))
    (rec / "metrics.json").write_text(json.dumps(metrics))
    shutil.rmtree(out)  # the machine is gone; the records were committed
    capsys.readouterr()
    out = compare(examples=0, **kw)
    log = capsys.readouterr().out
    for run in ("none seed 0 fold 0", "cwd seed 0 fold 0", "none seed 0 fold 1", "cwd seed 0 fold 1"):
        assert f"{run} (recorded)" in log, run
    assert not (out / "cwd-s0-f0").exists() and not (out / "teacher-f0").exists()  # teachers known by record
    table = (out / "table.md").read_text()
    assert "teacher trainings used" in table and "0.123" in table  # fold 0's students came from another training
    shutil.rmtree(out)
    with pytest.raises(
        SettingsError, match=r"cwd-s0-f0' was trained on other inputs: the teacher file .* other settings"
    ):
        compare(examples=0, **{**kw, "teacher_epochs": 2})  # the records' teachers trained 1 epoch
    assert not (out / "teacher-f0").exists()  # refused before anything trained
    shutil.rmtree(out)
    shutil.rmtree(records / "cwd-s0-f0")  # that run to be trained here: its teacher is trained first
    out = compare(examples=0, **kw)
    assert (out / "teacher-f0" / "weights" / "best.pt").is_file() and (out / "cwd-s0-f0" / "weights").is_dir()
    assert not (out / "teacher-f1").exists()


def test_cli_refuses_a_ready_teacher_with_folds(data):
    cli = [sys.executable, "-m", "yolokd.cli", "compare", f"data={data}"]
    res = subprocess.run([*cli, "teacher=t.pt", "folds=3"], capture_output=True, text=True)
    assert res.returncode == 2 and "teacher_epochs=N" in res.stderr and "one teacher per fold" in res.stderr
    res = subprocess.run([*cli, "teacher=t.yaml", "teacher_epochs=5", "folds=1"], capture_output=True, text=True)
    assert res.returncode == 2 and "at least 2" in res.stderr
    res = subprocess.run([*cli, "teacher=t.yaml", "teacher_epochs=5", "only_folds=0"], capture_output=True, text=True)
    assert res.returncode == 2 and "pass folds= too" in res.stderr
    ok = [*cli, "teacher=t.yaml", "teacher_epochs=5", "folds=3"]
    res = subprocess.run([*ok, "only_folds=0,3"], capture_output=True, text=True)
    assert res.returncode == 2 and "distinct folds among 0..2 (folds=3)" in res.stderr


def test_runs_train_fold_by_fold():
    """A fresh machine retrains a fold's teacher before that fold's first distilled run: fold by fold, an
    unfinished session pays for the teachers of the folds it reaches."""
    from yolokd.compare.args import run_order

    assert run_order([10, 11, 12], 2) == [(10, 0), (11, 0), (12, 0), (10, 1), (11, 1), (12, 1)]
    assert run_order([3, 1], 1) == [(3, 0), (1, 0)]  # no folds: the seeds in their order
