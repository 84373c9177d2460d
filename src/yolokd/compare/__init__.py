"""``yolokd compare``: the paper's experiment (Table 1, Fig. 2) as one resumable command.

A teacher (given, or trained first) and one student run per (method, seed), all under the
identical recipe; every run is then validated the same way and the report (:mod:`yolokd.report`)
is written to the comparison folder::

    project/name/
      teacher/                Ultralytics run of the teacher (when trained here)
      none-s0/ cwd-s0/ ...    one Ultralytics run per method and seed, with yolokd_run.json + metrics.json
      folds/                  with folds=k: folds.csv and f0/data.yaml ...; runs are then teacher-f0/, none-s0-f0/ ...
      table.md table.csv summary.json env.json map.png examples.png

Re-running the same command reuses finished runs (metrics.json), resumes interrupted ones
(weights/last.pt) and refuses a run folder made with different settings.

The runs are data: :func:`plan_runs` lists every student :class:`Run` (settings, inputs, record) before
anything trains, :class:`Teachers` obtains each fold's teacher when a run first needs it, and
:func:`train_runs` trains the runs in order, rewriting the tables after each.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from yolokd import fingerprint, report
from yolokd.cfg import (
    CHOICES,
    KD_DEFAULTS,
    NONE_WORDS,
    SettingsError,
    check_kd_settings,
    check_recipe,
    split_settings,
    ultralytics_defaults,
    unknown_key_error,
    with_recipe,
)
from yolokd.data.folds import write_folds
from yolokd.lock import FolderLock
from yolokd.methods import METHODS
from yolokd.records import (
    check_kd_defaults,
    check_spec,
    has_record,
    load_record,
    record_metrics,
    run_spec,
    save_record,
)
from yolokd.stats import pool_teachers

RESERVED = {  # compare's own keys replace these per-run settings
    "model": "student=",
    "kd_method": "methods=",
    "seed": "seeds=",
    "name": "name=",
    "resume": "re-running the same command",
    "epochs": "epochs=",
}
VAL_KEYS = ("data", "imgsz", "batch", "device", "workers", "half", "conf", "iou", "max_det", "single_cls")


def parse_methods(methods: str | list[str]) -> list[tuple[str, dict[str, Any]]]:
    """``none,cwd,cwd_attn:shared,cwd_attn@kd_weight=10@kd_tau=1`` → [(label, kd settings)].

    A label is ``METHOD[:MODE][@key=value]...``: ``cwd_attn:MODE`` picks ``kd_attn_mode`` and each
    ``@key=value`` sets a yolokd setting for that row only (a sweep); ``native@dis=3`` sets Ultralytics'
    distillation weight ``dis`` (default 6) of a native row. The plain student (``none``) is always included:
    it is the baseline every difference is taken against.
    """
    items = [m.strip() for m in (methods.split(",") if isinstance(methods, str) else methods) if m.strip()]
    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        head, *overrides = item.split("@")
        if head.lower() in NONE_WORDS:  # methods=None, methods=null,cwd: the plain student
            head, item = "none", "@".join(["none", *overrides])
        method, _, mode = head.partition(":")
        if method not in METHODS:
            raise SettingsError(f"methods: '{method}' is not a method; choose from {', '.join(METHODS)}")
        kd: dict[str, Any] = {"kd_method": method}
        if mode:
            if not METHODS[method].attention or mode not in CHOICES["kd_attn_mode"]:
                raise SettingsError(
                    f"methods: '{item}' is not valid; a variant is cwd_attn:MODE with MODE one of "
                    f"{', '.join(CHOICES['kd_attn_mode'])}"
                )
            kd["kd_attn_mode"] = mode
        if overrides and method == "none":
            raise SettingsError(f"methods: '{item}': the plain student 'none' takes no settings")
        for ov in overrides:
            key, sep, value = ov.partition("=")
            if not sep or not key or not value:
                raise SettingsError(f"methods: '{item}': '@{ov}' is not of the form @key=value, e.g. @kd_weight=10")
            if key in OPTIONS:
                kd[key] = _option(item, method, key, value)
                continue
            if key not in KD_DEFAULTS or key in ("kd_method", "teacher"):
                err = unknown_key_error(key, set(KD_DEFAULTS) - {"kd_method", "teacher"} | set(METHODS[method].options))
                raise SettingsError(f"methods: '{item}': {err}")
            kd[key] = value
        try:
            typed = check_kd_settings({k: v for k, v in kd.items() if k not in OPTIONS}, require_teacher=False)
        except SettingsError as e:
            raise SettingsError(f"methods: '{item}': {e}") from None
        kd = {k: typed.get(k, v) for k, v in kd.items()}
        same = [label for label, other in out if _trains(other) == _trains(kd)]
        if same:
            raise SettingsError(f"methods: '{item}' is listed twice (as '{same[0]}', with the same settings)")
        if run_stem(item) in (run_stem(label) for label, _ in out):
            raise SettingsError(f"methods: '{item}' and another label give the same run folder name; rename one")
        out.append((item, kd))
    if "none" not in (label for label, _ in out):
        out.insert(0, ("none", {"kd_method": "none"}))
    return out


OPTIONS = {k for m in METHODS.values() for k in m.options}  # Ultralytics settings a row may set (@dis=)


def _option(item: str, method: str, key: str, value: str) -> float:
    """``@dis=`` of a methods label: Ultralytics' distillation weight, for a row of a method taking it (native)."""
    if key not in METHODS[method].options:
        takes = ", ".join(m.name for m in METHODS.values() if key in m.options)
        raise SettingsError(
            f"methods: '{item}': @{key}= is the weight of Ultralytics' own distillation; only {takes} takes it"
        )
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not (number > 0 and math.isfinite(number)):
        default = f"Ultralytics' default is {ultralytics_defaults()[key]:g}"
        raise SettingsError(f"methods: '{item}': @{key}={value} must be a number > 0 ({default})")
    return number


