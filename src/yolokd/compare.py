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
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

from yolokd import fingerprint
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
        if method not in CHOICES["kd_method"]:
            raise SettingsError(f"methods: '{method}' is not a method; choose from {', '.join(CHOICES['kd_method'])}")
        kd: dict[str, Any] = {"kd_method": method}
        if mode:
            if method != "cwd_attn" or mode not in CHOICES["kd_attn_mode"]:
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
            if key == "dis":
                kd[key] = _native_weight(item, method, value)
                continue
            if key not in KD_DEFAULTS or key in ("kd_method", "teacher"):
                native = {"dis"} if method == "native" else set()
                err = unknown_key_error(key, set(KD_DEFAULTS) - {"kd_method", "teacher"} | native)
                raise SettingsError(f"methods: '{item}': {err}")
            kd[key] = value
        try:
            typed = check_kd_settings({k: v for k, v in kd.items() if k != "dis"}, require_teacher=False)
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


def _native_weight(item: str, method: str, value: str) -> float:
    """``@dis=`` of a methods label: Ultralytics' distillation weight, for a native row only."""
    if method != "native":
        raise SettingsError(
            f"methods: '{item}': @dis= is the weight of Ultralytics' own distillation; only native takes it"
        )
    try:
        dis = float(value)
    except ValueError:
        dis = -1.0
    if not (dis > 0 and math.isfinite(dis)):
        raise SettingsError(f"methods: '{item}': @dis={value} must be a number > 0 (Ultralytics' default is 6)")
    return dis


