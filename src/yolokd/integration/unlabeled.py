"""The stream of unlabeled images (``unlabeled=``) a distilling trainer adds to each step.

For Ultralytics an image without a label file is a background image, trained to detect nothing. So the
unlabeled images never enter the labelled dataset: :class:`UnlabeledDataset` augments them as the training
images are augmented (the trainer's own hyperparameters: mosaic, flips, HSV, scale, ...) and never reads a label
file, and the criterion (:class:`yolokd.criterion.KDCriterion`) runs the student on them in a forward of their
own and gives them only the distillation terms.

Which images a step draws is a function of the step alone (:class:`StreamSampler`): the images are taken pass by
pass, each pass a permutation seeded by the run's seed and the pass number, step ``g`` of rank ``r`` taking the
next ``per_step`` positions after those of every earlier step and lower rank. So DDP ranks draw different
images, every image is drawn once per pass, and a resumed run (which restarts at an epoch's first step) draws
exactly what the uninterrupted run would have: no image is drawn twice as often for having been interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from ultralytics.data.dataset import YOLODataset
from ultralytics.utils import LOGGER, NUM_THREADS, RANK, TQDM

from yolokd.cfg import SettingsError
from yolokd.data.unlabeled import list_unlabeled


def _image_shape(path: str) -> tuple[tuple[int, int] | None, str]:
    """(height, width) of a readable image, or None and why not. The file is only read, never repaired."""
    from PIL import Image
    from ultralytics.data.utils import exif_size

    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            w, h = exif_size(im)
        if min(h, w) < 10:
            return None, f"{w}x{h} pixels, under 10"
        return (h, w), ""
    except Exception as e:  # PIL raises many kinds for a corrupt file (Ultralytics' opener: even an ImportError)
        return None, "not an image file" if isinstance(e, ImportError) else f"{type(e).__name__}: {e}"


class UnlabeledDataset(YOLODataset):
    """Images without labels, augmented as Ultralytics augments training images; no label file is ever read.

    Each image's label is empty (no boxes, no segments, no keypoints), so every augmentation applies; only the
    images are used. Built as a detect dataset whatever the student's task: masks and keypoints have no use here.
    Unreadable images are left out with one line each; none readable is a SettingsError.
    """

    def __init__(self, images: list[Path], **kwargs: Any) -> None:
        self.given = [str(p) for p in images]
        super().__init__(str(Path(self.given[0]).parent), task="detect", **kwargs)

    def get_img_files(self, img_path: Any) -> list[str]:
        return list(self.given)

    def get_labels(self) -> list[dict[str, Any]]:
        with ThreadPool(NUM_THREADS) as pool:
            checks = pool.imap(_image_shape, self.im_files)
            shapes = list(TQDM(checks, desc="yolokd: checking unlabeled images", total=len(self.im_files)))
        labels, skipped = [], []
        for f, (shape, why) in zip(self.im_files, shapes):
            if shape is None:
                skipped.append(f)
                LOGGER.warning(f"yolokd: unlabeled image '{f}' is left out: it cannot be read ({why})")
                continue
            labels.append(
                {
                    "im_file": f,
                    "shape": shape,
                    "cls": np.zeros((0, 1), dtype=np.float32),
                    "bboxes": np.zeros((0, 4), dtype=np.float32),
                    "segments": [],
                    "keypoints": None,
                    "normalized": True,
                    "bbox_format": "xywh",
                }
            )
        if not labels:
            raise SettingsError(f"none of the {len(self.im_files)} unlabeled images can be read (e.g. '{skipped[0]}')")
        self.im_files = [lb["im_file"] for lb in labels]
        return labels


class StreamSampler:
    """Batches of dataset indices, ``per_step`` per step, from step ``start`` on, endless (see the module's note).

    Args:
        n: images in the pool.
        per_step: images per step and rank.
        start: the first global step (epoch × steps per epoch).
        seed: the run's seed.
        rank, world: this process's DDP rank (0 without DDP) and the number of ranks.
    """

    def __init__(self, n: int, per_step: int, start: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.per_step, self.start, self.seed, self.rank, self.world = n, per_step, start, seed, rank, world
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, p: int) -> np.ndarray:
        if p not in self._perms:
            self._perms = {p: np.random.default_rng([self.seed, p]).permutation(self.n)}  # keep only the current pass
        return self._perms[p]

    def batch(self, step: int) -> list[int]:
        """The indices rank ``rank`` draws at global step ``step``."""
        first = (step * self.world + self.rank) * self.per_step
        return [int(self._perm(q // self.n)[q % self.n]) for q in range(first, first + self.per_step)]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        while True:
            yield self.batch(step)
            step += 1


class UnlabeledStream:
    """The unlabeled images of each step: ``next(epoch, like)`` gives the next batch as ``like`` is given to the
    model (on its device, in [0, 1], resized to its height and width where Ultralytics' multi-scale resized it).

    One loader serves epoch after epoch while the steps follow on (its workers' prefetched batches are the next
    epoch's); it starts again, at the epoch's first step, after a resume, a changed number of steps per epoch or
    mosaic closing (whose workers hold the dataset as it was). ``close()`` shuts its workers down."""

    def __init__(self, dataset: UnlabeledDataset, per_step: int, steps: int, seed: int, workers: int, world: int):
        self.dataset, self.per_step, self.steps, self.seed, self.workers = dataset, per_step, steps, seed, workers
        self.rank, self.world = max(RANK, 0), world
        self.epoch: int | None = None
        self.step = 0  # the global step the loader gives next
        self.sampler: StreamSampler | None = None  # the current loader's
        self.batches: Iterator[dict] | None = None

    def _start(self, step: int) -> None:
        from ultralytics.data.build import seed_worker

        self.close()
        self.sampler = StreamSampler(len(self.dataset), self.per_step, step, self.seed, self.rank, self.world)
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=self.sampler,
            num_workers=self.workers,
            collate_fn=self.dataset.collate_fn,
            pin_memory=torch.cuda.is_available(),
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(self.seed * 100_003 + step * 1_009 + self.rank),
        )
        self.step, self.batches = step, iter(loader)

    def next(self, epoch: int, like: torch.Tensor) -> torch.Tensor:
        if epoch != self.epoch:  # the epoch's first step: carry on if the loader is there, else start there
            self.epoch = epoch
            if self.batches is None or self.step != epoch * self.steps:
                self._start(epoch * self.steps)
        elif self.batches is None:  # mosaic closed within an epoch
            self._start(self.step)
        img = next(self.batches)["img"].to(like.device, non_blocking=like.device.type == "cuda").float() / 255
        self.step += 1
        if img.shape[2:] != like.shape[2:]:
            img = F.interpolate(img, size=like.shape[2:], mode="bilinear", align_corners=False)
        return img

    def close_mosaic(self, hyp: Any) -> None:
        """As Ultralytics' last epochs without mosaic: the dataset follows, and the loader starts again."""
        self.dataset.close_mosaic(hyp=hyp)
        self.close()

    def close(self) -> None:
        """Shut the loader's workers down (as Ultralytics closes its own loaders at the end of training)."""
        shutdown = getattr(self.batches, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        self.batches = None


def build_stream(trainer: Any) -> UnlabeledStream | None:
    """The unlabeled stream of a distilling trainer, or None without ``unlabeled=`` (or with a ratio of 0)."""
    a = trainer.args
    if not a.unlabeled or a.unlabeled_ratio <= 0:
        return None
    images = list_unlabeled(a.unlabeled)
    batch = trainer.train_loader.batch_size
    per_step = max(1, round(a.unlabeled_ratio * batch))  # whole images per step: the ratio rounded, at least 1
    if RANK in {-1, 0} and abs(per_step / batch - a.unlabeled_ratio) > 0.1 * a.unlabeled_ratio:
        LOGGER.warning(
            f"yolokd: unlabeled_ratio={a.unlabeled_ratio} at {batch} labelled images per step draws {per_step} "
            f"unlabeled image{'s' * (per_step != 1)} per step (a ratio of {per_step / batch:g}): whole images only"
        )
    stride = max(int(trainer.stride), 32)
    dataset = UnlabeledDataset(
        images,
        imgsz=a.imgsz,
        cache=False,
        augment=True,
        hyp=a,
        rect=False,
        batch_size=per_step,
        stride=stride,
        pad=0.0,
        single_cls=False,
        prefix="unlabeled: ",
        data=trainer.data,  # its channels, as the labelled images'
    )
    if RANK in {-1, 0}:
        LOGGER.info(
            f"yolokd: {len(dataset)} unlabeled images from {a.unlabeled}, {per_step} per step with {batch} labelled "
            f"(unlabeled_ratio={a.unlabeled_ratio}), distillation only, weighted {a.kd_unlabeled}"
        )
    # workers as Ultralytics caps its own (0 on the CPU, where Ultralytics sets workers=0)
    gpus = torch.cuda.device_count() if trainer.device.type == "cuda" else 0
    workers = min((os.cpu_count() or 1) // max(gpus, 1), a.workers)
    return UnlabeledStream(dataset, per_step, len(trainer.train_loader), a.seed, workers, trainer.ranks)
