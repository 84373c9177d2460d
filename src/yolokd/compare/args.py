"""The arguments of ``yolokd compare``, parsed and checked before anything heavy is imported.

Pure Python over the settings (:mod:`yolokd.cfg`) and the registry of methods (:mod:`yolokd.methods`): the CLI
runs these checks first, so a mistyped ``methods=`` or ``seeds=`` is answered before torch or Ultralytics loads.
``methods=`` becomes (label, kd settings) rows, ``seeds=`` and ``only_folds=`` lists, ``labelled=`` a fraction, a
label its run folder's stem; :func:`run_order` fixes the order the runs train in.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from yolokd.cfg import (
    CHOICES,
    KD_DEFAULTS,
    NONE_WORDS,
    SettingsError,
    check_kd_settings,
    check_recipe,
    ultralytics_defaults,
    unknown_key_error,
)
from yolokd.methods import METHODS, relevant, uses_unlabeled

RESERVED = {  # compare's own keys replace these per-run settings
    "model": "student=",
    "kd_method": "methods=",
    "seed": "seeds=",
    "name": "name=",
    "resume": "re-running the same command",
    "epochs": "epochs=",
}
OPTIONS = {k for m in METHODS.values() for k in m.options}  # Ultralytics settings a row may set (@dis=)
POOL_KEYS = ("unlabeled_ratio", "kd_unlabeled", "pseudo_conf")  # how a row uses the comparison's unlabeled images


def parse_methods(
    methods: str | list[str], labelled: float = 1.0, unlabeled: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``none,cwd,cwd_attn:shared,cwd_attn@kd_weight=10@kd_tau=1`` → [(label, kd settings)].

    A label is ``METHOD[:MODE][@key=value]...``: ``cwd_attn:MODE`` picks ``kd_attn_mode`` and each
    ``@key=value`` sets a yolokd setting for that row only (a sweep); ``native@dis=3`` sets Ultralytics'
    distillation weight ``dis`` (default 6) of a native row. The plain student (``none``) is always included:
    it is the baseline every difference is taken against.

    With unlabeled images (``unlabeled=``, or ``labelled`` < 1: the comparison's ``labelled=``), a row that learns
    from them may set ``@unlabeled_ratio=``, ``@kd_unlabeled=`` or ``@pseudo_conf=``; with ``labelled`` < 1,
    ``@labelled=1`` trains a row on all of the training labels (``none@labelled=1``: the ceiling), kept as
    ``"labelled": 1.0`` in its settings.
    """
    pool = labelled < 1 or unlabeled is not None
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
        if [ov for ov in overrides if not ov.startswith("labelled=")] and method == "none":
            raise SettingsError(f"methods: '{item}': the plain student 'none' takes no settings but @labelled=1")
        for ov in overrides:
            key, sep, value = ov.partition("=")
            if not sep or not key or not value:
                raise SettingsError(f"methods: '{item}': '@{ov}' is not of the form @key=value, e.g. @kd_weight=10")
            if key in ("labelled", "unlabeled", *POOL_KEYS):
                kd[key] = _pool_option(item, method, key, value, labelled, pool)
                continue
            if key in OPTIONS:
                kd[key] = _option(item, method, key, value)
                continue
            if key not in KD_DEFAULTS or key in ("kd_method", "teacher"):
                err = unknown_key_error(key, set(KD_DEFAULTS) - {"kd_method", "teacher"} | set(METHODS[method].options))
                raise SettingsError(f"methods: '{item}': {err}")
            kd[key] = value
        if "labelled" in kd and (used := [k for k in POOL_KEYS if k in kd]):
            raise SettingsError(f"methods: '{item}' trains on all labels: it has no unlabeled images for @{used[0]}=")
        check = {k: v for k, v in kd.items() if k not in OPTIONS and k != "labelled"}
        if uses_unlabeled(method) and pool and "labelled" not in kd:
            check["unlabeled"] = "."  # a stand-in for the pool compare gives this row (checked where it is made)
        elif METHODS[method].by == "pseudo":
            why = "trains on all labels" if "labelled" in kd else "has no unlabeled images"
            raise SettingsError(
                f"methods: '{item}' labels unlabeled images, and this row {why}: pass unlabeled=DIR, or "
                "labelled=FRACTION < 1 to keep part of the training images unlabeled"
            )
        try:
            typed = check_kd_settings(check, require_teacher=False)
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


