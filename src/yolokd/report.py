"""The report of ``yolokd compare``: tables (Markdown, CSV), JSON records, and the figures (:mod:`yolokd.figures`).

The numbers (paired differences, intervals, gap closed) come from :mod:`yolokd.stats`; this module writes them,
for each task its own metrics (:data:`yolokd.stats.TASK_METRICS`): the primary first, with its intervals.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from yolokd import fingerprint
from yolokd.figures import plot_examples, plot_map
from yolokd.stats import METRICS, is_ceiling, metrics_of, pair, summarize, task_of


def _fmt(x: float | None, spec: str = ".3f", sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return format(x, ("+" if sign else "") + spec)


def _cell_diff(row: dict, k: str) -> str:
    if f"d_{k}" not in row:
        return "—"
    lo, hi = row[f"d_{k}_lo"], row[f"d_{k}_hi"]
    star = " *" if not math.isnan(lo) and (lo > 0 or hi < 0) else ""
    return f"{_fmt(row[f'd_{k}'], sign=True)} [{_fmt(lo, sign=True)}, {_fmt(hi, sign=True)}]{star}"


def _attention_lines(runs: list[dict], labels: list[str]) -> list[str]:
    """A table of the last epoch's attention statistics per model (mean over seeds), if any run has them."""
    keys = sorted({k for r in runs for k in r if k.startswith("attn/")})
    if not keys:
        return []
    lines = [
        "",
        "Attention at the last epoch (student-side masks; mean over runs):",
        "",
        "| model | " + " | ".join(k.removeprefix("attn/") for k in keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for label in labels:
        rs = [r for r in runs if r["label"] == label and keys[0] in r]
        if rs:
            lines.append(f"| {label} | " + " | ".join(f"{statistics.fmean(r[k] for r in rs):.3f}" for k in keys) + " |")
    return lines


def model_size(weights: str, imgsz: int) -> tuple[float, float]:
    """(parameters in millions, GFLOPs at ``imgsz``) of a checkpoint."""
    from yolokd.deploy import params_and_gflops

    n, gflops = params_and_gflops(weights, imgsz)
    return n / 1e6, gflops


def title(settings: dict[str, Any], teacher: dict) -> str:
    """``trees: teacher best.pt (yolov8s-fall) → student yolov8n.yaml`` — what was compared, on which data."""
    data = Path(str(settings.get("data", "")))
    dataset = data.parent.name if data.stem == "data" and data.parent.name else data.stem
    t = Path(str(teacher.get("model", "")))
    run = t.parent.parent.name if t.parent.name == "weights" else ""  # runs/<name>/weights/best.pt
    return f"{dataset}: teacher {t.name}{f' ({run})' if run else ''} → student {settings.get('student')}"


def _fold_lines(teacher: dict, runs: list[dict], labels: list[str], metrics=METRICS) -> list[str]:
    """Per fold: its validation boxes, its teacher, each method's mean primary metric over seeds, and (when records
    from several machines were pooled) the box mAP50 of each training of the teacher its distilled runs came from."""
    (p, name), *_ = metrics
    lines = ["", f"Per fold, {name} (students: mean over seeds):", ""]
    trainings = {t["fold"]: {r["teacher_tensors"]: r["teacher_map50"] for r in runs if r.get("fold") == t["fold"]
                             and r.get("teacher_tensors")} for t in teacher["folds"]}  # fmt: skip
    here = {t["fold"]: t.get("fingerprint", {}).get("tensors_sha256") for t in teacher["folds"]}
    extra = any(set(used) - {here[f]} for f, used in trainings.items())  # a run distilled from another training
    head = "| fold | boxes | teacher | " + " | ".join(labels) + (" | teacher trainings used |" if extra else " |")
    lines += [head, "|---" * (len(labels) + 3 + extra) + "|"]
    for t in teacher["folds"]:
        cells = []
        for m in labels:
            vals = [r[p] for r in runs if r["label"] == m and r.get("fold") == t["fold"]]
            cells.append(_fmt(statistics.fmean(vals)) if vals else "—")
        if extra:
            cells.append(", ".join(_fmt(v) for v in sorted(trainings[t["fold"]].values())))
        lines.append(f"| {t['fold']} | {t['val_boxes']} | {_fmt(t.get(p))} | " + " | ".join(cells) + " |")
    if extra:
        lines.append(
            "\nA comparison continued from records (records=) trains its fold teachers again where it needs them, "
            "and CPU training is not bit-reproducible across machines: the last column gives the validation mAP50 "
            "of each training of the fold's teacher whose students are in the table; `teacher` is the latest one."
        )
    return lines


def _teacher_note(teacher: dict, runs: list[dict]) -> list[str]:
    """Without folds: a line naming the other trainings of the teacher that recorded runs were distilled from."""
    here = teacher.get("fingerprint", {}).get("tensors_sha256")
    other = {r["teacher_tensors"]: r["teacher_map50"] for r in runs if r.get("teacher_tensors") not in (None, here)}
    if not other:
        return []
    maps = ", ".join(_fmt(v) for v in sorted(other.values()))
    return [
        "",
        f"Some distilled runs come from records (records=) of other trainings of the teacher (mAP50 {maps}); "
        "`teacher` is the latest training.",
    ]


def provenance(env: dict[str, Any], runs: list[dict]) -> str:
    """The line under a report's title: its command, start date, machine and versions, and how many of its runs
    were reused from records (trained elsewhere or earlier: their record.json says where and when)."""
    v = env["versions"]
    gpu = env.get("gpu") or "no GPU"
    line = (
        f"`{env['command']}`, started {env['date']} on {env.get('cpu') or 'a CPU'} ({env['cpu_count']} cores, {gpu});"
        f" yolokd {v['yolokd']}, torch {v['torch']}, Ultralytics {v['ultralytics']}"
    )
    if recorded := sum(r.get("how") == "recorded" for r in runs):
        line += f"; {recorded} of the {len(runs)} student runs reused from records made earlier (record.json of each)"
    return line + "."


def _header_lines(teacher: dict, runs: list[dict], rows: list[dict], settings: dict[str, Any], env: dict) -> list[str]:
    """The title, what was compared (data, epochs, image size, seeds, models) and the provenance line."""
    seeds = sorted({r["seed"] for r in runs})
    attn = ""  # the attention of the rows labelled plain `cwd_attn` (a `:mode` label names its own), if any
    if any(str(r["model"]).split("@")[0] == "cwd_attn" for r in rows):
        attn = f" · `cwd_attn` = kd_attn_mode `{settings.get('cwd_attn_mode')}`"
    return [
        f"# yolokd compare — {title(settings, teacher)}",
        "",
        f"data `{settings.get('data')}` ({_boxes(teacher, settings)}) · {settings.get('epochs')} epochs · "
        f"imgsz {int(settings.get('imgsz', 640))} · seeds {','.join(map(str, seeds))} · "
        f"student `{settings.get('student')}` · teacher `{teacher['model']}`{attn}",
        "",
        provenance(env, runs),
        "",
        *_scored_lines(settings),
    ]


PRIMARY = {  # which metric a segment, pose or obb comparison is judged on (stats.TASK_METRICS)
    "segment": "Segment models: the primary metric is the masks' mAP50 (Ultralytics' mAP50(M)); Δ and its intervals "
    "are on the masks' mAP50 and mAP50-95, gap closed on their mAP50; the box columns are the detection branch's "
    "boxes (means; table.csv has their Δ too).",
    "pose": "Pose models: the primary metric is the keypoints' mAP50 (Ultralytics' mAP50(P), by OKS); Δ and its "
    "intervals are on the keypoints' mAP50 and mAP50-95, gap closed on their mAP50; the box columns are the detection "
    "branch's boxes (means; table.csv has their Δ too).",
    "obb": "OBB models: the metric is the rotated boxes' mAP50 (Ultralytics' mAP50(B) of an obb model, by rotated "
    "IoU); Δ and its intervals are on it and its mAP50-95, gap closed on its mAP50.",
}
SCORED = {  # what the scored weights and split mean for the reader (compare.args.scoring)
    ("last.pt", "val"): "the last epoch's weights (`last.pt`) on the validation images; no epoch was picked on them",
    ("best.pt", "test"): "`best.pt` (its epoch picked on the validation images) on the held-out test split",
    ("last.pt", "test"): "the last epoch's weights (`last.pt`) on the held-out test split",
    ("best.pt", "val"): "`best.pt`, the epoch Ultralytics picked on these same validation images (`score=best`, "
    "its convention): biased upward, by more for noisier methods",
}


def _scored_lines(settings: dict[str, Any]) -> list[str]:
    """Which weights were scored, for students and teachers trained here (a teacher given as a file: as given)."""
    scored = settings.get("scored")
    if not scored:
        return []
    return [f"Scored, students and teachers trained here alike: {SCORED[scored['weights'], scored['split']]}.", ""]


def _boxes(teacher: dict, settings: dict[str, Any]) -> str:
    """``950 validation boxes``; with folds, over how many of them (a comparison under way, or only_folds=)."""
    boxes = f"{teacher.get('val_boxes')} validation boxes"
    k = settings.get("folds")
    if k:  # a comparison under way, or one of only_folds=, has validated some of the folds
        reached, only = len(teacher.get("folds", ())) or k, settings.get("only_folds")
        part = f" (only_folds={','.join(map(str, only))})" if only else " so far"
        boxes += f" over {k} folds" if reached >= k else f" over {reached} of {k} folds{part}"
    return boxes


def _model_lines(rows: list[dict], metrics=METRICS, timed: bool = False) -> list[str]:
    """The main table: per model its size, mean ± std of the task's own pair of metrics, Δ to the plain student
    with its interval, gap closed (and label gap closed, with a ceiling row), then (segment, pose) the mean ± std of
    the boxes' metrics, and (``timed``: a comparison with unlabeled images) the seconds per epoch."""
    (p, p_name), (q, q_name), *others = metrics
    heads = [p_name, q_name, f"Δ {p_name} vs none [95% CI]", f"Δ {q_name} vs none [95% CI]", f"gap closed ({p_name})"]
    ceiling = any("label_gap_closed" in r for r in rows)
    heads += [f"label gap closed ({p_name})"] * ceiling + [name for _, name in others] + ["s/epoch"] * timed
    lines = ["| model | params (M) | GFLOPs | " + " | ".join(heads) + " | runs |", "|---" * (len(heads) + 4) + "|"]
    for row in rows:
        cells = [
            f"{_fmt(row[f'{k}_mean'])} ± {_fmt(row.get(f'{k}_std'))}" if row["n"] > 1 else _fmt(row[f"{k}_mean"])
            for k, _ in metrics
        ]
        gap = "" if row["model"] == "teacher" else _fmt(row["gap_closed"] * 100, ".0f") + " %"
        cells[2:2] = [_cell_diff(row, p), _cell_diff(row, q), gap.replace("— %", "—")]
        if ceiling:
            label_gap = "" if row["model"] == "teacher" else _fmt(row.get("label_gap_closed", math.nan) * 100, ".0f")
            cells.insert(5, f"{label_gap} %".replace("— %", "—") if label_gap else "")
        if timed:
            cells.append(_fmt(row.get("epoch_s"), ".1f"))
        lines.append(
            f"| {row['model']} | {row['params_m']:.2f} | {row['gflops']:.2f} | "
            + " | ".join(cells)
            + f" | {row['n']} |"
        )
    return lines


def _pairs(runs: list[dict]) -> list[tuple[int, int | None]]:
    """The (seed, fold) pairs that the runs were made for, in order; fold None without folds."""
    return sorted({(r["seed"], r.get("fold")) for r in runs}, key=lambda p: (p[0], p[1] or 0))


def _unit(folded: bool) -> str:
    return "seed and fold" if folded else "seed"


def _pair_lines(runs: list[dict], labels: list[str], pairs: list[tuple[int, int | None]], metrics=METRICS) -> list[str]:
    """Per seed (and fold): each model's primary metric."""
    unit, (p, name) = _unit(pairs[0][1] is not None), metrics[0]
    lines = ["", f"Per {unit}, {name}:", "", f"| {unit} | " + " | ".join(labels) + " |"]
    lines.append("|---" * (len(labels) + 1) + "|")
    for s_, f_ in pairs:
        at = {r["label"]: r[p] for r in runs if (r["seed"], r.get("fold")) == (s_, f_)}
        cells = [_fmt(at.get(m)) for m in labels]
        lines.append(f"| {s_}{'' if f_ is None else f' / {f_}'} | " + " | ".join(cells) + " |")
    return lines


def _note_lines(rows: list[dict], folded: bool, task: str = "detect") -> list[str]:
    """How to read the tables (a segment, pose or obb comparison: which metric is primary); under way, the block of
    pairs each Δ is over so far."""
    unit, metrics = _unit(folded), metrics_of(task)
    lines = [
        "",
        f"mean ± sample std over runs (one per {unit}). Δ: mean paired difference to the plain student (`none`) "
        f"over the same {unit} pairs with a 95 % t-interval over seeds"
        + (" (a seed's difference is its mean over the folds, which share training images)" if folded else "")
        + "; * marks an interval that excludes 0. Gap closed: "
        f"Δ {metrics[0][1]} / (teacher − none) over the same pairs. All models validated by Ultralytics' validator "
        "with identical arguments"
        + (" (each on its fold's validation images; every image is validated once per seed)." if folded else "."),
    ]
    if task != "detect":
        lines.append(PRIMARY[task])
    partial = [f"{r['model']}: {r['d_block']}" for r in rows if r.get("d_block")]
    if partial:  # a comparison under way: seeds that reached different folds
        lines.append(
            "Δ so far over the largest complete block of pairs (each seed averaged over the same folds; the "
            "other runs wait for their folds): " + "; ".join(partial) + "."
        )
    return lines


def _unlabeled_lines(settings: dict[str, Any], folded: bool) -> list[str]:
    """Where a comparison's unlabeled images come from and which rows learn from them (none without any)."""
    learn = settings.get("pool_rows", [])
    users = ", ".join(f"`{m}`" for m in learn)
    if settings.get("unlabeled"):
        return [f"Unlabeled images: `{settings['unlabeled']}`, given to {users or 'no row'} (no other run).", ""]
    if not settings.get("labelled"):
        return []
    images = "each fold's training images" if folded else "the training images"
    return [
        f"Label-scarce (labelled={settings['labelled']:g}): about that share of {images} keeps its labels, in "
        f"contiguous blocks listed in `{settings.get('labelled_csv')}`; the teachers and every row train on it, and "
        f"the rest is the unlabeled pool of {users or 'no row'} (its labels never read in training); a row "
        "`@labelled=1` trains on all labels.",
        "",
    ]


def _scarce_notes(rows: list[dict], metrics, timed: bool) -> list[str]:
    """How to read the label gap closed and the seconds per epoch, where the table has them."""
    lines = []
    if any("label_gap_closed" in r for r in rows):
        ceiling = next(r["model"] for r in rows if is_ceiling(str(r["model"])))
        lines.append(
            f"Label gap closed: Δ {metrics[0][1]} vs none / (`{ceiling}` − none), the ceiling being the plain "
            "student on all labels: a ratio of the means over the seed (and fold) pairs that have the row, none and "
            "the ceiling, not a mean of per-seed ratios (a seed's own ceiling − none can be near 0)."
        )
    if timed:
        lines.append(
            "s/epoch: seconds per epoch (training, and validation where it ran) from each run's results.csv, the "
            "median over its epochs (a paused epoch does not count), mean over runs; comparable only between runs "
            "on the same machine."
        )
    return lines


def _write_csv(
    path: Path, rows: list[dict], pairs: list[tuple[int, int | None]], metrics=METRICS, timed: bool = False
) -> None:
    """table.csv: the main table's numbers unrounded (every metric of the task, the boxes' with their Δ too), and
    each model's value per pair."""
    keys = ["model", "params_m", "gflops", "n"]
    keys += [c for k, _ in metrics for c in (f"{k}_mean", f"{k}_std", f"d_{k}", f"d_{k}_lo", f"d_{k}_hi")]
    keys += ["gap_closed"] + ["label_gap_closed"] * any("label_gap_closed" in r for r in rows)
    keys += ["epoch_s"] * timed + [f"{k}_{pair({'seed': s_, 'fold': f_})}" for k, _ in metrics for s_, f_ in pairs]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def write_tables(
    out: Path, teacher: dict, runs: list[dict], labels: list[str], settings: dict[str, Any], env: dict[str, Any]
) -> list[dict]:
    """Write table.md, table.csv and summary.json (also after every finished run, so progress is on disk)."""
    imgsz = int(settings.get("imgsz", 640))
    task = task_of(runs)
    metrics = metrics_of(task)
    rows = summarize(teacher, runs, labels, metrics)
    for row in rows:
        if "params_m" not in row:
            row["params_m"], row["gflops"] = model_size(row["weights"], imgsz)
    pairs = _pairs(runs)
    folded = pairs[0][1] is not None
    timed = bool(settings.get("labelled") or settings.get("unlabeled"))  # unlabeled images cost time: shown
    lines = _header_lines(teacher, runs, rows, settings, env) + _unlabeled_lines(settings, folded)
    lines += _model_lines(rows, metrics, timed) + _pair_lines(runs, labels, pairs, metrics)
    lines += _fold_lines(teacher, runs, labels, metrics) if folded else _teacher_note(teacher, runs)
    lines += _attention_lines(runs, labels) + _note_lines(rows, folded, task) + _scarce_notes(rows, metrics, timed)
    (out / "table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _write_csv(out / "table.csv", rows, pairs, metrics, timed)
    summary = {"settings": settings, "teacher": teacher, "runs": runs, "rows": rows}
    if task != "detect":
        summary["task"] = {"task": task, "primary": metrics[0][0], "metrics": dict(metrics)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return rows


def environment(seeds: list[int]) -> dict[str, Any]:
    """Versions, machine, seeds, the command line and the git revision of the yolokd source."""
    import torch
    import torchvision
    import ultralytics
    from ultralytics.utils.torch_utils import get_cpu_info

    import yolokd

    src = Path(yolokd.__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join(sys.argv),
        "seeds": seeds,
        "git_revision": git("rev-parse", "HEAD"),
        "git_dirty": bool(dirty) if dirty is not None else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": get_cpu_info(),
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": {
            "yolokd": yolokd.__version__,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "ultralytics": ultralytics.__version__,
        },
        "training_code": fingerprint.training_code(),
    }


def write_all(
    out: Path,
    teacher: dict,
    runs: list[dict],
    labels: list[str],
    settings: dict[str, Any],
    env: dict[str, Any],
    imgsz: int,
    examples: int,
    examples_conf: float = 0.001,
) -> list[Path]:
    """The complete report: tables, summary.json, env.json, map.png and examples.png; returns the files."""
    rows = write_tables(out, teacher, runs, labels, settings, env)
    (out / "env.json").write_text(json.dumps(env, indent=2) + "\n")
    task = task_of(runs)
    plot_map(out, rows, runs, out / "map.png", title(settings, teacher), metrics_of(task))
    t_of = {t["fold"]: t["weights"] for t in teacher.get("folds", [])}
    t_of = {r.get("fold"): t_of.get(r.get("fold"), teacher["weights"]) for r in runs}
    # a recorded run (records=) has no weights here, nor has a fold teacher known from its record
    drawable = [r for r in runs if Path(r["weights"]).is_file() and Path(t_of[r.get("fold")]).is_file()]
    if examples > 0 and drawable:
        fold = min((r.get("fold") or 0) for r in drawable)  # with folds: fold 0's images, teacher and students
        shown = [r for r in drawable if (r.get("fold") or 0) == fold]
        first = {r["label"]: r["weights"] for r in sorted(shown, key=lambda r: r["seed"], reverse=True)}
        columns = [("teacher", t_of[shown[0].get("fold")])] + [(m, first[m]) for m in labels if m in first]
        note = f"students of seed {min(r['seed'] for r in shown)}" + (f", fold {fold}" if settings.get("folds") else "")
        plot_examples(
            shown[0].get("data") or settings["data"],
            columns,
            imgsz,
            examples,
            out / "examples.png",
            note,
            examples_conf,
            settings.get("device"),
            task,
        )
    else:
        (out / "examples.png").unlink(missing_ok=True)  # no stale drawing of an earlier state
    names = ("table.md", "table.csv", "map.png", "examples.png", "summary.json", "env.json")
    return [out / n for n in names if (out / n).is_file()]
