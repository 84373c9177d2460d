"""``yolokd demo`` (``make demo``): a CPU-sized ``yolokd compare`` on real aerial tree data.

Prepares the tree-crown dataset (``yolokd data trees``), trains a YOLOv8s teacher briefly, then one
YOLOv8n student each for the plain student, yolokd's default (``cwd``, the decisive benchmark's confirmed
configuration) and Ultralytics' own distillation, under the same recipe and seed, and prints the table.
About 15 minutes on 2 CPU cores. One seed and short training: it shows the workflow and its outputs, not
which method is better (see benchmarks/results/ for that).
"""

from __future__ import annotations

from pathlib import Path

DEMO = dict(
    teacher="yolov8s.yaml",
    teacher_epochs=30,
    student="yolov8n.yaml",
    methods="none,cwd,native",  # cwd: the default kd_method, at the default settings
    seeds=1,
    epochs=20,
    imgsz=320,
    batch=8,
    nbs=8,  # one optimizer step per batch: 38 training tiles make 5 batches per epoch
    device="cpu",
    examples=4,
)


def run_demo(out: str = "runs/yolokd-demo", wheel: str | None = None, **overrides) -> Path:
    """Run the demo under ``out`` (a re-run reuses finished runs); return the comparison folder.

    ``wheel`` is a local deepforest-2.1.0 wheel (default: downloaded with pip once, then cached).
    """
    from yolokd.cfg import SettingsError

    if own := [k for k in ("data", "project", "name") if k in overrides]:
        raise SettingsError(
            f"yolokd demo sets {', '.join(k + '=' for k in own)} itself (the tree data, folders under out=); "
            "pass out=DIR for another folder, or run yolokd compare data=... for your own data"
        )
    from yolokd.compare import compare
    from yolokd.data.trees import make_trees

    out_dir = Path(out).resolve()
    data = make_trees(out_dir / "trees", wheel=wheel)
    return compare(data=str(data), project=str(out_dir), name="compare", **{**DEMO, **overrides})
