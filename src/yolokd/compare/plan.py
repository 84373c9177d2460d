"""The plan of a comparison as data, before anything trains.

:class:`Comparison` holds what every run shares (folder, settings, folds and their fingerprints), :class:`Run`
one student run (its settings, inputs and record), :class:`Teachers` obtains each fold's teacher when a run first
needs it (trained or validated through :mod:`yolokd.compare.train`, or read from its record), and
:func:`plan_runs` lists every run in the order they train.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from yolokd import fingerprint, report
from yolokd.cfg import KD_DEFAULTS, SettingsError
from yolokd.compare.args import run_order, run_stem
from yolokd.compare.train import evaluate, log, scored_as, scores, train_run, was_scored
from yolokd.methods import uses_unlabeled
from yolokd.records import has_record, load_record, record_metrics, run_spec, save_record
from yolokd.stats import pool_teachers

# the validator's arguments, taken from the runs' settings: the same for every model of a comparison
VAL_KEYS = ("data", "imgsz", "batch", "device", "workers", "half", "conf", "iou", "max_det", "single_cls")


@dataclass(frozen=True)
class Comparison:
    """What every run of one comparison shares, fixed once compare()'s arguments are checked and its folder held."""

    out: Path  # the comparison folder
    base: dict[str, Any]  # the settings of every run: data, project, the recipe and train_args
    options: dict[str, Any]  # compare's own: student, epochs, recipe, folds, only_folds, cwd_attn_mode, records
    teacher: str  # teacher= as given: the teacher itself, or what it trains from (teacher_epochs=)
    teacher_epochs: int | None  # None: the teacher is used as given
    fold_ids: list[int | None]  # each fold's number; [None] without folds
    fold_data: list[Path]  # each fold's data.yaml; without folds, the dataset's
    data_fp: dict[str, dict[str, Any]]  # the fingerprint of each of those and of full_data's, by path
    env: dict[str, Any]  # the code and command this comparison starts with (report.environment)
    full_data: list[Path] = field(default_factory=list)  # each fold's data.yaml with all labels (rows @labelled=1)
    pools: list[str | None] = field(default_factory=list)  # each fold's unlabeled= for the rows that learn from it
    pool_fp: dict[str, dict[str, Any]] = field(default_factory=dict)  # the fingerprint of each pool, by path

    @property
    def records(self) -> Path | None:
        return Path(self.options["records"]) if self.options["records"] else None

    @property
    def settings(self) -> dict[str, Any]:
        """The settings the report states (summary.json)."""
        return {**self.options, **self.base}

    @property
    def imgsz(self) -> int:
        return int(self.base.get("imgsz", 640))

    @property
    def scored(self) -> dict[str, str]:
        """The weights file of a run trained here that is scored, and the split (args.scoring)."""
        return self.options["scored"]

    def val_args(self, k: int) -> dict[str, Any]:
        """The validator's arguments on the k-th fold: the same for every model of the comparison."""
        return {**{key: self.base[key] for key in VAL_KEYS if key in self.base}, "data": str(self.fold_data[k])}

    def where(self, k: int) -> str:
        """`` fold 2`` for a log line, or nothing without folds."""
        return "" if self.fold_ids[k] is None else f" fold {self.fold_ids[k]}"


@dataclass(frozen=True)
class Run:
    """One student run of the plan. Its ``inputs`` are as the plan knows them: the run that trains adds the
    fingerprint of the teacher's weights to a copy."""

    seed: int
    k: int  # index of its fold in Comparison.fold_ids (0 without folds)
    fold: int | None  # its fold's number; None without folds
    data: Path  # the data.yaml it trains and validates on
    label: str  # its methods= label, e.g. cwd_attn:shared@kd_tau=1
    kd: dict[str, Any]  # the label's yolokd settings
    name: str  # its run folder's name, e.g. cwd-s0-f1
    overrides: dict[str, Any]  # the arguments it trains with
    inputs: dict[str, Any]  # the fingerprints of its data, starting weights and teacher
    record: Path | None  # its folder under records=, if records= is given
    metrics: dict[str, Any] | None  # its record's, checked against this run; None: it runs here
    what: str  # ``cwd seed 0 fold 1``, for the log

    @property
    def distilled(self) -> bool:
        return self.kd["kd_method"] != "none"


