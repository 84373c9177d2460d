"""Shared fixtures: an isolated offline Ultralytics config, a tiny generated dataset, trained tiny teachers."""

from __future__ import annotations

import os
import tempfile

os.environ["YOLO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="yolokd-test-config-")  # before Ultralytics is imported
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_AUTOINSTALL"] = "0"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from yolokd.data.synthetic import make_dataset  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` run where a GPU is (``benchmarks/gpu.sh``); elsewhere they are skipped, named."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (benchmarks/gpu.sh runs these with -m cuda)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


# nbs=batch: one optimizer step per batch. Ultralytics 8.4.170 accumulates nbs/batch = 16 batches before a step and,
# unlike 8.4.190, does not cap that at a run's length: a 2-batch run there would never step, and train nothing.
TINY = dict(epochs=1, imgsz=64, batch=4, nbs=4, workers=0, device="cpu", plots=False, exist_ok=True, seed=0)


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> Path:
    """A session-wide folder for run directories (absolute, as Ultralytics resolves relative ones elsewhere)."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def data(tmp_path_factory) -> Path:
    """data.yaml of 8 train / 4 val generated 64 px images with two classes."""
    return make_dataset(tmp_path_factory.mktemp("data"), n_train=8, n_val=4, imgsz=64, seed=0)


@pytest.fixture(scope="session")
def trees_wheel(tmp_path_factory) -> Path:
    """A stand-in for the deepforest 2.1.0 wheel: its four image/XML member names, small random images."""
    import zipfile

    import numpy as np
    from PIL import Image

    from yolokd.data.trees import SOURCES

    tmp = tmp_path_factory.mktemp("wheel")
    wheel = tmp / "deepforest-2.1.0-py3-none-any.whl"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(wheel, "w") as z:
        for i, stem in enumerate(SOURCES):
            Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(tmp / "im.png")
            z.write(tmp / "im.png", f"deepforest/data/{stem}.png")
            name = ["Tree", "Alive", "Dead", "Tree"][i]
            box = "<xmin>5</xmin><ymin>5</ymin><xmax>30</xmax><ymax>30</ymax>"
            z.writestr(
                f"deepforest/data/{stem}.xml",
                f"<annotation><filename>{stem}.tif</filename><object><name>{name}</name><bndbox>{box}</bndbox>"
                "</object></annotation>",
            )
    return wheel


def run_cli(*argv: str) -> tuple[int, str]:
    """``yolokd ARGV`` in this process: its exit code and everything it printed or logged.

    A subprocess would pay the torch import again (seconds on 2 cores) for the same code; the console script
    itself is run as a process by the tests that need one (test_cli.py, crash and purity tests)."""
    import io
    import logging
    import sys
    from contextlib import redirect_stderr, redirect_stdout

    import ultralytics.utils  # noqa: F401  (its logger's handler exists before it is redirected)

    from yolokd.cli import main

    out, argv0 = io.StringIO(), sys.argv
    ours = [h for h in logging.getLogger("ultralytics").handlers if h.get_name() == "ultralytics.utils.set_logging"]
    for h in ours:  # bound to an earlier test's captured stdout (capsys), since closed: setStream would flush it
        if getattr(h.stream, "closed", False):
            h.stream = sys.__stdout__
    streams = [h.setStream(out) for h in ours]  # Ultralytics' own handler; pytest's log capture stays as it is
    try:
        sys.argv = ["yolokd", *argv]  # as the report records it
        with redirect_stdout(out), redirect_stderr(out):
            code = main(list(argv))
    finally:
        sys.argv = argv0
        for h, stream in zip(ours, streams):
            h.setStream(stream)
    if code == 130:  # main() turns Ctrl-C into exit code 130: stop the suite, as pytest would
        raise KeyboardInterrupt
    assert ours, "Ultralytics' log handler was not found: its output would not be captured"
    return code, out.getvalue()


PURITY = """
import sys
sys.modules["yolokd"] = None  # importing yolokd (e.g. from a pickled class) now fails
from ultralytics import YOLO
for path in sys.argv[1:]:
    m = YOLO(path)
    assert not [k for k, v in sys.modules.items() if k.startswith("yolokd") and v is not None]
    assert not [n for n, _ in m.model.named_modules() if "teacher" in n or "distill" in n]
    print("PARAMS", sum(p.numel() for p in m.model.parameters()), m.task)
"""


def plain_checkpoints(*checkpoints: Path) -> list[tuple[int, str]]:
    """Each checkpoint loaded by YOLO() in one fresh process that cannot import yolokd: its parameter count, task."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", PURITY, *map(str, checkpoints)], capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    found = [line.split()[1:] for line in r.stdout.splitlines() if line.startswith("PARAMS ")]
    assert len(found) == len(checkpoints), r.stdout[-3000:]
    return [(int(n), task) for n, task in found]


