"""Distillation on unlabeled images (``unlabeled=``): the background-image trap, the stream's draws, the run's files.

For Ultralytics an image without a label file is a background image: trained as such, every unlabeled frame would
teach the student that there is nothing to detect. These tests show that an unlabeled image contributes exactly
nothing to the detection loss and its gradients, and that the distillation terms on it are not zero.
"""

from __future__ import annotations

import csv
import shutil
from copy import copy
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY, plain_checkpoints, run_cli
from test_gradients import gradients, set_up

from yolokd.criterion import UNLABELED_SUFFIX
from yolokd.integration.unlabeled import StreamSampler, UnlabeledDataset


@pytest.fixture(scope="module")
def pool(data, tmp_path_factory) -> Path:
    """A folder of unlabeled images: the dataset's train images, with a label file beside each that says
    something else (one box of class 1 over the whole image): it must never be read."""
    out = tmp_path_factory.mktemp("frames")
    for image in sorted((data.parent / "images" / "train").iterdir()):
        shutil.copy(image, out / image.name)
        (out / f"{image.stem}.txt").write_text("1 0.5 0.5 1.0 1.0\n")
    return out


def test_an_unlabeled_image_adds_nothing_to_the_detection_loss_and_only_distillation(data, teacher, pool, tmp_path):
    trainer = set_up(
        "yolov8n.yaml", data, teacher, tmp_path, kd_method="cwd", unlabeled=str(pool), unlabeled_ratio=1, name="trap"
    )
    student, criterion = trainer.model, trainer.model.criterion
    batch = trainer.preprocess_batch(next(iter(trainer.train_loader)))
    n = batch["img"].shape[0]
    unl = batch["unlabeled_img"].clone().requires_grad_(True)
    assert unl.shape == (n, *batch["img"].shape[1:])  # unlabeled_ratio 1: as many as labelled, same size
    batch["unlabeled_img"] = unl

    loss, items = criterion(student(batch["img"]), batch)
    plain_batch = {k: v for k, v in batch.items() if k != "unlabeled_img"}
    plain, plain_items = criterion.base(student(batch["img"]), plain_batch)
    detection, kd_unl = loss[: len(plain)].sum(), loss[-1]

    # the detection loss: the same value, the same gradients, whether or not unlabeled images came along
    assert torch.equal(loss[: len(plain)], plain)
    assert all(torch.equal(items[k], v) for k, v in plain_items.items())
    det_grads, plain_grads = gradients(student, detection), gradients(student, plain.sum())
    assert all(torch.equal(det_grads[k], plain_grads[k]) for k in det_grads)
    to_images = torch.autograd.grad(detection, unl, retain_graph=True, allow_unused=True)[0]
    assert to_images is None or not to_images.any()  # exactly zero
    # the distillation terms on the unlabeled images: not zero, and they reach the student and the images
    assert items["kd_cwd" + UNLABELED_SUFFIX] > 0 and kd_unl > 0
    assert torch.autograd.grad(kd_unl, unl, retain_graph=True)[0].abs().sum() > 0
    assert gradients(student, kd_unl)["model.0.conv.weight"].abs().sum() > 0

    # the trap, shown: the same images given to the detection loss as background images change it
    background = {**plain_batch, "img": torch.cat([batch["img"], unl.detach()])}
    as_background, _ = criterion.base(student(background["img"]), background)
    assert not torch.allclose(as_background, plain)


def test_unlabeled_images_never_read_a_label_file(data, pool):
    from ultralytics.cfg import get_cfg

    images = sorted(p for p in pool.iterdir() if p.suffix != ".txt")
    dataset = UnlabeledDataset(images, imgsz=64, augment=True, hyp=get_cfg(), batch_size=4, data={"names": {0: "a"}})
    assert len(dataset) == len(images) and all(len(lb["cls"]) == 0 for lb in dataset.labels)
    sample = dataset[0]
    assert sample["img"].shape[1:] == (64, 64) and len(sample["cls"]) == 0  # augmented, still without boxes


def test_the_stream_draws_each_image_once_per_pass_on_every_rank_and_resumes_where_it_was():
    n, per_step, world = 10, 3, 2
    ranks = [StreamSampler(n, per_step, 0, seed=0, rank=r, world=world) for r in range(world)]
    drawn = [i for step in range(5) for s in ranks for i in s.batch(step)]  # 30 draws: 3 whole passes
    for p in range(3):
        assert sorted(drawn[p * n : (p + 1) * n]) == list(range(n))
    assert set(ranks[0].batch(0)).isdisjoint(ranks[1].batch(0))  # ranks draw different images
    assert drawn[:n] != drawn[n : 2 * n]  # each pass another order
    # a run resumed at step 4 (an epoch boundary) draws what the uninterrupted run drew there
    whole = iter(StreamSampler(n, per_step, 0, seed=0))
    uninterrupted = [next(whole) for _ in range(7)][4:]
    resumed = iter(StreamSampler(n, per_step, 4, seed=0))
    assert [next(resumed) for _ in range(3)] == uninterrupted
    assert StreamSampler(n, per_step, 0, seed=1).batch(0) != StreamSampler(n, per_step, 0, seed=0).batch(0)