class Teachers:
    """The teacher of each fold (or the one given), obtained when a run first needs it and kept.

    A teacher trained here has seed 0 whatever the students' seeds, so a later comparison on fresh seeds in the
    same folder reuses it. With records=, a fold whose distilled runs are all recorded needs no weights: its
    teacher's record (of the same recipe) is enough for the report, and a fresh machine does not train it.
    """

    def __init__(self, c: Comparison) -> None:
        self.c = c
        self.got: dict[int, dict[str, Any]] = {}  # by fold index: metrics, weights, fingerprint, how obtained

    @cached_property
    def start_fp(self) -> dict[str, Any]:
        """The fingerprint of the weights a teacher trained here starts from (none for a .yaml)."""
        return {"model": fingerprint.weights(self.c.teacher)} if Path(self.c.teacher).is_file() else {}

    def spec(self, k: int) -> tuple[Path, dict[str, Any], dict[str, Any], str]:
        """The k-th fold's teacher run folder, its settings, its inputs and its recipe fingerprint."""
        c = self.c
        t_dir = c.out / ("teacher" if c.fold_ids[k] is None else f"teacher-f{c.fold_ids[k]}")
        over = {key: v for key, v in c.base.items() if key not in KD_DEFAULTS}
        over.update(model=c.teacher, data=str(c.fold_data[k]), kd_method="none", epochs=c.teacher_epochs, seed=0)
        over["name"] = t_dir.name
        inputs = {"data": c.data_fp[str(c.fold_data[k])], **self.start_fp}
        recipe = hashlib.sha256(json.dumps(run_spec(over, None, inputs), sort_keys=True).encode()).hexdigest()
        return t_dir, over, inputs, recipe

    def planned(self, k: int) -> tuple[str, dict[str, Any]]:
        """A distilled run's ``teacher=`` on the k-th fold and the teacher's fingerprint as the plan knows it: a
        given teacher's own; a teacher trained here is known by its recipe until a run trains from its weights."""
        if self.c.teacher_epochs is None:
            return str(Path(self.c.teacher).resolve()), self.get(k, weights=False)["fingerprint"]
        t_dir, _, _, recipe = self.spec(k)
        weights = str(t_dir / "weights" / "best.pt")
        return weights, {"file": weights, "recipe": recipe}

    def get(self, k: int, weights: bool) -> dict[str, Any]:
        """The k-th fold's teacher (metrics, fingerprint, weights); trained (or reused) here if ``weights``."""
        t = self.got.get(k)
        if t is not None and (t["how"] != "recorded" or not weights):
            return t
        self.got[k] = (None if weights else self._recorded(k)) or self._validated(k)
        return self.got[k]

    def pooled(self) -> dict[str, Any]:
        """The report's teacher: :func:`yolokd.stats.pool_teachers` over the folds' teachers obtained so far."""
        return pool_teachers(self.c.teacher, [self.got[j] for j in sorted(self.got)])

    def _recorded(self, k: int) -> dict[str, Any] | None:
        """The k-th fold's teacher as recorded in records=, if it has no weights here and its recipe is this one."""
        c = self.c
        if c.teacher_epochs is None or c.records is None:
            return None
        t_dir, over, _, recipe = self.spec(k)
        rec = c.records / t_dir.name
        if (t_dir / "weights" / "best.pt").is_file() or not has_record(rec):
            return None
        t = record_metrics(rec)
        if t.get("fingerprint", {}).get("recipe") != recipe or was_scored(t, over) != scored_as(c.scored):
            return None
        log(f"teacher{c.where(k)} (recorded in {rec}): {scores(t)}")
        return {**t, "how": "recorded", "weights": str(rec / "weights" / "best.pt")}

    def _validated(self, k: int) -> dict[str, Any]:
        """The k-th fold's teacher, trained (resumed, reused) here or given, validated on its fold; recorded in
        records= when it was trained here."""
        c = self.c
        if c.teacher_epochs is None:
            how, weights, recipe, t_dir = "given", Path(c.teacher).resolve(), None, None
        else:
            t_dir, t_over, t_inputs, recipe = self.spec(k)
            log(f"teacher{c.where(k)} {c.teacher} ({c.teacher_epochs} epochs) in {t_dir}")
            how = train_run(t_dir, t_over, log, inputs=t_inputs)
            weights = t_dir / "weights" / "best.pt"  # what the students distil from
        scored = weights if t_dir is None else t_dir / "weights" / c.scored["weights"]
        metrics = evaluate(scored, c.val_args(k), c.scored["split"])
        metrics["scored"] = "as given" if t_dir is None else scored_as(c.scored)
        log(f"teacher{c.where(k)} ({how}): {scores(metrics)}")
        t = {"fold": c.fold_ids[k], "weights": str(weights), "data": str(c.fold_data[k]), "how": how, **metrics}
        t["params_m"], t["gflops"] = report.model_size(str(weights), c.imgsz)
        t["fingerprint"] = fingerprint.weights(weights) | ({"recipe": recipe} if recipe else {})
        if t_dir is not None and c.records is not None:
            self._record(k, t)
        return t

    def _record(self, k: int, t: dict[str, Any]) -> None:
        """Record the k-th fold's teacher trained here, unless its record is of this training: the latest
        training, for a report made elsewhere."""
        records = self.c.records
        t_dir, over, inputs, _ = self.spec(k)
        rec = records / t_dir.name
        if has_record(rec) and record_metrics(rec)["fingerprint"] == t["fingerprint"]:
            return
        (t_dir / "metrics.json").write_text(json.dumps(t, indent=2) + "\n")
        save_record(t_dir, records, run_spec(over, None, inputs), self.c.env)


