"""Deployment checks for a distilled student: ONNX export (through Ultralytics), ONNX Runtime parity
and latency, parameters and FLOPs. Needs the ``deploy`` extra (onnx, onnxruntime, onnxslim)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch


def export_onnx(weights: str | Path, imgsz: int) -> Path:
    """Export a checkpoint with Ultralytics' exporter (batch 1, static shape); return the .onnx path."""
    from ultralytics import YOLO

    return Path(YOLO(str(weights)).export(format="onnx", imgsz=imgsz, batch=1, device="cpu", simplify=True))


def _session(onnx_path: str | Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle sessions must not spin on cores
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def onnx_parity(weights: str | Path, onnx_path: str | Path, imgsz: int, seed: int = 0) -> float:
    """Max absolute difference between the PyTorch model's and ONNX Runtime's outputs on one random image."""
    from ultralytics import YOLO

    x = torch.from_numpy(np.random.default_rng(seed).random((1, 3, imgsz, imgsz), dtype=np.float32))
    model = YOLO(str(weights)).model.float().fuse(verbose=False).eval()
    with torch.no_grad():
        y = model(x)
    y = (y[0] if isinstance(y, (list, tuple)) else y).numpy()
    sess = _session(onnx_path)
    (out,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[:1]
    if out.shape != y.shape:
        raise ValueError(f"ONNX output shape {out.shape} differs from PyTorch's {y.shape}")
    return float(np.abs(out - y).max())


def ort_latency_ms(onnx_paths: list[str | Path], imgsz: int, runs: int = 50, warmup: int = 5) -> list[float]:
    """Median ONNX Runtime CPU latency (ms) of one image for each model, timed in interleaved rounds."""
    sessions = [_session(p) for p in onnx_paths]
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    feeds = [{s.get_inputs()[0].name: x} for s in sessions]
    times: list[list[float]] = [[] for _ in sessions]
    for i in range(warmup + runs):
        for sess, feed, ts in zip(sessions, feeds, times):
            t = time.perf_counter()
            sess.run(None, feed)
            if i >= warmup:
                ts.append(time.perf_counter() - t)
    return [statistics.median(ts) * 1000 for ts in times]


def params_and_gflops(weights: str | Path, imgsz: int) -> tuple[int, float]:
    """Parameter count and GFLOPs (ultralytics-thop, via Ultralytics) of a checkpoint's model."""
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import get_flops, get_num_params

    model = YOLO(str(weights)).model
    return get_num_params(model), get_flops(model, imgsz)