def plain_parameter_counts(*checkpoints: Path) -> list[int]:
    """Each checkpoint loaded by YOLO() in one fresh process that cannot import yolokd: its parameter count."""
    return [n for n, _ in plain_checkpoints(*checkpoints)]


def _train_teacher(cfg: str, data: Path, runs: Path, name: str) -> Path:
    from yolokd import distill

    distill(cfg, data=str(data), method="none", project=str(runs), name=name, **TINY)
    return runs / name / "weights" / "best.pt"


@pytest.fixture(scope="session")
def teacher(data, runs) -> Path:
    """A YOLOv8s teacher checkpoint (widths 128/256/512, so the v8n student needs adapters)."""
    return _train_teacher("yolov8s.yaml", data, runs, "teacher-v8s")


@pytest.fixture(scope="session")
def teacher_yolo11(data, runs) -> Path:
    """A YOLO11s teacher checkpoint, for a cross-family pair with a YOLOv8n student."""
    return _train_teacher("yolo11s.yaml", data, runs, "teacher-yolo11s")


# task: (teacher, student, the task's own metric column in results.csv, the CLI's words for it)
TASKS = {
    "segment": ("yolov8s-seg.yaml", "yolov8n-seg.yaml", "metrics/mAP50(M)", "mask mAP50"),
    "pose": ("yolov8s-pose.yaml", "yolo11n-pose.yaml", "metrics/mAP50(P)", "pose mAP50"),  # a cross-family pair
    "obb": ("yolov8s-obb.yaml", "yolov8n-obb.yaml", "metrics/mAP50(B)", "yolokd: mAP50"),
}


@pytest.fixture(scope="session")
def task_data(tmp_path_factory):
    """data.yaml of each task's generated set (8 train / 4 val 64 px images), made once when first asked for."""
    made: dict[str, Path] = {}

    def get(task: str) -> Path:
        if task not in made:
            made[task] = make_dataset(tmp_path_factory.mktemp(task), n_train=8, n_val=4, imgsz=64, task=task)
        return made[task]

    return get


@pytest.fixture(scope="session")
def task_teacher(task_data, runs):
    """Each task's 1-epoch YOLOv8s teacher, trained by ``distill(method="none")`` (the task's own trainer), once per
    session (test_tasks.py and test_compare_tasks.py share them)."""
    made: dict[str, Path] = {}

    def get(task: str) -> Path:
        if task not in made:
            made[task] = _train_teacher(TASKS[task][0], task_data(task), runs, f"teacher-{task}")
        return made[task]

    return get


def check_final_metrics(metrics, run: Path, data: Path) -> None:
    """``metrics``, what training returned, is Ultralytics' validation of the run's best.pt over every val label:
    its validator gives the same numbers again, and they counted each class's boxes and images in the val labels.
    (A tiny model's mAP is often 0, so the counts are what can fail; a ``map50 >= 0`` could not.)"""
    import numpy as np
    import yaml
    from ultralytics import YOLO

    again = YOLO(str(run / "weights" / "best.pt")).val(data=str(data), imgsz=64, batch=8, device="cpu", plots=False,
                                                       verbose=False, project=str(run.parent), name=f"{run.name}-val",
                                                       exist_ok=True)  # fmt: skip
    assert metrics.results_dict == pytest.approx(again.results_dict, abs=1e-6)
    folder = Path(yaml.safe_load(Path(data).read_text())["path"]) / "labels" / "val"
    labels = [[int(row.split()[0]) for row in f.read_text().splitlines() if row.strip()] for f in folder.glob("*.txt")]
    nc = len(metrics.names)
    assert sum(map(len, labels)) > 0
    assert metrics.nt_per_class.tolist() == np.bincount(sum(labels, []), minlength=nc).tolist()  # boxes per class
    per_image = [c for image in labels for c in set(image)]
    assert metrics.nt_per_image.tolist() == np.bincount(per_image, minlength=nc).tolist()  # images per class