def _trains(kd: dict[str, Any]) -> dict[str, Any]:
    """A row's settings with its method's Ultralytics options at their defaults: ``native@dis=6`` trains what
    ``native`` does."""
    return {**{k: ultralytics_defaults()[k] for k in METHODS[kd["kd_method"]].options}, **kd}


def run_stem(label: str) -> str:
    """A file-system-safe run folder stem for a label: ``cwd_attn:score@kd_cls=1`` → ``cwd_attn-score+kd_cls1``."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", label.replace("@", "+").replace("=", ""))


def check_own_args(train_args: dict[str, Any], recipe: str) -> None:
    """Refuse per-run keys that compare sets itself (``seed=`` → ``seeds=``) and an unknown recipe."""
    for key, use in RESERVED.items():
        if key in train_args:
            raise SettingsError(f"compare sets '{key}' per run; use {use} instead")
    check_recipe(recipe)


def check_folds(folds: Any, train_teacher: bool) -> None:
    """``folds`` is absent or a count of at least 2, and comes with a teacher trained per fold."""
    if folds is None:
        return
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise SettingsError(f"folds={folds!r} must be a whole number of at least 2 (e.g. folds=3), or left out")
    if not train_teacher:
        raise SettingsError(
            f"folds={folds} validates on every image in turn, and a ready-trained teacher has trained on some of "
            "them, so it would know the answers on those folds. Pass teacher_epochs=N with teacher= a model .yaml "
            "or a .pt pretrained on other data (e.g. yolov8s-fall.pt from `yolokd data pretrained`): compare then "
            "trains one teacher per fold on that fold's training images only"
        )


def run_order(seeds: list[int], n_folds: int) -> list[tuple[int, int]]:
    """The (seed, fold index) pairs in the order their runs train: fold by fold (with folds= compare trains a
    teacher per fold, as costly as a few students, and a fresh machine trains it again: a session that stops
    part-way has paid only for the folds it reached); without folds, seed by seed."""
    return [(seed, k) for k in range(n_folds) for seed in seeds]


def parse_only_folds(only: Any, folds: int | None) -> list[int] | None:
    """``only_folds=0`` or ``0,2``: the folds of ``folds=k`` to run now (each in 0..k-1), or None for all."""
    if only is None:
        return None
    if folds is None:
        raise SettingsError(f"only_folds={only} picks among the folds of folds=k; pass folds= too (e.g. folds=3)")
    try:
        values = [int(f) for f in (str(only).split(",") if isinstance(only, (int, str)) else only)]
    except (TypeError, ValueError):
        raise SettingsError(f"only_folds={only!r} must be fold numbers, e.g. only_folds=0 or only_folds=0,2") from None
    if not values or len(set(values)) != len(values) or not all(0 <= f < folds for f in values):
        raise SettingsError(f"only_folds={only!r} must give distinct folds among 0..{folds - 1} (folds={folds})")
    return sorted(values)


def parse_seeds(seeds: int | str | list[int]) -> list[int]:
    """``3`` → [0, 1, 2]; ``0,5,7`` → [0, 5, 7]."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise SettingsError(f"seeds={seeds} is a count; seeds=1 runs seed 0 alone, seeds=0,4 runs seeds 0 and 4")
        values = list(range(seeds))
    else:
        try:
            values = [int(s) for s in (seeds.split(",") if isinstance(seeds, str) else seeds)]
        except (TypeError, ValueError):
            raise SettingsError(f"seeds={seeds!r} must be a count (seeds=3) or a list (seeds=0,1,2)") from None
    if not values or len(set(values)) != len(values) or min(values) < 0:
        raise SettingsError(f"seeds={seeds!r} must give at least one distinct non-negative seed")
    return values