def _trains(kd: dict[str, Any]) -> dict[str, Any]:
    """A row's settings with native's default weight filled in: ``native@dis=6`` trains what ``native`` does."""
    return {"dis": ultralytics_defaults()["dis"], **kd} if kd["kd_method"] == "native" else kd


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
    from yolokd.trainer import distill

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
    from yolokd.report import model_size

    metrics_file, best = run_dir / "metrics.json", run_dir / "weights" / "best.pt"
    if how == "reused" and metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
    else:
        metrics = evaluate(best, val_args)
        metrics.update(last_attention(run_dir))
    if "params_m" not in metrics:  # (a run validated by yolokd < 0.3 lacks them)
        metrics["params_m"], metrics["gflops"] = model_size(str(best), imgsz)
    metrics_file.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _run(out, base, plan, teacher, teacher_epochs, method_list, seed_list, examples, examples_conf) -> Path:
    """compare() once its arguments are checked and its folder is held: teachers, students, report."""
    from yolokd import report

    env = report.environment(seed_list)  # the code and command this comparison starts with
    folds = plan["folds"]
    val_args = {k: base[k] for k in VAL_KEYS if k in base}
    imgsz = int(base.get("imgsz", 640))
    fold_data = write_folds(base["data"], folds, out / "folds") if folds else [Path(base["data"])]
    fold_ids: list[int | None] = list(range(folds)) if folds else [None]
    data_fp = {str(d): fingerprint.dataset(d) for d in fold_data}
    student_fp = {"model": fingerprint.weights(plan["student"])} if Path(plan["student"]).is_file() else {}
    start_fp = {"model": fingerprint.weights(teacher)} if teacher_epochs is not None and Path(teacher).is_file() else {}

    # Teachers: one per fold, or the one given; each obtained when a run first needs it. A teacher trained here
    # has seed 0 whatever the students' seeds, so a later comparison on fresh seeds in the same folder reuses it.
    # With records=, a fold whose distilled runs are all recorded needs no weights: its teacher's record (of the
    # same recipe) is enough for the report, and a fresh machine does not train it.
    teachers: dict[int, dict[str, Any]] = {}
    records = Path(plan["records"]) if plan["records"] else None

    def teacher_run(k: int) -> tuple[Path, dict[str, Any], dict[str, Any], str]:
        """The k-th fold's teacher run folder, its settings, its inputs and its recipe fingerprint."""
        t_dir = out / ("teacher" if fold_ids[k] is None else f"teacher-f{fold_ids[k]}")
        t_over = {key: v for key, v in base.items() if key not in KD_DEFAULTS}
        t_over.update(model=str(teacher), data=str(fold_data[k]), kd_method="none", epochs=teacher_epochs, seed=0)
        t_over["name"] = t_dir.name
        t_inputs = {"data": data_fp[str(fold_data[k])], **start_fp}
        recipe = hashlib.sha256(json.dumps(run_spec(t_over, None, t_inputs), sort_keys=True).encode()).hexdigest()
        return t_dir, t_over, t_inputs, recipe

    def get_teacher(k: int, weights: bool) -> dict[str, Any]:
        """The k-th fold's teacher (metrics, fingerprint, weights); trained (or reused) here if ``weights``."""
        if k in teachers and (teachers[k]["how"] != "recorded" or not weights):
            return teachers[k]
        fold, fdata = fold_ids[k], fold_data[k]
        where = "" if fold is None else f" fold {fold}"
        if teacher_epochs is None:
            how, teacher_pt, recipe, t_dir = "given", Path(teacher).resolve(), None, None
        else:
            t_dir, t_over, t_inputs, recipe = teacher_run(k)
            rec = records / t_dir.name if records else None
            if not weights and not (t_dir / "weights" / "best.pt").is_file() and has_record(rec):
                t = record_metrics(rec)
                if t.get("fingerprint", {}).get("recipe") == recipe:
                    teachers[k] = {**t, "how": "recorded", "weights": str(rec / "weights" / "best.pt")}
                    _log(f"teacher{where} (recorded in {rec}): {_scores(t)}")
                    return teachers[k]
            _log(f"teacher{where} {teacher} ({teacher_epochs} epochs) in {t_dir}")
            how = train_run(t_dir, t_over, _log, inputs=t_inputs)
            teacher_pt = t_dir / "weights" / "best.pt"
        t_metrics = evaluate(teacher_pt, {**val_args, "data": str(fdata)})
        _log(f"teacher{where} ({how}): {_scores(t_metrics)}")
        t = {"fold": fold, "weights": str(teacher_pt), "data": str(fdata), "how": how, **t_metrics}
        t["params_m"], t["gflops"] = report.model_size(str(teacher_pt), imgsz)
        t["fingerprint"] = fingerprint.weights(teacher_pt) | ({"recipe": recipe} if recipe else {})
        rec = records / t_dir.name if records and t_dir is not None else None
        if rec is not None and not (  # the latest training of this fold's teacher, for a report elsewhere
            has_record(rec) and record_metrics(rec)["fingerprint"] == t["fingerprint"]
        ):
            (t_dir / "metrics.json").write_text(json.dumps(t, indent=2) + "\n")
            save_record(t_dir, records, run_spec(t_over, None, t_inputs), env)
        teachers[k] = t
        return t

    # The plan: every (seed, fold, method) run with its settings and inputs. Records are checked before
    # anything trains.
    plan_runs = []
    for seed, k in run_order(seed_list, len(fold_ids)):
        fold, fdata = fold_ids[k], fold_data[k]
        if plan["only_folds"] is not None and fold not in plan["only_folds"]:
            continue
        for label, kd in method_list:
            name = f"{run_stem(label)}-s{seed}" + ("" if fold is None else f"-f{fold}")
            over = {**base, **kd, "data": str(fdata), "model": plan["student"], "epochs": plan["epochs"]}
            over.update(seed=seed, name=name)
            inputs = {"data": data_fp[str(fdata)], **student_fp}
            rec = records / name if records else None
            recorded = has_record(rec) and not (out / name / "metrics.json").is_file()
            if kd["kd_method"] != "none":
                if teacher_epochs is None:
                    over["teacher"] = str(Path(teacher).resolve())
                    inputs["teacher"] = get_teacher(k, weights=False)["fingerprint"]
                else:  # known by its recipe until a run trains from its weights
                    t_dir, _, _, recipe = teacher_run(k)
                    over["teacher"] = str(t_dir / "weights" / "best.pt")
                    inputs["teacher"] = {"file": over["teacher"], "recipe": recipe}
            metrics = load_record(rec, over, label, inputs, env) if recorded else None
            what = f"{label} seed {seed}" + ("" if fold is None else f" fold {fold}")
            plan_runs.append((seed, k, fold, fdata, label, kd, name, over, inputs, rec, metrics, what))

    runs: list[dict[str, Any]] = []
    labels = [m for m, _ in method_list]
    settings = {**plan, **base}
    total = len(plan_runs)
    for i, (seed, k, fold, fdata, label, kd, name, over, inputs, rec, metrics, what) in enumerate(plan_runs, 1):
        distilled = kd["kd_method"] != "none"
        _log(f"[{i}/{total}] {what} in {out / name}")
        if metrics is not None:
            how, run_dir = "recorded", rec
        else:
            if distilled:
                t = get_teacher(k, weights=True)
                inputs["teacher"] = t["fingerprint"]
            how, run_dir = train_run(out / name, over, _log, label, inputs), out / name
            metrics = _metrics(run_dir, how, {**val_args, "data": str(fdata)}, imgsz)
            if distilled and "teacher_map50" not in metrics:  # which training of the teacher
                metrics.update(teacher_map50=t["map50"], teacher_tensors=t["fingerprint"].get("tensors_sha256"))
                (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
            if rec is not None and not has_record(rec):
                save_record(run_dir, records, run_spec(over, label, inputs), env)
        _log(f"[{i}/{total}] {what} ({how}): {_scores(metrics)}")
        run = {"label": label, "seed": seed, "fold": fold, "data": str(fdata), "run_dir": str(run_dir)}
        runs.append({**run, "weights": str(run_dir / "weights" / "best.pt"), "how": how, **metrics})
        get_teacher(k, weights=False)
        teacher_rec = pool_teachers(str(teacher), [teachers[j] for j in sorted(teachers)])
        report.write_tables(out, teacher_rec, runs, labels, settings, env)

    files = report.write_all(out, teacher_rec, runs, labels, settings, env, imgsz, examples, examples_conf)
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
    return out