def plan_runs(c: Comparison, teachers: Teachers, methods: list[tuple[str, dict]], seeds: list[int]) -> list[Run]:
    """Every (seed, fold, method) run in the order they train, with its settings and inputs. Nothing trains here:
    a run recorded in records= (and not validated here) is checked against its record now, before any does."""
    student = c.options["student"]
    student_fp = {"model": fingerprint.weights(student)} if Path(student).is_file() else {}
    only = c.options["only_folds"]
    return [
        _plan_run(c, teachers, seed, k, label, kd, student_fp)
        for seed, k in run_order(seeds, len(c.fold_ids))
        if only is None or c.fold_ids[k] in only
        for label, kd in methods
    ]


def _plan_run(c: Comparison, teachers: Teachers, seed: int, k: int, label: str, kd: dict, student_fp: dict) -> Run:
    """The run of method ``label`` on seed ``seed`` and the k-th fold (see plan_runs): on the fold's labelled part
    (all of its labels for a row ``@labelled=1``), with the fold's unlabeled pool if its method learns from one."""
    every_label = kd.get("labelled") == 1
    fold, data = c.fold_ids[k], (c.full_data[k] if every_label else c.fold_data[k])
    name = f"{run_stem(label)}-s{seed}" + ("" if fold is None else f"-f{fold}")
    settings = {key: v for key, v in kd.items() if key != "labelled"}
    over = {**c.base, **settings, "data": str(data), "model": c.options["student"], "epochs": c.options["epochs"]}
    over.update(seed=seed, name=name)
    inputs = {"data": c.data_fp[str(data)], **student_fp}
    pool = c.pools[k] if c.pools and not every_label and uses_unlabeled(kd["kd_method"]) else None
    if pool is not None:  # its record is refused when the pool changes, as when the data does
        over["unlabeled"], inputs["unlabeled"] = pool, c.pool_fp[pool]
    rec = c.records / name if c.records else None
    recorded = has_record(rec) and not (c.out / name / "metrics.json").is_file()
    if kd["kd_method"] != "none":
        over["teacher"], inputs["teacher"] = teachers.planned(k)
    metrics = load_record(rec, over, label, inputs, c.env) if recorded else None
    if metrics is not None and (was := was_scored(metrics, over)) != (now := scored_as(c.scored)):
        raise SettingsError(
            f"'{rec}' was scored on {was}, this comparison scores {now} (score=): pass the score= it was made "
            "with, or another records= folder"
        )
    what = f"{label} seed {seed}" + ("" if fold is None else f" fold {fold}")
    return Run(seed, k, fold, data, label, kd, name, over, inputs, rec, metrics, what)
