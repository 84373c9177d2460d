"""The label-scarce split of ``yolokd compare labelled=FRACTION``: part of the training images keep their labels,
the rest become an unlabeled pool.

Each fold's training images (without ``folds=``, data.yaml's train split) are cut as :mod:`yolokd.data.folds`
cuts folds. Where the dataset has a ``tiles.csv``, each source image's tiles are taken in reading order, weighted
by their boxes + 1 (so an empty tile counts), and one contiguous block of about FRACTION of the source's weight is
labelled: the first block of the 1st, 3rd ... source (sources sorted by name), the last block of the 2nd, 4th ...,
so the labelled tiles are not always the tops of the images; a source of one tile is labelled when the labelled
part is short of its share so far. Without ``tiles.csv`` the images are taken in the fixed-seed order of the folds
and the first FRACTION of them (by count) is labelled. The split depends only on file names, tile positions and box
counts: the same on every run and machine.

Files, beside each fold's ``data.yaml`` (without folds, in the comparison's ``labelled/``), with F the fraction:
``labelled-F.yaml`` (trains on ``labelled-F.txt``, validates on the fold's validation images as before) and
``unlabeled-F.txt`` (the pool, given as ``unlabeled=``: its label files are never read in training);
``labelled-F.csv`` beside ``folds.csv`` lists every training image with its fold and whether it is labelled.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from yolokd.cfg import SettingsError
from yolokd.data.folds import box_counts, dataset_root, fixed_order, list_images, read_dataset, source_groups


def cut(images: list[Path], boxes: list[int], fraction: float, tiles: Path | None = None) -> list[bool]:
    """Whether each image is in the labelled part (``boxes``: its number of boxes); see the module docstring."""
    labelled = [False] * len(images)
    groups = source_groups(images, tiles)
    if groups is None:  # one sequence of equal weights: its first FRACTION
        order = fixed_order(images)
        for pos, i in enumerate(order):
            labelled[i] = (pos + 0.5) / len(order) < fraction
        return labelled
    load = [0.0, 0.0]  # weight so far: all, labelled
    for g, idx in enumerate(groups):
        weights = [boxes[i] + 1 for i in idx]
        if len(idx) == 1:  # nothing to cut: labelled if that part is short of its share
            labelled[idx[0]] = load[1] + weights[0] / 2 <= fraction * (load[0] + weights[0])
        else:
            total, acc = sum(weights), 0.0
            for i, w in zip(idx, weights):
                mid = (acc + w / 2) / total  # the tile's midpoint along its source, 0..1
                labelled[i] = mid < fraction if g % 2 == 0 else mid > 1 - fraction
                acc += w
        load[0] += sum(weights)
        load[1] += sum(w for i, w in zip(idx, weights) if labelled[i])
    return labelled


def write_split(
    fold_data: list[Path], fold_ids: list[int | None], fraction: float, tiles: Path | None, out: Path
) -> tuple[list[Path], list[Path], Path]:
    """Split each fold's training images (see the module docstring) and write the files; return each fold's
    labelled data yaml, its unlabeled pool (an image list) and the assignment's csv.

    ``fold_data`` are the folds' data.yaml, their files written beside them and the csv to ``out`` (the folds'
    folder); without folds, data.yaml itself, all files to ``out``. A fold that would have no labelled or no
    unlabeled image is refused, as is a csv written earlier that differs (the data changed since)."""
    tag, files, rows = f"{fraction:g}", {}, []  # labelled-0.25.yaml ...
    for data, fold in zip(fold_data, fold_ids):
        data = Path(data).resolve()
        cfg, splits = read_dataset(data)
        train = sorted(set(splits["train"]))
        boxes = box_counts(train)
        flags = cut(train, boxes, fraction, tiles)
        if sum(flags) in (0, len(train)):
            which, fix = ("labelled", "a larger") if sum(flags) == 0 else ("unlabeled", "a smaller")
            where = f"fold {fold}" if fold is not None else f"the train split of '{data}'"
            raise SettingsError(
                f"labelled={fraction:g} leaves {where} ({len(train)} training images) with no {which} image; "
                f"pass {fix} labelled= or more images"
            )
        d = data.parent if fold is not None else out  # a fold's own folder holds its val.txt already
        spec = {"path": str(d), "train": f"labelled-{tag}.txt", "val": "val.txt"}
        files[d / f"labelled-{tag}.txt"] = [p for p, f in zip(train, flags) if f]
        files[d / f"unlabeled-{tag}.txt"] = [p for p, f in zip(train, flags) if not f]
        if fold is None:
            files[d / "val.txt"] = splits["val"]
            if cfg.get("test"):  # a held-out split stays (scored with best.pt, compare.args.scoring)
                files[d / "test.txt"] = list_images(cfg["test"], dataset_root(cfg, data))
                spec["test"] = "test.txt"
        files[d / f"labelled-{tag}.yaml"] = spec | {k: cfg[k] for k in ("names", "channels") if k in cfg}
        rows += [(p, "" if fold is None else fold, int(f), b) for p, f, b in zip(train, flags, boxes)]
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows([("image", "fold", "labelled", "boxes"), *rows])
    csv_file = out / f"labelled-{tag}.csv"
    if csv_file.is_file() and csv_file.read_text() != table.getvalue():
        raise SettingsError(
            f"the images or labels of the dataset changed since '{csv_file}' split them; "
            "pass a new name= or delete that comparison folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        is_yaml = isinstance(content, dict)
        path.write_text(yaml.safe_dump(content, sort_keys=False) if is_yaml else "".join(f"{p}\n" for p in content))
    csv_file.write_text(table.getvalue())
    yamls = [p for p in files if p.suffix == ".yaml"]
    return yamls, [p.with_name(f"unlabeled-{tag}.txt") for p in yamls], csv_file
