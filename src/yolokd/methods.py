"""The registry of distillation methods: which terms each builds, which settings each term reads, and whether
it needs the teacher's head outputs. Validation (:mod:`yolokd.cfg`), the distiller's builder, the trainer, the
records' relevant keys and ``yolokd compare`` all read these two tables; nothing else lists methods or terms.

    method     terms                      run by
    none       -                          -            (the plain student)
    cwd        kd_cwd, [kd_cls], [kd_box] yolokd
    cwd_attn   kd_cwd, [kd_cls], [kd_box] yolokd       kd_cwd with attention before CWD (the paper)
    response   [kd_cls], [kd_box]         yolokd       at least one of them
    native     -                          Ultralytics  its own ``distill_model=`` distillation
    pseudo     -                          yolokd       the teacher's detections on ``unlabeled=`` as labels

A bracketed term is built only when its weight is > 0. Adding a term is its module under ``losses/`` and one
``Term`` here (its settings documented in ``cfg/default.yaml``); adding a method is one ``Method`` here.

Torch-free: a term's builder imports its module when it is called, so settings are checked without torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Levels:
    """What the trainer probed for the builders: channels per neck level and the DFL bins of the heads."""

    student: Sequence[int]
    teacher: Sequence[int]
    reg_max: int = 16


@dataclass(frozen=True)
class Term:
    """A loss term of the distiller.

    Attributes:
        name: its key in the distiller and its loss column (``kd_cwd``).
        what: what it distils, in words.
        weight: the setting holding its weight.
        reads: the further settings it reads.
        build: ``build(kd, levels) -> nn.Module``, the term for validated settings ``kd``.
        optional: built only when its weight is > 0; otherwise always built by the methods that list it.
        needs_head: ``needs_head(kd) -> bool``, whether it uses the teacher's class scores or boxes.
    """

    name: str
    what: str
    weight: str
    reads: tuple[str, ...]
    build: Callable[[Mapping[str, Any], Levels], Any]
    optional: bool = False
    needs_head: Callable[[Mapping[str, Any]], bool] = field(default=lambda kd: False)


@dataclass(frozen=True)
class Method:
    """A ``kd_method``: the terms it may build, its own settings, and who runs it. ``options``: Ultralytics
    settings a compare row of this method may set (``native@dis=3``), refused elsewhere."""

    name: str
    terms: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    by: str = "yolokd"  # "yolokd": the distiller; "ultralytics": Ultralytics' own; "pseudo": pseudo-labels; "": none
    attention: bool = False  # kd_cwd applies kd_attn_mode's attention before CWD


def _feature_cwd(kd: Mapping[str, Any], levels: Levels) -> Any:
    from yolokd.losses.feature import FeatureCWD

    return FeatureCWD(
        levels.student,
        levels.teacher,
        tau=kd["kd_tau"],
        softmax=kd["kd_softmax"],
        attention=attention_mode(kd),
        norm=kd["kd_norm"],
        spatial_kernel=kd["kd_spatial_kernel"],
        channel_reduction=kd["kd_channel_reduction"],
        score_tau=kd["kd_score_tau"],
    )


def _class_scores(kd: Mapping[str, Any], levels: Levels) -> Any:
    from yolokd.losses.score import ClassScoreKD

    return ClassScoreKD()


def _box_distributions(kd: Mapping[str, Any], levels: Levels) -> Any:
    from yolokd.losses.box import BoxDistributionKD

    return BoxDistributionKD(levels.reg_max, kd["kd_box_tau"])


def _always(kd: Mapping[str, Any]) -> bool:
    return True


def attention_mode(kd: Mapping[str, Any]) -> str:
    """The attention ``kd_cwd`` applies: ``kd_attn_mode`` for a method with attention, else ``none``."""
    return kd["kd_attn_mode"] if METHODS[kd["kd_method"]].attention else "none"


TERMS: dict[str, Term] = {
    t.name: t
    for t in (
        Term(
            "kd_cwd",
            "neck features",
            "kd_weight",
            ("kd_tau", "kd_softmax", "kd_norm"),
            _feature_cwd,
            needs_head=lambda kd: attention_mode(kd) == "score",
        ),
        Term("kd_cls", "class scores", "kd_cls", (), _class_scores, optional=True, needs_head=_always),
        Term("kd_box", "boxes", "kd_box", ("kd_box_tau",), _box_distributions, optional=True, needs_head=_always),
    )
}
ATTENTION = ("kd_attn_mode", "kd_spatial_kernel", "kd_channel_reduction", "kd_score_tau")
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("none", by=""),
        Method("cwd", ("kd_cwd", "kd_cls", "kd_box")),
        Method("cwd_attn", ("kd_cwd", "kd_cls", "kd_box"), ATTENTION, attention=True),
        Method("response", ("kd_cls", "kd_box")),
        Method("native", options=("dis",), by="ultralytics"),
        Method("pseudo", reads=("pseudo_conf",), by="pseudo"),
    )
}
SCHEDULE = ("kd_schedule", "kd_stop")  # read by every method yolokd runs: the weights over epochs
COMMON = ("teacher", "kd_method", "kd_allow_class_mismatch")  # read before any term: which teacher, which method
RUNTIME = ("kd_precision",)  # read by every method yolokd runs: how the teacher and the distiller compute
UNLABELED = ("unlabeled", "unlabeled_ratio", "kd_unlabeled")  # read by every method yolokd distils: unlabeled images


def registered_keys() -> set[str]:
    """Every setting some method, term or the schedule reads: what ``cfg/default.yaml`` must document."""
    keys = {*COMMON, *SCHEDULE, *RUNTIME, *UNLABELED, *(k for m in METHODS.values() for k in m.reads)}
    return keys | {k for t in TERMS.values() for k in (t.weight, *t.reads)}


def terms_of(kd: Mapping[str, Any]) -> list[Term]:
    """The terms the distiller builds for validated settings ``kd`` (an optional one only when weighted)."""
    return [TERMS[n] for n in METHODS[kd["kd_method"]].terms if not TERMS[n].optional or kd[TERMS[n].weight] > 0]


def distils(method: str) -> bool:
    """True for the methods yolokd's distiller runs (the trainer builds teacher runner and distiller)."""
    return METHODS[method].by == "yolokd"


def uses_unlabeled(method: str) -> bool:
    """True for the methods that read ``unlabeled=``: those yolokd distils and ``pseudo``."""
    return METHODS[method].by in ("yolokd", "pseudo")


def needs_head(kd: Mapping[str, Any]) -> bool:
    """True when a term built for ``kd`` uses the teacher's class scores or boxes (so its head must run, and
    its classes must be the dataset's)."""
    return any(t.needs_head(kd) for t in terms_of(kd))


def relevant(method: str) -> tuple[str, ...]:
    """The settings that change what ``method`` trains (a run's record is refused when one differs)."""
    m = METHODS[method]
    if m.by == "pseudo":
        return ("unlabeled", *m.reads)
    if not distils(method):
        return ()
    keys = [*m.reads, *(k for n in m.terms for k in (TERMS[n].weight, *TERMS[n].reads)), *SCHEDULE, *RUNTIME]
    keys += UNLABELED
    return tuple(dict.fromkeys(keys))
