"""End-to-end teachers (YOLO26, YOLOv10): the terms that read the teacher's head get its one-to-many branches, also
from a checkpoint saved inferring with its one-to-one branches (as training with ``nms=False`` saves it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY

from yolokd import distill
from yolokd.cfg import KD_DEFAULTS, SettingsError
from yolokd.integration.models import TeacherRunner, check_teacher, load_teacher


def end_to_end_teacher(cfg: str, data: Path, path: Path, fused: bool = False):
    """An untrained ``cfg`` model with the dataset's classes, selecting its one-to-one head, saved to ``path``."""
    from ultralytics.nn.tasks import DetectionModel

    names = yaml.safe_load(data.read_text())["names"]
    model = DetectionModel(cfg, nc=len(names), verbose=False)
    model.names = names
    model.end2end = True  # what Ultralytics' validator sets during training with nms=False, and saves
    if fused:
        model.fuse(verbose=False)  # fusion of such a model drops its one-to-many branches
    torch.save({"model": model, "train_args": {}}, path)
    return model.eval()


@pytest.mark.parametrize("cfg", ["yolo26n.yaml", "yolov10n.yaml"])
def test_an_end_to_end_teacher_gives_its_one_to_many_outputs(cfg, data, tmp_path):
    model = end_to_end_teacher(cfg, data, tmp_path / "t.pt")
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        want = model(x)[1]["one2many"]  # the unfused model's dense branch
        got = TeacherRunner(load_teacher(tmp_path / "t.pt", torch.device("cpu")), need_head=True)(x)
    assert torch.allclose(got.scores, want["scores"], atol=1e-4)
    assert torch.allclose(got.boxes, want["boxes"], atol=1e-4)
    assert all(torch.allclose(g, w, atol=1e-4) for g, w in zip(got.feats, want["feats"]))


def test_an_end_to_end_teacher_distils_class_scores_and_score_masks(data, runs, tmp_path):
    end_to_end_teacher("yolo26n.yaml", data, tmp_path / "yolo26.pt")
    distill("yolov8n.yaml", teacher=tmp_path / "yolo26.pt", data=data, method="cwd_attn", kd_attn_mode="score",
            kd_cls=1.0, project=str(runs), name="e2e-teacher", **TINY)  # fmt: skip
    row = (runs / "e2e-teacher" / "results.csv").read_text().splitlines()
    cells = dict(zip((k.strip() for k in row[0].split(",")), (v.strip() for v in row[-1].split(","))))
    assert float(cells["train/kd_cls"]) > 0 and float(cells["train/kd_cwd"]) > 0
    assert 1 <= float(cells["attn/l0_mask"]) < 2  # 1 + the teacher's class probability


def test_a_teacher_fused_for_end_to_end_inference_is_refused_where_a_term_needs_its_head(data, tmp_path):
    end_to_end_teacher("yolo26n.yaml", data, tmp_path / "fused.pt", fused=True)
    teacher = load_teacher(tmp_path / "fused.pt", torch.device("cpu"))
    names = list(teacher.names.values())
    kd = {**KD_DEFAULTS, "teacher": str(tmp_path / "fused.pt"), "kd_method": "cwd"}
    check_teacher(teacher, kd, names, 3)  # features only: its neck is all kd_cwd reads
    with pytest.raises(SettingsError, match="saved fused for end-to-end inference.*use its training checkpoint"):
        check_teacher(teacher, {**kd, "kd_cls": 1.0}, names, 3)
