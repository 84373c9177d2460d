"""kd_method=pseudo: the teacher's detections on unlabeled images as their labels, made once and reused, never the
labels beside the originals; the student trains on labelled + pseudo-labelled images and stays a plain model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import TINY, plain_checkpoints, run_cli

from yolokd.cfg import SettingsError
from yolokd.data.synthetic import make_dataset

BOGUS = "0 0.100000 0.100000 0.050000 0.050000"  # what a label beside an original says; never a pseudo-label


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """6 unlabeled 64 px images laid out as a YOLO set, whose label files (in labels/ and beside each image) say
    BOGUS: Ultralytics would read them if it were given the originals."""
    root = make_dataset(tmp_path_factory.mktemp("pool"), n_train=6, n_val=0, imgsz=64, seed=1).parent
    for label in (root / "labels" / "train").glob("*.txt"):
        label.write_text(BOGUS + "\n")
        shutil.copy(label, root / "images" / "train" / label.name)
    return root / "images" / "train"


@pytest.fixture(scope="module")
def conf(teacher, pool) -> float:
    """A threshold under the tiny teacher's best confidence on the pool (a 1-epoch teacher is unsure of all)."""
    from ultralytics import YOLO

    r = YOLO(str(teacher)).predict(str(next(pool.glob("*.jpg"))), conf=1e-4, imgsz=64, verbose=False)[0]
    return float(r.boxes.conf.max()) / 2


def no_teacher(*args, **kwargs):
    raise AssertionError("the teacher ran again")


def read_rows(label: Path) -> list[list[float]]:
    return [list(map(float, line.split())) for line in label.read_text().splitlines()]


def test_labels_are_the_teachers_detections_above_conf(teacher, pool, conf, tmp_path):
    from ultralytics import YOLO

    from yolokd.data.pseudo import pseudo_label, unique_name

    r = pseudo_label(teacher, pool, tmp_path / "p", conf=conf, imgsz=64)
    images = sorted(pool.glob("*.jpg"))
    assert (r["images"], r["unreadable"], r["reused"]) == (6, 0, False) and r["boxes"] > 0
    assert sorted(p.name for p in (tmp_path / "p" / "labels").glob("*.txt")) == sorted(
        f"{Path(unique_name(i)).stem}.txt" for i in images
    )
    link = tmp_path / "p" / "images" / unique_name(images[0])
    assert link.is_symlink() and Path(link.readlink()) == images[0].absolute()
    rows = read_rows(tmp_path / "p" / "labels" / f"{link.stem}.txt")
    p = YOLO(str(teacher)).predict(str(images[0]), conf=conf, imgsz=64, verbose=False)[0].boxes
    want = [[c, *box] for c, box in zip(p.cls.tolist(), p.xywhn.tolist())]
    assert len(rows) == len(want) > 0 and all(c >= conf for c in p.conf.tolist())
    assert rows == [pytest.approx(w, abs=1e-6) for w in want]
    assert BOGUS not in (tmp_path / "p" / "labels" / f"{link.stem}.txt").read_text()


def test_unreadable_images_are_skipped_and_a_pool_of_none_is_refused(teacher, tmp_path):
    from PIL import Image

    from yolokd.data.pseudo import pseudo_label, unique_name

    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SettingsError, match="none of its 1 images could be read"):
        pseudo_label(teacher, tmp_path / "pool", tmp_path / "p", imgsz=64)
    assert not (tmp_path / "p" / "pseudo.json").exists()  # nothing to reuse: the next run tries again
    Image.new("RGB", (64, 64), (90, 120, 60)).save(tmp_path / "pool" / "fine.jpg")
    r = pseudo_label(teacher, tmp_path / "pool", tmp_path / "p", imgsz=64)
    assert (r["images"], r["unreadable"]) == (1, 1)
    assert [p.name for p in (tmp_path / "p" / "images").iterdir()] == [unique_name(tmp_path / "pool" / "fine.jpg")]


def test_a_rerun_reuses_the_labels_and_a_changed_conf_makes_them_again(teacher, pool, conf, tmp_path, monkeypatch):
    from ultralytics.engine.model import Model

    from yolokd.data.pseudo import pseudo_label

    first = pseudo_label(teacher, pool, tmp_path / "p", conf=conf, imgsz=64)
    labels = sorted((tmp_path / "p" / "labels").glob("*.txt"))
    stamps = [f.stat().st_mtime_ns for f in labels]

    with monkeypatch.context() as m:
        m.setattr(Model, "predict", no_teacher)
        again = pseudo_label(teacher, pool, tmp_path / "p", conf=conf, imgsz=64)
    assert again["reused"] and {**again, "reused": False} == first
    assert [f.stat().st_mtime_ns for f in labels] == stamps
    remade = pseudo_label(teacher, pool, tmp_path / "p", conf=0.99, imgsz=64)
    assert not remade["reused"] and remade["conf"] == 0.99 and remade["boxes"] == 0 and remade["empty"] == 6
    assert all(f.read_text() == "" for f in labels)  # the same files, labelled again: none above 0.99