def _finished(last: Path) -> bool:
    """True when ``last.pt`` is a finished run's (Ultralytics strips it and sets epoch to -1)."""
    import torch

    return torch.load(last, map_location="cpu", weights_only=False).get("epoch") == -1


def train_run(
    run_dir: Path, overrides: dict[str, Any], log, label: str | None = None, inputs: dict[str, Any] | None = None
) -> str:
    """Train (or resume, or reuse) the Ultralytics run ``run_dir`` with ``overrides``; return what was done.

    ``yolokd_run.json`` records the settings, the method ``label`` and the fingerprints of the ``inputs``
    (:mod:`yolokd.fingerprint`: dataset, teacher, starting weights) the run was made with; a run whose
    settings or inputs differ from this call's is refused, not reused."""
    from yolokd.integration.api import distill

    spec_file, last = run_dir / "yolokd_run.json", run_dir / "weights" / "last.pt"
    spec = run_spec(overrides, label, inputs)
    if spec_file.is_file():
        fix = "pass a new name= or delete that folder (to keep the old runs, restore the old files)"
        check_spec(run_dir, json.loads(spec_file.read_text()), spec, fix, log)
    check_kd_defaults(run_dir, overrides)
    if last.is_file() and _finished(last):
        return "reused"
    if last.is_file():
        log(f"resuming {last}")
        distill(student=str(last), resume=True)
        return "resumed"
    run_dir.mkdir(parents=True, exist_ok=True)
    spec_file.write_text(json.dumps(spec, indent=2) + "\n")
    distill(student=overrides["model"], **{k: v for k, v in overrides.items() if k != "model"})
    return "trained"


def evaluate(weights: Path, val_args: dict[str, Any]) -> dict[str, Any]:
    """Validate ``weights`` with Ultralytics' validator; identical arguments for every model of a comparison.

    The validator makes a folder even with plots off and writes nothing into it: a temporary one.
    """
    import tempfile

    from ultralytics import YOLO

    with tempfile.TemporaryDirectory(prefix="yolokd-val-") as tmp:
        m = YOLO(str(weights)).val(
            **val_args, split="val", plots=False, verbose=False, project=tmp, name="val", exist_ok=True
        )
    return {
        "map50": float(m.box.map50),
        "map50_95": float(m.box.map),
        "precision": float(m.box.mp),
        "recall": float(m.box.mr),
        "val_boxes": int(m.nt_per_class.sum()),
    }