def test_cli_trains_on_unlabeled_images_and_records_them(data, teacher, pool, runs):
    bad = pool.parent / "frames-with-a-bad-one"
    shutil.copytree(pool, bad, dirs_exist_ok=True)
    (bad / "broken.jpg").write_bytes(b"not a jpeg at all")
    args = [f"{k}={v}" for k, v in {**TINY, "epochs": 2}.items()]
    code, out = run_cli(
        "train", "model=yolov8n.yaml", f"data={data}", f"teacher={teacher}", f"unlabeled={bad}", "unlabeled_ratio=0.5",
        "kd_unlabeled=2", f"project={runs}", "name=unlabeled-cli", *args,
    )  # fmt: skip
    assert code == 0, out[-3000:]
    assert "broken.jpg' is left out: it cannot be read" in out
    run = runs / "unlabeled-cli"
    rows = list(csv.DictReader((run / "results.csv").open()))
    assert len(rows) == 2
    for row in rows:  # 8 labelled images in 2 batches of 4, 2 unlabeled per step
        assert float(row["train/kd_cwd_unl"]) > 0 and float(row["kd/unlabeled_images"]) == 4
    args_yaml = yaml.safe_load((run / "args.yaml").read_text())
    assert args_yaml["unlabeled"] == str(bad.resolve()) and args_yaml["unlabeled_ratio"] == 0.5
    assert args_yaml["unlabeled_fingerprint"]["images"] == 9  # the pool as given, the unreadable one included
    from ultralytics.nn.tasks import DetectionModel

    plain = sum(p.numel() for p in DetectionModel("yolov8n.yaml", nc=2, verbose=False).parameters())
    assert plain_checkpoints(run / "weights" / "best.pt") == [(plain, "detect")]  # loads without yolokd


def _listing_a_missing_image(d: Path) -> Path:
    (d / "pool.txt").write_text(f"{d / 'gone.jpg'}\n")
    return d / "pool.txt"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: [f"unlabeled={d}"], "holds no images"),  # an empty folder
        (lambda d: [f"unlabeled={(d / 'a.jpg').write_bytes(b'broken') and d}"], "none of the 1 unlabeled images can"),
        (lambda d: [f"unlabeled={d / 'missing'}"], "is not a folder or a .txt list of images"),
        (lambda d: [f"unlabeled={_listing_a_missing_image(d)}"], "lists 1 image(s) that do not exist"),
        (lambda d: [f"unlabeled={d}", "unlabeled_ratio=-1"], "'unlabeled_ratio=-1.0' must be >= 0"),
    ],
)
def test_cli_refuses_a_bad_pool_or_ratio_in_one_line(make, match, data, teacher, runs, tmp_path):
    args = [f"{k}={v}" for k, v in TINY.items()]
    code, out = run_cli(
        "train", "model=yolov8n.yaml", f"data={data}", f"teacher={teacher}", *make(tmp_path),
        f"project={runs}", "name=unlabeled-bad", *args,
    )  # fmt: skip
    errors = [line for line in out.splitlines() if "error" in line.lower()]
    assert code == 2 and len(errors) == 1 and match in errors[0] and "Traceback" not in out, out[-2000:]


def test_a_resumed_run_draws_on_where_the_interrupted_one_stopped(data, teacher, pool, runs, tmp_path, caplog):
    """The stream is rebuilt on resume with the run's own settings and starts at the resumed epoch's first step,
    so the images drawn are those the uninterrupted run draws (which images a step draws: the sampler test). A
    pool that changed meanwhile is said in one line."""
    from test_resume import interrupted
    from ultralytics import YOLO

    from yolokd import DistillationTrainer

    frames = shutil.copytree(pool, tmp_path / "frames")
    kd = dict(kd_method="cwd", unlabeled=str(frames), unlabeled_ratio=1)
    last = interrupted("yolov8n.yaml", data, teacher, runs, "unlabeled-resume", **kd)
    shutil.copy(frames / "0000.jpg", frames / "0000-again.jpg")
    starts: list[int] = []
    yolo = YOLO(str(last))
    yolo.add_callback("on_train_epoch_end", lambda tr: starts.append(tr.unlabeled.sampler.start))
    yolo.train(trainer=DistillationTrainer, resume=True)
    assert starts == [1 * 2]  # epoch 1 of 2, 2 steps per epoch
    rows = list(csv.DictReader((last.parents[1] / "results.csv").open()))
    assert [float(r["kd/unlabeled_images"]) for r in rows] == [8, 8]  # unlabeled_ratio 1: 4 per step
    assert "changed since this run began (8 images then, 9 now" in caplog.text