def test_the_train_split_is_labelled_plus_pseudo_images_with_the_teachers_labels(
    data, teacher, pool, conf, runs, monkeypatch
):
    from ultralytics.data import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset
    from ultralytics.engine.model import Model

    from yolokd import DistillationTrainer

    args = dict(model="yolov8n.yaml", data=str(data), teacher=str(teacher), kd_method="pseudo", unlabeled=str(pool))
    trainer = DistillationTrainer(overrides={**TINY, **args, "pseudo_conf": conf, "project": str(runs), "name": "ps"})
    out = trainer.save_dir / "pseudo"
    assert trainer.data["train"][-1] == str(out / "images") and (out / "pseudo.json").is_file()
    dataset = build_yolo_dataset(trainer.args, trainer.data["train"], 4, trainer.data, mode="train", stride=32)
    pseudo = [x for x in dataset.labels if Path(x["im_file"]).parent == out / "images"]
    assert (len(dataset.labels), len(pseudo)) == (8 + 6, 6)  # the 8 labelled images and the 6 pseudo-labelled
    boxes = 0
    for x in pseudo:
        got = [[float(c), *b] for c, b in zip(x["cls"].ravel().tolist(), x["bboxes"].tolist())]
        want = read_rows(out / "labels" / f"{Path(x['im_file']).stem}.txt")
        assert got == [pytest.approx(r, abs=1e-5) for r in want]  # the teacher's boxes ...
        assert [0.0, 0.1, 0.1, 0.05, 0.05] not in got  # ... never the labels beside the original
        boxes += len(got)
    assert boxes > 0
    assert trainer.data["val"] == check_det_dataset(str(data))["val"]  # validation: the labelled val split only
    stamp = (out / "pseudo.json").stat().st_mtime_ns
    with monkeypatch.context() as m:  # a resumed run, or a DDP worker, on the same run folder
        m.setattr(Model, "predict", no_teacher)
        again = DistillationTrainer(overrides={**TINY, **args, "pseudo_conf": conf, "project": str(runs), "name": "ps"})
    if again.folder_lock is not None:
        again.folder_lock.release()
    assert again.data["train"] == trainer.data["train"] and (out / "pseudo.json").stat().st_mtime_ns == stamp


def test_pseudo_takes_detect_teachers_of_the_datasets_classes_only(data, pool, tmp_path):
    from ultralytics import YOLO

    from yolokd import DistillationTrainer
    from yolokd.data.pseudo import pseudo_label

    seg, coco = tmp_path / "seg.pt", tmp_path / "coco.pt"
    YOLO("yolov8n-seg.yaml").save(seg)
    YOLO("yolov8n.yaml").save(coco)  # 80 classes, not the dataset's 2
    args = dict(model="yolov8n.yaml", data=str(data), kd_method="pseudo", unlabeled=str(pool), **TINY)
    with pytest.raises(SettingsError, match=re.escape(f"for a detect student; the teacher '{seg}' is a segment model")):
        DistillationTrainer(overrides={**args, "teacher": str(seg), "project": str(tmp_path), "name": "seg"})
    with pytest.raises(SettingsError, match=re.escape(f"teacher '{seg}' is a segment model: use a detect teacher")):
        pseudo_label(seg, pool, tmp_path / "p", imgsz=64)
    with pytest.raises(SettingsError, match="kd_method=pseudo writes its detections as labels, so train the teacher"):
        DistillationTrainer(overrides={**args, "teacher": str(coco), "project": str(tmp_path), "name": "coco"})


def test_cli_trains_on_the_pseudo_labels_and_best_pt_stays_plain(data, teacher, pool, conf, runs):
    tiny = [f"{k}={v}" for k, v in TINY.items()]
    args = (f"data={data}", f"teacher={teacher}", "kd_method=pseudo", f"unlabeled={pool}", f"pseudo_conf={conf}")
    code, out = run_cli("train", "model=yolov8n.yaml", *tiny, f"project={runs}", "name=cli-pseudo", *args)
    assert code == 0 and "yolokd: mAP50" in out, out[-3000:]
    assert f"yolokd: pseudo: 6 unlabeled images labelled by teacher {teacher}" in out
    run = runs / "cli-pseudo"
    assert "14 images" in out and (run / "pseudo" / "pseudo.json").is_file()  # Ultralytics' scan: 8 + 6 images
    assert [task for _, task in plain_checkpoints(run / "weights" / "best.pt")] == ["detect"]
