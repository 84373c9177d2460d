"""A distilled student exports to ONNX through Ultralytics and matches PyTorch in ONNX Runtime."""

from __future__ import annotations

from conftest import TINY

from yolokd import distill
from yolokd.deploy import export_onnx, onnx_parity, ort_latency_ms, params_and_gflops


def test_distilled_student_onnx_matches_pytorch(data, teacher, runs):
    distill("yolov8n.yaml", teacher=teacher, data=data, method="cwd_attn", project=str(runs), name="deploy", **TINY)
    plain = runs / "deploy-plain" / "weights" / "best.pt"
    distill("yolov8n.yaml", data=data, method="none", project=str(runs), name="deploy-plain", **TINY)
    best = runs / "deploy" / "weights" / "best.pt"
    onnx = export_onnx(best, imgsz=64)
    assert onnx.is_file()
    diff = onnx_parity(best, onnx, imgsz=64)
    assert diff < 1e-3, f"ONNX Runtime differs from PyTorch by {diff}"
    assert ort_latency_ms([onnx], imgsz=64, runs=3, warmup=1)[0] > 0
    assert params_and_gflops(best, 64) == params_and_gflops(plain, 64)  # the same network as a plain student
