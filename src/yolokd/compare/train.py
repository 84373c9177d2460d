"""Training and scoring one run of a comparison: trained (resumed, reused) here, validated the same way as every
other model of the comparison, its metrics written beside it.

:func:`train_run` trains one Ultralytics run folder through :func:`yolokd.distill` and refuses a folder made with
other settings or inputs; :func:`evaluate` validates any weights with the comparison's one set of validator
arguments. The plan these work through is :mod:`yolokd.compare.plan`'s.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from yolokd import report
from yolokd.records import check_kd_defaults, check_spec, run_spec
from yolokd.stats import metrics_of


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


def _finished(last: Path) -> bool:
    """True when ``last.pt`` is a finished run's (Ultralytics strips it and sets epoch to -1)."""
    import torch

    return torch.load(last, map_location="cpu", weights_only=False).get("epoch") == -1


def scored_as(scored: dict[str, str]) -> str:
    """``last.pt on val``: how a comparison scores the runs it trains (args.scoring), as metrics.json says it."""
    return f"{scored['weights']} on {scored['split']}"


def was_scored(metrics: dict[str, Any], overrides: dict[str, Any]) -> str:
    """How saved metrics were scored. Before compare said so, it scored best.pt on val, which with ``val=False``
    (no validation before the last epoch, so best.pt is written every epoch) is the last epoch's weights."""
    return metrics.get("scored") or ("last.pt on val" if overrides.get("val") is False else "best.pt on val")


def run_metrics(
    run_dir: Path, how: str, val_args: dict[str, Any], imgsz: int, scored: dict[str, str], overrides: dict[str, Any]
) -> dict[str, Any]:
    """A finished run's metrics.json, validated (and written) now unless a reused run has one scored the same way."""
    metrics_file, best = run_dir / "metrics.json", run_dir / "weights" / "best.pt"
    old = json.loads(metrics_file.read_text()) if how == "reused" and metrics_file.is_file() else None
    if old is not None and was_scored(old, overrides) == scored_as(scored):
        metrics = old
    else:
        metrics = evaluate(run_dir / "weights" / scored["weights"], val_args, scored["split"])
        metrics.update(last_attention(run_dir), scored=scored_as(scored))
    if "params_m" not in metrics:  # (a run validated by yolokd < 0.3 lacks them)
        metrics["params_m"], metrics["gflops"] = report.model_size(str(best), imgsz)
    metrics_file.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def evaluate(weights: Path, val_args: dict[str, Any], split: str = "val") -> dict[str, Any]:
    """Validate ``weights`` on ``split`` with Ultralytics' validator; identical arguments for every model of a
    comparison.

    The boxes' metrics keep their names for every task (an obb model's boxes are rotated); a segment or pose
    model adds its own (``mask_map50``, ``pose_map50`` ..., :data:`yolokd.stats.TASK_METRICS`) and its ``task``.
    The validator makes a folder even with plots off and writes nothing into it: a temporary one.
    """
    import tempfile

    from ultralytics import YOLO

    model = YOLO(str(weights))
    with tempfile.TemporaryDirectory(prefix="yolokd-val-") as tmp:
        m = model.val(**val_args, split=split, plots=False, verbose=False, project=tmp, name="val", exist_ok=True)
    out = {
        "map50": float(m.box.map50),
        "map50_95": float(m.box.map),
        "precision": float(m.box.mp),
        "recall": float(m.box.mr),
        "val_boxes": int(m.nt_per_class.sum()),
    }
    own = {"segment": "seg", "pose": "pose"}.get(model.task)  # SegmentMetrics.seg, PoseMetrics.pose
    if own:
        (key, _), (key_95, _) = metrics_of(model.task)[:2]
        out.update({key: float(getattr(m, own).map50), key_95: float(getattr(m, own).map)})
    return out if model.task == "detect" else {"task": model.task, **out}


def results_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's results.csv, keys and cells stripped (none where the file is missing); a row longer or
    shorter than the header (written by yolokd < 0.2.0 with val=False) keeps its named cells."""
    import csv

    path = run_dir / "results.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [
            {k.strip(): v.strip() for k, v in r.items() if k is not None and v is not None} for r in csv.DictReader(f)
        ]


def last_attention(run_dir: Path) -> dict[str, float]:
    """The attention statistics (``attn/*`` columns) of the last results.csv row that has them (a ``kd_stop``
    epoch trains without distillation and logs NaN)."""
    for row in reversed(results_rows(run_dir)):
        stats = {k: float(v) for k, v in row.items() if k.startswith("attn/")}
        if stats and all(v == v for v in stats.values()):
            return stats
    return {}


def epoch_seconds(run_dir: Path) -> float | None:
    """The median seconds per epoch of a run (training, and validation where it ran), from results.csv's ``time``:
    Ultralytics writes the wall-clock seconds since the session's start, which restart when a run is resumed. The
    median, so that an epoch stretched by a pause (a stopped process, a suspended machine) or by the first epoch's
    set-up does not count."""
    times = [float(t) for r in results_rows(run_dir) if (t := r.get("time"))]
    if not times:
        return None
    spans = [t - before if t > before else t for before, t in zip([0.0, *times], times)]  # a drop: resumed
    return statistics.median(spans)


def log(msg: str) -> None:
    print(f"yolokd compare: {msg}", flush=True)


def scores(m: dict[str, Any]) -> str:
    """``mAP50 0.4120  mAP50-95 0.2031``: a model's metrics for a log line (a segment model's masks, then boxes)."""
    return "  ".join(f"{name} {m[k]:.4f}" for k, name in metrics_of(m.get("task", "detect")) if k in m)