def last_attention(run_dir: Path) -> dict[str, float]:
    """The attention statistics (``attn/*`` columns) of the last results.csv row that has them (a ``kd_stop``
    epoch trains without distillation and logs NaN)."""
    import csv

    path = run_dir / "results.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        # a row longer or shorter than the header (written by yolokd < 0.2.0 with val=False) keeps its named cells
        rows = [
            {k.strip(): v.strip() for k, v in r.items() if k is not None and v is not None} for r in csv.DictReader(f)
        ]
    for row in reversed(rows):
        stats = {k: float(v) for k, v in row.items() if k.startswith("attn/")}
        if stats and all(v == v for v in stats.values()):
            return stats
    return {}


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
    """
    recipe = "default" if recipe is None else recipe  # recipe=none on the command line
    check_own_args(train_args, recipe)
    method_list, seed_list = parse_methods(methods), parse_seeds(seeds)
    common = with_recipe({**train_args, "recipe": recipe})
    common.pop("kd_method", None)  # a recipe's; methods= chooses (check_own_args refuses it in train_args)
    kd_common = {k: v for k, v in common.items() if k in KD_DEFAULTS}
    resolved = check_kd_settings(kd_common, require_teacher=False)
    split_settings({**common, "data": data, "epochs": epochs, "kd_method": "none"})  # fail before any training
    train_teacher = teacher_epochs is not None
    check_folds(folds, train_teacher)
    only = parse_only_folds(only_folds, folds)
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
        plan["cwd_attn_mode"] = resolved["kd_attn_mode"]
        plan["records"] = str(Path(records).resolve()) if records else None
        base = {"data": str(Path(data).resolve()), "project": str(out), "exist_ok": True, **common}
        return _run(out, base, plan, teacher, teacher_epochs, method_list, seed_list, examples, examples_conf)


def _log(msg: str) -> None:
    print(f"yolokd compare: {msg}", flush=True)


def _scores(m: dict[str, Any]) -> str:
    return f"mAP50 {m['map50']:.4f}  mAP50-95 {m['map50_95']:.4f}"


def _metrics(run_dir: Path, how: str, val_args: dict[str, Any], imgsz: int) -> dict[str, Any]:
    """A finished run's metrics.json, validated (and written) now unless a reused run already has one."""
    metrics_file, best = run_dir / "metrics.json", run_dir / "weights" / "best.pt"
    if how == "reused" and metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
    else:
        metrics = evaluate(best, val_args)
        metrics.update(last_attention(run_dir))
    if "params_m" not in metrics:  # (a run validated by yolokd < 0.3 lacks them)
        metrics["params_m"], metrics["gflops"] = report.model_size(str(best), imgsz)
    metrics_file.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


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
    data_fp: dict[str, dict[str, Any]]  # the fingerprint of each of those, by path
    env: dict[str, Any]  # the code and command this comparison starts with (report.environment)

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
        t_dir, _, _, recipe = self.spec(k)
        rec = c.records / t_dir.name
        if (t_dir / "weights" / "best.pt").is_file() or not has_record(rec):
            return None
        t = record_metrics(rec)
        if t.get("fingerprint", {}).get("recipe") != recipe:
            return None
        _log(f"teacher{c.where(k)} (recorded in {rec}): {_scores(t)}")
        return {**t, "how": "recorded", "weights": str(rec / "weights" / "best.pt")}

    def _validated(self, k: int) -> dict[str, Any]:
        """The k-th fold's teacher, trained (resumed, reused) here or given, validated on its fold; recorded in
        records= when it was trained here."""
        c = self.c
        if c.teacher_epochs is None:
            how, weights, recipe, t_dir = "given", Path(c.teacher).resolve(), None, None
        else:
            t_dir, t_over, t_inputs, recipe = self.spec(k)
            _log(f"teacher{c.where(k)} {c.teacher} ({c.teacher_epochs} epochs) in {t_dir}")
            how = train_run(t_dir, t_over, _log, inputs=t_inputs)
            weights = t_dir / "weights" / "best.pt"
        metrics = evaluate(weights, c.val_args(k))
        _log(f"teacher{c.where(k)} ({how}): {_scores(metrics)}")
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
    """The run of method ``label`` on seed ``seed`` and the k-th fold (see plan_runs)."""
    fold, data = c.fold_ids[k], c.fold_data[k]
    name = f"{run_stem(label)}-s{seed}" + ("" if fold is None else f"-f{fold}")
    over = {**c.base, **kd, "data": str(data), "model": c.options["student"], "epochs": c.options["epochs"]}
    over.update(seed=seed, name=name)
    inputs = {"data": c.data_fp[str(data)], **student_fp}
    rec = c.records / name if c.records else None
    recorded = has_record(rec) and not (c.out / name / "metrics.json").is_file()
    if kd["kd_method"] != "none":
        over["teacher"], inputs["teacher"] = teachers.planned(k)
    metrics = load_record(rec, over, label, inputs, c.env) if recorded else None
    what = f"{label} seed {seed}" + ("" if fold is None else f" fold {fold}")
    return Run(seed, k, fold, data, label, kd, name, over, inputs, rec, metrics, what)


