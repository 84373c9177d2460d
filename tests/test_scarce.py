"""``compare`` with unlabeled images: ``unlabeled=`` only for the rows that learn from it, its pool fingerprinted like
the data, and the label-scarce split ``labelled=FRACTION`` with its ceiling row ``none@labelled=1``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import TINY, run_cli
from test_folds import _tiled_dataset

from yolokd.cfg import SettingsError
from yolokd.compare import compare
from yolokd.compare.args import parse_labelled, parse_methods
from yolokd.data.folds import read_dataset, write_folds
from yolokd.data.scarce import cut, write_split

ARGS = {k: v for k, v in TINY.items() if k not in ("epochs", "seed", "exist_ok")}


def _lines(path: Path) -> list[str]:
    return path.read_text().split()


def test_the_split_is_fixed_contiguous_and_covers_each_folds_training_images(tmp_path):
    data = _tiled_dataset(tmp_path / "d")
    folds = write_folds(data, 2, tmp_path / "folds")
    yamls, pools, table = write_split(folds, [0, 1], 0.5, data.parent / "tiles.csv", tmp_path / "folds")
    rows = list(csv.DictReader(open(table)))
    assert table == tmp_path / "folds" / "labelled-0.5.csv" and {r["fold"] for r in rows} == {"0", "1"}
    for f, (y, pool) in enumerate(zip(yamls, pools)):
        assert y == folds[f].with_name("labelled-0.5.yaml") and pool == folds[f].with_name("unlabeled-0.5.txt")
        train, labelled, unlabeled = (set(_lines(p)) for p in (folds[f].with_name("train.txt"), y.with_name(
            "labelled-0.5.txt"), pool))  # fmt: skip
        assert labelled and unlabeled and not labelled & unlabeled and labelled | unlabeled == train
        _, splits = read_dataset(y)  # the fold's labelled data: trains on its labelled part, validates as before
        assert set(map(str, splits["train"])) == labelled
        assert splits["val"] == read_dataset(folds[f])[1]["val"]
        assert {r["image"] for r in rows if r["fold"] == str(f) and r["labelled"] == "1"} == labelled
        # the big source's tiles in reading order: one labelled block (labelled/unlabeled changes at most once)
        big = sorted(
            (r for r in rows if r["fold"] == str(f) and "big_" in r["image"]), key=lambda r: Path(r["image"]).name
        )
        assert sum(a["labelled"] != b["labelled"] for a, b in zip(big, big[1:])) == 1
    before = {p: p.read_text() for p in (tmp_path / "folds").rglob("*") if p.is_file()}
    assert write_split(folds, [0, 1], 0.5, data.parent / "tiles.csv", tmp_path / "folds") == (yamls, pools, table)
    assert {p: p.read_text() for p in before} == before  # the same split again, byte for byte
    label = next((tmp_path / "d" / "labels" / "train").glob("big_t001.txt"))
    label.write_text(label.read_text() + "0 0.2 0.2 0.1 0.1\n")
    write_folds(data, 2, tmp_path / "folds2")  # (the folds are refused too: a fresh folder)
    with pytest.raises(SettingsError, match="changed since .*labelled-0.5.csv' split them"):
        write_split(
            write_folds(data, 2, tmp_path / "folds2"), [0, 1], 0.5, data.parent / "tiles.csv", tmp_path / "folds"
        )


def test_the_labelled_block_follows_the_fraction_and_alternates_per_source(tmp_path):
    images = [tmp_path / f"{s}_t{i}.png" for s in "ab" for i in range(8)]
    rows = ["tile,split,source,x0,y0,x1,y1,boxes"] + [f"{p.name},train,{p.name[0]}.png,{i % 8 * 10},0,0,0,0"
                                                       for i, p in enumerate(images)]  # fmt: skip
    (tmp_path / "tiles.csv").write_text("\n".join(rows) + "\n")
    flags = cut(images, [0] * 16, 0.25, tmp_path / "tiles.csv")
    assert flags[:8] == [True] * 2 + [False] * 6  # the first source: its first quarter
    assert flags[8:] == [False] * 6 + [True] * 2  # the second: its last quarter, not always the tops
    heavy = cut(images[:8], [9, 0, 0, 0, 0, 0, 0, 1], 0.5, tmp_path / "tiles.csv")
    assert heavy == [True] + [False] * 7  # about half of the boxes (+1 per tile), not of the tiles
    plain = [tmp_path / f"{i}.png" for i in range(10)]  # no tiles.csv: the folds' fixed-seed order, its first 30 %
    assert sum(cut(plain, [0] * 10, 0.3)) == 3 and cut(plain, [0] * 10, 0.3) == cut(plain, [5] * 10, 0.3)
    assert all(cut(plain, [0] * 10, 1.0))


def test_labelled_and_row_options_are_checked_in_one_line(data, tmp_path):
    for bad in (0, 1.5, "x", -0.5):
        with pytest.raises(SettingsError, match=rf"labelled={bad} must be a fraction in \(0, 1\]"):
            parse_labelled(bad)
    assert parse_labelled(None) == 1.0 and parse_labelled("0.25") == 0.25
    with pytest.raises(SettingsError, match="makes the other training images the unlabeled pool; leave unlabeled="):
        parse_labelled(0.5, str(tmp_path))
    assert parse_methods("cwd@unlabeled_ratio=3@kd_unlabeled=0.5,none@labelled=1,pseudo@pseudo_conf=0.5", 0.5) == [
        ("none", {"kd_method": "none"}),
        ("cwd@unlabeled_ratio=3@kd_unlabeled=0.5", {"kd_method": "cwd", "unlabeled_ratio": 3.0, "kd_unlabeled": 0.5}),
        ("none@labelled=1", {"kd_method": "none", "labelled": 1.0}),
        ("pseudo@pseudo_conf=0.5", {"kd_method": "pseudo", "pseudo_conf": 0.5}),
    ]
    for methods, labelled, match in (
        ("none@labelled=1", 1.0, "trains on all labels, as every row does without labelled="),
        ("none@labelled=0.5", 0.5, "a row's @labelled= can only be 1"),
        ("cwd@unlabeled_ratio=2", 1.0, "this comparison has none: pass unlabeled=DIR, or labelled=FRACTION"),
        ("native@unlabeled_ratio=2", 0.5, "native does not read unlabeled_ratio"),
        ("cwd@pseudo_conf=0.5", 0.5, "cwd does not read pseudo_conf"),
        ("cwd@unlabeled=frames", 0.5, "the unlabeled images are the comparison's"),
        ("pseudo", 1.0, "'pseudo' labels unlabeled images, and this row has no unlabeled images"),
        ("pseudo@labelled=1", 0.5, "this row trains on all labels"),
        ("cwd@unlabeled_ratio=-1", 0.5, "must be >= 0"),
    ):
        with pytest.raises(SettingsError, match=match):
            parse_methods(methods, labelled)
    cli = ["compare", f"data={data}", "teacher=yolov8n.yaml", "teacher_epochs=1", f"project={tmp_path}"]
    for arg, says in (("labelled=0", "labelled=0 must be"), ("labelled=1.5", "labelled=1.5 must be")):
        code, out = run_cli(*cli, arg)
        assert code == 2 and f"yolokd: error: {says} a fraction in (0, 1]" in out and len(out.splitlines()) == 1
    small = tmp_path / "small"  # one training image: half of it labelled leaves none
    shutil.copytree(data.parent, small)
    spec = yaml.safe_load((small / data.name).read_text())
    (small / "one.txt").write_text(str(sorted((small / "images" / "train").iterdir())[0]) + "\n")
    (small / data.name).write_text(yaml.safe_dump({**spec, "path": str(small), "train": "one.txt"}))
    code, out = run_cli(*cli[:1], f"data={small / data.name}", *cli[2:], "labelled=0.5", "methods=none", "seeds=1")
    assert code == 2 and len(out.strip().splitlines()) == 1, out
    assert f"labelled=0.5 leaves the train split of '{small / data.name}' (1 training images) with no labelled" in out
    with pytest.raises(SettingsError, match=r"unlabeled=.* is used by no row of methods= \(none, native\)"):
        compare(data=str(data), teacher="t.pt", methods="none,native", unlabeled=str(tmp_path), **ARGS)


def test_label_gap_closed_is_a_ratio_of_means_over_the_same_pairs(tmp_path):
    from yolokd.report import write_tables
    from yolokd.stats import summarize

    vals = {  # (seed, fold): value
        "none": {(0, 0): 0.20, (0, 1): 0.30, (1, 0): 0.22, (1, 1): 0.28},
        "cwd": {(0, 0): 0.25, (0, 1): 0.32, (1, 0): 0.25, (1, 1): 0.28},
        "none@labelled=1": {(0, 0): 0.40, (0, 1): 0.34, (1, 0): 0.30, (1, 1): 0.36},
    }
    size = {"params_m": 3.0, "gflops": 8.0}
    runs = [{"label": m, "seed": s, "fold": f, "weights": "w", "map50": v, "map50_95": v / 2, "epoch_s": 2.0 + s,
             **size} for m, by in vals.items() for (s, f), v in by.items()]  # fmt: skip
    t = {"weights": "t", "map50": 0.6, "map50_95": 0.3, **size}
    rows = {r["model"]: r for r in summarize(t, runs, list(vals))}
    # Δ cwd: 0.05, 0.02, 0.03, 0.00 (mean 0.025); ceiling − none: 0.20, 0.04, 0.08, 0.08 (mean 0.10)
    assert rows["cwd"]["label_gap_closed"] == pytest.approx(0.025 / 0.10)
    assert rows["none@labelled=1"]["label_gap_closed"] == pytest.approx(1.0)
    assert rows["none"]["label_gap_closed"] == 0.0 and "label_gap_closed" not in rows["teacher"]
    assert rows["cwd"]["epoch_s"] == pytest.approx(2.5)  # mean over its runs
    part = [r for r in runs if not (r["label"] == "none@labelled=1" and r["fold"] == 1)]  # the ceiling under way
    rows = {r["model"]: r for r in summarize(t, part, list(vals))}
    assert rows["cwd"]["label_gap_closed"] == pytest.approx((0.05 + 0.03) / (0.20 + 0.08))  # fold 0's pairs only

    teacher = {**t, "model": "t.yaml", "val_boxes": 9, "folds": [{**t, "fold": f, "val_boxes": 4 + f} for f in (0, 1)]}
    settings = {"data": "d.yaml", "imgsz": 64, "epochs": 1, "folds": 2, "labelled": 0.5, "labelled_csv": "x.csv"}
    rows = write_tables(tmp_path, teacher, runs, list(vals), settings, {
        "command": "c", "date": "d", "cpu": "c", "cpu_count": 2, "gpu": None,
        "versions": {"yolokd": "1", "torch": "2", "ultralytics": "3"}})  # fmt: skip
    md = (tmp_path / "table.md").read_text()
    assert "| label gap closed (mAP50) | s/epoch | runs |" in md and "| 25 % | 2.5 | 4 |" in md
    assert "a ratio of the means over the seed (and fold) pairs" in md and "`x.csv`" in md
    row = next(r for r in csv.DictReader(open(tmp_path / "table.csv")) if r["model"] == "cwd")
    assert float(row["label_gap_closed"]) == pytest.approx(0.25) and float(row["epoch_s"]) == 2.5


def test_seconds_per_epoch_survive_a_resume_and_a_pause(tmp_path):
    from yolokd.compare.train import epoch_seconds

    rows = "1,10,0\n2,20,0\n3,5,0\n4,14,0\n5,326,0\n"  # resumed after epoch 2 (time restarts); epoch 5 paused 300 s
    (tmp_path / "results.csv").write_text("epoch, time,x\n" + rows)
    assert epoch_seconds(tmp_path) == pytest.approx(10)  # the median of 10, 10, 5, 9, 312
    assert epoch_seconds(tmp_path / "nothing") is None


def test_unlabeled_goes_to_the_rows_that_learn_from_it_and_a_changed_pool_is_refused(tmp_path, data, teacher):
    pool, records = tmp_path / "frames", tmp_path / "records"
    pool.mkdir()
    for image in sorted((data.parent / "images" / "val").iterdir())[:3]:
        shutil.copy(image, pool / f"frame-{image.name}")
    kw = dict(data=str(data), teacher=str(teacher), methods="cwd@unlabeled_ratio=3", seeds=1, epochs=1,
              records=str(records), unlabeled=str(pool), examples=0, **ARGS)  # fmt: skip
    out = compare(project=str(tmp_path), name="c", **kw)
    none, cwd = (
        yaml.safe_load((out / run / "args.yaml").read_text()) for run in ("none-s0", "cwd+unlabeled_ratio3-s0")
    )
    assert none["unlabeled"] is None and cwd["unlabeled"] == str(pool) and cwd["unlabeled_ratio"] == 3.0
    inputs = {run: json.loads((out / run / "yolokd_run.json").read_text())["inputs"] for run in ("none-s0",
              "cwd+unlabeled_ratio3-s0")}  # fmt: skip
    assert "unlabeled" not in inputs["none-s0"] and inputs["cwd+unlabeled_ratio3-s0"]["unlabeled"]["images"] == 3
    assert (
        f"Unlabeled images: `{pool}`, given to `cwd@unlabeled_ratio=3` (no other run)."
        in (out / "table.md").read_text()
    )
    shutil.copy(pool / sorted(p.name for p in pool.iterdir())[0], pool / "frame-new.jpg")  # one frame added
    with pytest.raises(SettingsError, match=r"cwd\+unlabeled_ratio3-s0' was trained on other inputs: the unlabeled "
                       rf"pool {pool} has 4 images, 3 when the run was trained"):  # fmt: skip
        compare(project=str(tmp_path / "elsewhere"), name="c", **kw)


def test_label_scarce_compare_end_to_end(data, tmp_path):
    """folds=2 labelled=0.5: teachers and rows on each fold's labelled half, the other half the pool of cwd alone,
    none@labelled=1 on all labels, and the report's label gap closed and seconds per epoch."""
    out = compare(data=str(data), teacher="yolov8n.yaml", teacher_epochs=1, methods="none,cwd,none@labelled=1",
                  seeds=1, epochs=1, folds=2, labelled=0.5, project=str(tmp_path), name="c", examples=0,
                  **ARGS)  # fmt: skip
    for f in (0, 1):
        fold = out / "folds" / f"f{f}"
        args = {run: yaml.safe_load((out / f"{run}-f{f}" / "args.yaml").read_text())
                for run in ("teacher", "none-s0", "cwd-s0", "none+labelled1-s0")}  # fmt: skip
        assert args["teacher"]["data"] == args["none-s0"]["data"] == args["cwd-s0"]["data"]
        assert args["cwd-s0"]["data"] == str(fold / "labelled-0.5.yaml")
        assert args["none+labelled1-s0"]["data"] == str(fold / "data.yaml")  # all of the fold's training labels
        assert args["cwd-s0"]["unlabeled"] == str(fold / "unlabeled-0.5.txt")
        assert all(args[r]["unlabeled"] is None for r in ("teacher", "none-s0", "none+labelled1-s0"))
        pool = set(_lines(fold / "unlabeled-0.5.txt"))
        assert pool and pool | set(_lines(fold / "labelled-0.5.txt")) == set(_lines(fold / "train.txt"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["labelled"] == 0.5
    assert summary["settings"]["labelled_csv"] == str(out / "folds" / "labelled-0.5.csv")
    row = {r["model"]: r for r in csv.DictReader(open(out / "table.csv"))}
    assert "label_gap_closed" in row["cwd"]
    for label in ("none", "cwd", "none@labelled=1"):  # the mean of its runs' seconds per epoch, from results.csv
        times = [float(next(csv.DictReader(open(Path(r["run_dir"]) / "results.csv")))["time"])
                 for r in summary["runs"] if r["label"] == label]  # fmt: skip
        assert float(row[label]["epoch_s"]) == pytest.approx(sum(times) / 2, rel=1e-5)
    md = (out / "table.md").read_text()
    assert "| label gap closed (mAP50) | s/epoch | runs |" in md and "labelled-0.5.csv" in md
    assert "the rest is the unlabeled pool of `cwd` (its labels never read in training)" in md