def test_python_api_takes_unlabeled_images_and_kd_response_terms_get_columns(data, teacher, pool, runs):
    """yolokd.distill() passes unlabeled= on like every setting; each term built gets its column on the frames."""
    from yolokd import distill

    distill("yolov8n.yaml", teacher, data, method="response", kd_cls=1.0, unlabeled=str(pool), unlabeled_ratio=1,
            kd_unlabeled=0.5, project=str(runs), name="unlabeled-api", **TINY)  # fmt: skip
    row = next(csv.DictReader((runs / "unlabeled-api" / "results.csv").open()))
    assert float(row["train/kd_cls_unl"]) > 0 and "train/kd_cwd_unl" not in row
    assert float(row["kd/unlabeled_images"]) == 8  # 2 steps of 4


def test_a_cpu_trainers_stream_draws_the_whole_pool_carries_on_across_epochs_and_follows_an_oom_rebuild(
    data, teacher, pool, tmp_path
):
    """Ultralytics' world_size is 0 on the CPU: the stream still steps through the pool (it once drew the same
    images at every step). One loader serves consecutive epochs; mosaic closing restarts it where it was; the
    OOM retry's halved batch halves the unlabeled images per step."""
    trainer = set_up(
        "yolov8n.yaml", data, teacher, tmp_path, kd_method="cwd", unlabeled=str(pool), unlabeled_ratio=1, name="stream"
    )
    s, like = trainer.unlabeled, torch.zeros(4, 3, 64, 64)
    assert trainer.world_size == 0 and s.world == 1 and s.per_step == 4 and s.steps == 2
    s.next(0, like)
    s.next(0, like)
    assert sorted(s.sampler.batch(0) + s.sampler.batch(1)) == list(range(8))  # both steps: the whole pool of 8
    loader = s.batches
    s.next(1, like)  # epoch 1 starts at step 2, where the loader is
    assert s.batches is loader and s.step == 3

    def mosaic_p() -> float:  # the probability of Ultralytics' Mosaic in the dataset's transforms
        return next(t for t in s.dataset.transforms.transforms[0].transforms if type(t).__name__ == "Mosaic").p

    assert mosaic_p() == 1.0
    s.close_mosaic(copy(trainer.args))
    assert s.batches is None and mosaic_p() == 0.0
    s.next(1, like)
    assert s.sampler.start == 3 and s.step == 4  # restarted where it was
    trainer.args.batch = trainer.batch_size = 2  # as Ultralytics' OOM retry, which then rebuilds the loaders
    trainer._build_train_pipeline()
    assert trainer.unlabeled is not s and trainer.unlabeled.per_step == 2 and trainer.unlabeled.steps == 4


def test_the_stream_with_worker_processes_draws_the_same_images_and_shuts_them_down(data, pool):
    from ultralytics.cfg import get_cfg

    from yolokd.integration.unlabeled import UnlabeledStream

    images = sorted(p for p in pool.iterdir() if p.suffix != ".txt")
    hyp = get_cfg(overrides={"imgsz": 64})
    drawn = {}
    for workers in (0, 1):
        dataset = UnlabeledDataset(images, imgsz=64, augment=True, hyp=hyp, batch_size=2, data={"names": {0: "a"}})
        s = UnlabeledStream(dataset, per_step=2, steps=3, seed=0, workers=workers, world=1)
        imgs = [s.next(e, torch.zeros(2, 3, 64, 64)).shape for e in (0, 0, 0, 1)]
        drawn[workers] = [s.sampler.batch(i) for i in range(4)]
        assert imgs == [(2, 3, 64, 64)] * 4
        if workers:
            procs = list(s.batches._workers)
            assert procs and all(p.is_alive() for p in procs)
            s.close()
            assert s.batches is None and not any(p.is_alive() for p in procs)
    assert drawn[0] == drawn[1]


def test_a_ratio_that_whole_images_cannot_give_is_said(data, teacher, pool, tmp_path, caplog):
    trainer = set_up("yolov8n.yaml", data, teacher, tmp_path, unlabeled=str(pool), unlabeled_ratio=0.1, name="frac")
    assert trainer.unlabeled.per_step == 1  # 0.1 x 4 labelled images: at least one
    assert "unlabeled_ratio=0.1 at 4 labelled images per step draws 1 unlabeled image per step (a ratio of 0.25)" in (
        caplog.text
    )