def train_runs(c: Comparison, teachers: Teachers, plan: list[Run], labels: list[str]) -> list[dict[str, Any]]:
    """Each run of the plan in order: from its record, or trained (resumed, reused) here. The tables are written
    again after each run, so a comparison's progress is on disk. Returns the runs' report records."""
    runs: list[dict[str, Any]] = []
    for i, run in enumerate(plan, 1):
        _log(f"[{i}/{len(plan)}] {run.what} in {c.out / run.name}")
        if run.metrics is not None:
            how, run_dir, metrics = "recorded", run.record, run.metrics
        else:
            how, run_dir, metrics = _train(c, teachers, run)
        _log(f"[{i}/{len(plan)}] {run.what} ({how}): {_scores(metrics)}")
        done = {"label": run.label, "seed": run.seed, "fold": run.fold, "data": str(run.data), "run_dir": str(run_dir)}
        runs.append({**done, "weights": str(run_dir / "weights" / "best.pt"), "how": how, **metrics})
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
    how = train_run(run_dir, run.overrides, _log, run.label, inputs)
    metrics = _metrics(run_dir, how, c.val_args(run.k), c.imgsz)
    if t is not None and "teacher_map50" not in metrics:  # which training of the teacher
        metrics.update(teacher_map50=t["map50"], teacher_tensors=t["fingerprint"].get("tensors_sha256"))
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if run.record is not None and not has_record(run.record):
        save_record(run_dir, c.records, run_spec(run.overrides, run.label, inputs), c.env)
    return how, run_dir, metrics


def _run(out, base, options, teacher, teacher_epochs, method_list, seed_list, examples, examples_conf) -> Path:
    """compare() once its arguments are checked and its folder is held: teachers, students, report."""
    env = report.environment(seed_list)  # the code and command this comparison starts with
    folds = options["folds"]
    fold_data = write_folds(base["data"], folds, out / "folds") if folds else [Path(base["data"])]
    fold_ids: list[int | None] = list(range(folds)) if folds else [None]
    data_fp = {str(d): fingerprint.dataset(d) for d in fold_data}
    c = Comparison(out, base, options, str(teacher), teacher_epochs, fold_ids, fold_data, data_fp, env)
    teachers = Teachers(c)
    labels = [m for m, _ in method_list]
    runs = train_runs(c, teachers, plan_runs(c, teachers, method_list, seed_list), labels)
    files = report.write_all(out, teachers.pooled(), runs, labels, c.settings, env, c.imgsz, examples, examples_conf)
    _print_report(out, files)
    return out


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
