"""``yolokd compare``: the paper's experiment (Table 1, Fig. 2) as one resumable command.

A teacher (given, or trained first) and one student run per (method, seed), all under the
identical recipe; every run is then validated the same way and the report (:mod:`yolokd.report`)
is written to the comparison folder::

    project/name/
      teacher/                Ultralytics run of the teacher (when trained here)
      none-s0/ cwd-s0/ ...    one Ultralytics run per method and seed, with yolokd_run.json + metrics.json
      folds/                  with folds=k: folds.csv and f0/data.yaml ...; runs are then teacher-f0/, none-s0-f0/ ...
                              with labelled=F also f0/labelled-F.yaml, f0/unlabeled-F.txt and labelled-F.csv
      labelled/               labelled=F without folds: labelled-F.yaml, unlabeled-F.txt, labelled-F.csv
      table.md table.csv summary.json env.json map.png examples.png

Re-running the same command reuses finished runs (metrics.json), resumes interrupted ones
(weights/last.pt) and refuses a run folder made with different settings.

The runs are data: :func:`~yolokd.compare.plan.plan_runs` lists every student
:class:`~yolokd.compare.plan.Run` (settings, inputs, record) before anything trains,
:class:`~yolokd.compare.plan.Teachers` obtains each fold's teacher when a run first needs it, and
:func:`train_runs` trains the runs in order, rewriting the tables after each.

    __init__.py   compare(): checks its arguments, holds the folder, plans, runs the plan, prints the report
    args.py       methods=, seeds=, folds=, only_folds=, score= and the keys compare sets itself (pure Python)
    plan.py       Comparison, Run, Teachers and plan_runs: the runs as data
    train.py      one run: trained (resumed, reused), scored, its metrics written beside it
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yolokd import fingerprint, report
from yolokd.cfg import KD_DEFAULTS, SettingsError, check_kd_settings, split_settings, with_recipe
from yolokd.compare.args import (
    check_folds,
    check_own_args,
    parse_labelled,
    parse_methods,
    parse_only_folds,
    parse_seeds,
    scoring,
)
from yolokd.compare.plan import Comparison, Run, Teachers, plan_runs
from yolokd.compare.train import epoch_seconds, log, run_metrics, scores, train_run
from yolokd.data.folds import write_folds
from yolokd.data.scarce import write_split
from yolokd.lock import FolderLock
from yolokd.methods import uses_unlabeled
from yolokd.records import has_record, run_spec, save_record


def compare(
    data: str,
    teacher: str,
    student: str = "yolov8n.yaml",
    methods: str | list[str] = "none,cwd,cwd_attn,native",
    seeds: int | str | list[int] = 3,
    epochs: int = 100,
    teacher_epochs: int | None = None,
    recipe: str = "default",
    folds: int | None = None,
    project: str = "runs/compare",
    name: str = "compare",
    examples: int = 4,
    examples_conf: float = 0.001,
    records: str | None = None,
    only_folds: int | str | list[int] | None = None,
    score: str | None = None,
    labelled: float | str | None = None,
    **train_args: Any,
) -> Path:
    """Run the comparison and write its report; return the comparison folder.

    ``teacher`` is a trained ``.pt`` used as is, or (with ``teacher_epochs=``) a ``.yaml`` or ``.pt`` that
    is trained first under the same recipe. ``train_args`` (any Ultralytics train argument or yolokd
    ``kd_*`` setting) apply to every run; the default recipe presets Adam, lr0 0.001, momentum 0.9 and
    ``recipe=paper`` adds tau 0.5, weight 1 (explicit arguments win). ``folds=k`` pools the train and val
    images into k folds (:mod:`yolokd.data.folds`) and runs every (method, seed) once per fold, validated on
    that fold; each fold gets its own teacher, trained here on the other folds (so ``teacher_epochs=`` is
    required);
    ``only_folds=0,2`` runs those folds alone (a first look, or a long comparison split in parts).
    ``examples`` validation images are drawn in examples.png with
    each model's most confident detections (as many as the image has boxes; none below ``examples_conf``).
    ``records=DIR`` keeps a record of every finished student run in ``DIR/<run name>/`` (settings, input
    fingerprints, metrics, results.csv; no weights) and reuses a record whose settings and inputs match instead
    of training that run: a long comparison continues on another machine from committed records. Recorded
    runs count in the tables; without their weights they are not drawn in examples.png.
    ``score=`` chooses the weights scored (:func:`~yolokd.compare.args.scoring`): by default the last epoch's on
    the validation images, or best.pt on a held-out ``test:`` split; ``score=best`` is Ultralytics' convention.
    ``unlabeled=DIR`` goes to the rows whose method learns from unlabeled images (:func:`yolokd.methods.uses_unlabeled`)
    and to no other run, teachers included. ``labelled=0.25`` keeps the labels of a quarter of each fold's training
    images (:mod:`yolokd.data.scarce`): teachers and rows train on that part, the rest is the unlabeled pool of the
    rows that learn from it, and a row ``METHOD@labelled=1`` (``none@labelled=1``: the ceiling) trains on all labels.
    """
    recipe = "default" if recipe is None else recipe  # recipe=none on the command line
    check_own_args(train_args, recipe)
    common = with_recipe({**train_args, "recipe": recipe})
    common.pop("kd_method", None)  # a recipe's; methods= chooses (check_own_args refuses it in train_args)
    kd_common = {k: v for k, v in common.items() if k in KD_DEFAULTS}
    resolved = check_kd_settings(kd_common, require_teacher=False)
    pool = resolved["unlabeled"]  # made absolute; given per row (plan_runs), to the rows that learn from it
    common.pop("unlabeled", None)
    labelled = parse_labelled(labelled, pool)
    method_list, seed_list = parse_methods(methods, labelled, pool), parse_seeds(seeds)
    if pool is not None and not any(uses_unlabeled(kd["kd_method"]) for _, kd in method_list):
        raise SettingsError(
            f"unlabeled={pool} is used by no row of methods= ({', '.join(m for m, _ in method_list)}); add one "
            "that learns from unlabeled images (cwd, cwd_attn, response, pseudo)"
        )
    split_settings({**common, "data": data, "epochs": epochs, "kd_method": "none"})  # fail before any training
    train_teacher = teacher_epochs is not None
    check_folds(folds, train_teacher)
    only = parse_only_folds(only_folds, folds)
    scored = scoring(score, data, folds)
    from yolokd.integration.weights import resolve_weights  # Ultralytics: only once the cheap checks passed

    teacher, student = (resolve_weights(w, role) for w, role in ((teacher, "teacher"), (student, "student")))
    if not train_teacher and not (str(teacher).endswith(".pt") and Path(teacher).is_file()):
        raise SettingsError(
            f"teacher '{teacher}' is not an existing .pt file; pass a trained checkpoint, or add teacher_epochs=N "
            "to train it first (teacher=yolov8s.yaml or a .pt to fine-tune)"
        )
    if train_teacher and not (str(teacher).endswith(".yaml") or Path(teacher).is_file()):
        raise SettingsError(f"teacher '{teacher}' must be a model .yaml (e.g. yolov8s.yaml) or an existing .pt")

    out = Path(project).resolve() / name
    with FolderLock(out, "comparison folder"):  # one process per comparison folder
        plan = {"student": student, "epochs": epochs, "recipe": recipe, "folds": folds, "only_folds": only}
        plan["scored"] = scored
        plan["cwd_attn_mode"] = resolved["kd_attn_mode"]
        plan["records"] = str(Path(records).resolve()) if records else None
        plan |= {"labelled": labelled} if labelled < 1 else {}
        plan |= {"unlabeled": pool} if pool is not None else {}
        if labelled < 1 or pool is not None:  # the report names them
            plan["pool_rows"] = _pool_rows(method_list, resolved["unlabeled_ratio"])
        base = {"data": str(Path(data).resolve()), "project": str(out), "exist_ok": True, **common}
        return _run(out, base, plan, teacher, teacher_epochs, method_list, seed_list, examples, examples_conf)


def _pool_rows(method_list: list[tuple[str, dict[str, Any]]], ratio: float) -> list[str]:
    """The rows that learn from the comparison's unlabeled images: a method that reads them, not on all labels
    (``@labelled=1``), and drawing some (``pseudo`` labels them all; the others: ``unlabeled_ratio`` > 0)."""
    return [
        label
        for label, kd in method_list
        if uses_unlabeled(kd["kd_method"])
        and kd.get("labelled") != 1
        and (kd["kd_method"] == "pseudo" or float(kd.get("unlabeled_ratio", ratio)) > 0)
    ]


def _run(out, base, options, teacher, teacher_epochs, method_list, seed_list, examples, examples_conf) -> Path:
    """compare() once its arguments are checked and its folder is held: teachers, students, report."""
    env = report.environment(seed_list)  # the code and command this comparison starts with
    folds = options["folds"]
    fold_data = write_folds(base["data"], folds, out / "folds") if folds else [Path(base["data"])]
    fold_ids: list[int | None] = list(range(folds)) if folds else [None]
    full_data, pools = fold_data, [options.get("unlabeled")] * len(fold_ids)
    if options.get("labelled"):  # the label-scarce split: each fold's labelled part and its unlabeled pool
        tiles = Path(base["data"]).resolve().parent / "tiles.csv"
        where = out / ("folds" if folds else "labelled")
        fold_data, pool_lists, csv_file = write_split(full_data, fold_ids, options["labelled"], tiles, where)
        pools, options["labelled_csv"] = [str(p) for p in pool_lists], str(csv_file)
    data_fp = {str(d): fingerprint.dataset(d) for d in dict.fromkeys([*fold_data, *full_data])}
    pool_fp = {p: fingerprint.unlabeled(p) for p in dict.fromkeys(pools) if p}
    c = Comparison(out, base, options, str(teacher), teacher_epochs, fold_ids, fold_data, data_fp, env,
                   full_data, pools, pool_fp)  # fmt: skip
    teachers = Teachers(c)
    labels = [m for m, _ in method_list]
    runs = train_runs(c, teachers, plan_runs(c, teachers, method_list, seed_list), labels)
    files = report.write_all(out, teachers.pooled(), runs, labels, c.settings, env, c.imgsz, examples, examples_conf)
    _print_report(out, files)
    return out


def train_runs(c: Comparison, teachers: Teachers, plan: list[Run], labels: list[str]) -> list[dict[str, Any]]:
    """Each run of the plan in order: from its record, or trained (resumed, reused) here. The tables are written
    again after each run, so a comparison's progress is on disk. Returns the runs' report records."""
    runs: list[dict[str, Any]] = []
    for i, run in enumerate(plan, 1):
        log(f"[{i}/{len(plan)}] {run.what} in {c.out / run.name}")
        if run.metrics is not None:
            how, run_dir, metrics = "recorded", run.record, run.metrics
        else:
            how, run_dir, metrics = _train(c, teachers, run)
        log(f"[{i}/{len(plan)}] {run.what} ({how}): {scores(metrics)}")
        done = {"label": run.label, "seed": run.seed, "fold": run.fold, "data": str(run.data), "run_dir": str(run_dir)}
        done |= {"epoch_s": t} if (t := epoch_seconds(run_dir)) is not None else {}
        runs.append({**done, "weights": str(run_dir / "weights" / c.scored["weights"]), "how": how, **metrics})
        teachers.get(run.k, weights=False)  # the report needs this fold's teacher; its record will do
        report.write_tables(c.out, teachers.pooled(), runs, labels, c.settings, c.env)
    return runs


def _train(c: Comparison, teachers: Teachers, run: Run) -> tuple[str, Path, dict[str, Any]]:
    """Train (or resume, or reuse) one run here and validate it; record it if records= has no record of it.
    Returns how it was obtained, its folder and its metrics."""
    inputs, t = run.inputs, None
    if run.distilled:
        t = teachers.get(run.k, weights=True)
        inputs = {**run.inputs, "teacher": t["fingerprint"]}
    run_dir = c.out / run.name
    how = train_run(run_dir, run.overrides, log, run.label, inputs)
    metrics = run_metrics(run_dir, how, c.val_args(run.k), c.imgsz, c.scored, run.overrides)
    if t is not None and "teacher_map50" not in metrics:  # which training of the teacher
        metrics.update(teacher_map50=t["map50"], teacher_tensors=t["fingerprint"].get("tensors_sha256"))
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if run.record is not None and not has_record(run.record):
        save_record(run_dir, c.records, run_spec(run.overrides, run.label, inputs), c.env)
    return how, run_dir, metrics


def _print_report(out: Path, files: list[Path]) -> None:
    """The table, then what each file of the report holds."""
    print((out / "table.md").read_text(encoding="utf-8"), flush=True)
    what = {
        "table.md": "the table above",
        "table.csv": "the same numbers, per run",
        "map.png": "mAP per model, runs as dots",
        "examples.png": "detections on validation images",
        "summary.json": "every run's metrics and paths",
        "env.json": "versions, machine, command",
    }
    print(f"yolokd compare: report in {out}/", flush=True)
    for f in files:
        print(f"  {f.name:<13} {what.get(f.name, '')}", flush=True)
    print(f"  {'<method>-s<seed>/':<13} one Ultralytics run folder per student (weights/best.pt)", flush=True)