def _pool_option(item: str, method: str, key: str, value: str, labelled: float, pool: bool) -> Any:
    """A row's ``@labelled=1`` (all of the training labels), or how it uses the comparison's unlabeled images
    (``@unlabeled_ratio=``, ``@kd_unlabeled=``, ``@pseudo_conf=``; checked with the row's other settings)."""
    if key == "unlabeled":
        raise SettingsError(
            f"methods: '{item}': the unlabeled images are the comparison's: pass unlabeled=DIR to compare (every "
            "row that learns from them gets it), or labelled=FRACTION"
        )
    if key == "labelled":
        try:
            whole = float(value) == 1
        except ValueError:
            whole = False
        if not whole:
            raise SettingsError(
                f"methods: '{item}': a row's @labelled= can only be 1 (all of the training labels, e.g. "
                "none@labelled=1: the ceiling); the comparison's labelled=FRACTION sets the others' share"
            )
        if labelled >= 1:
            raise SettingsError(
                f"methods: '{item}' trains on all labels, as every row does without labelled=; pass "
                "labelled=FRACTION < 1 (e.g. labelled=0.25) to compare it with rows on a part of them"
            )
        return 1.0
    if key not in relevant(method):
        users = ", ".join(m for m in METHODS if key in relevant(m))
        raise SettingsError(f"methods: '{item}': {method} does not read {key} (it is read by {users})")
    if not pool:
        raise SettingsError(
            f"methods: '{item}': @{key}= says how unlabeled images are used, and this comparison has none: pass "
            "unlabeled=DIR, or labelled=FRACTION < 1 to keep part of the training images unlabeled"
        )
    return value


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


def parse_labelled(labelled: Any, unlabeled: Any = None) -> float:
    """``labelled=0.25``: the share of the training images that keep their labels (:mod:`yolokd.data.scarce`); 1,
    the default, labels all. The rest are the comparison's unlabeled pool, so an own ``unlabeled=`` is refused."""
    if labelled is None or (isinstance(labelled, str) and labelled.strip().lower() in NONE_WORDS):
        return 1.0
    try:
        value = float(labelled) if not isinstance(labelled, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value <= 1:
        raise SettingsError(
            f"labelled={labelled} must be a fraction in (0, 1]: the share of the training images that keep their "
            "labels (e.g. labelled=0.25; 1, the default, labels all)"
        )
    if value < 1 and unlabeled is not None:
        raise SettingsError(
            f"labelled={value:g} makes the other training images the unlabeled pool; leave unlabeled= out, or pass "
            "labelled=1 to add your own unlabeled= images"
        )
    return value


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


SCORES = ("auto", "last", "best")


def scoring(score: Any, data: str | Path, folds: int | None) -> dict[str, str]:
    """Which weights of a run trained here are scored, and on which split (``score=``, default ``auto``).

    Ultralytics' ``best.pt`` is the epoch of highest fitness on the validation images; scored on those same
    images it is biased upward (the maximum of a noisy curve), by more for noisier methods. So ``auto`` scores
    the last epoch's weights (``last.pt``) on the validation images, which picked nothing, or ``best.pt`` on a
    held-out ``test:`` split where data.yaml has one (without folds): then the validation images may pick the
    epoch. ``last`` and ``best`` choose the weights; ``best`` on the validation images is Ultralytics' convention.
    """
    score = "auto" if score is None or str(score).lower() in NONE_WORDS else str(score)
    if score not in SCORES:
        raise SettingsError(
            f"score={score} is not valid; choose one of: auto (the last epoch's weights, or best.pt on a held-out "
            "test: split), last, best (Ultralytics' best.pt, the epoch picked on the scored images)"
        )
    test = (
        not folds and Path(data).is_file() and bool(yaml.safe_load(Path(data).read_text(encoding="utf-8")).get("test"))
    )
    weights = "best.pt" if score == "best" or (score == "auto" and test) else "last.pt"
    return {"weights": weights, "split": "test" if test else "val"}
