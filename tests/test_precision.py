"""kd_precision: the teacher and distiller under autocast (bfloat16 on the CPU; float16 with a GradScaler on a GPU,
as Ultralytics' AMP), the float32 loss, a channels_last teacher, and a teacher that overflows float16.

Each test with a ``device`` runs on the CPU here and again on a GPU where one is (marked ``cuda``)."""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path

import pytest
import torch
from conftest import TINY, run_cli
from ultralytics.nn.tasks import DetectionModel, load_checkpoint

from yolokd import criterion
from yolokd.cfg import SettingsError, check_kd_settings
from yolokd.criterion import KDCriterion
from yolokd.distiller import build_distiller
from yolokd.integration.models import TeacherRunner, load_teacher, probe_levels, student_outputs

CUDA = f"cuda:{os.environ.get('YOLOKD_DEVICE', '0')}"
DEVICES = ["cpu", pytest.param(CUDA, marks=pytest.mark.cuda)]
AMP = {"cpu": torch.bfloat16, "cuda": torch.float16}  # what the student's autocast uses on each


def _zero_base(preds, batch):
    """The student's own loss left out: these tests are about the distillation path."""
    return preds["feats"][0].float().sum().reshape(1) * 0, {}  # float32, as Ultralytics' losses


def _setup(teacher_path: Path, precision: str, device: str = "cpu", **kd):
    torch.manual_seed(0)
    teacher = load_teacher(teacher_path, torch.device(device))
    student = DetectionModel("yolov8n.yaml", nc=len(teacher.names), verbose=False).to(device).train()
    settings = check_kd_settings({"kd_precision": precision, **kd}, require_teacher=False)
    levels = probe_levels(student, teacher, 0.0)
    distiller = build_distiller(settings, levels.student, levels.teacher, levels.reg_max).to(device)
    messages: list[str] = []
    runner = TeacherRunner(teacher, False)
    crit = KDCriterion(_zero_base, runner, distiller, student_outputs, messages.append, precision)
    return student, teacher, crit, messages


def _batch(device: str = "cpu", n: int = 2) -> dict:
    return {"img": torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(1)).to(device)}


def _kd(crit, student, batch, autocast: torch.dtype | None = None):
    """One criterion call with the student run under the same ambient autocast (Ultralytics' AMP)."""
    device = batch["img"].device.type
    with torch.autocast(device, dtype=autocast) if autocast else contextlib.nullcontext():
        loss, items = crit(student(batch["img"]), batch)
    return loss[-1] / batch["img"].shape[0], items


@pytest.mark.parametrize("device", DEVICES)
def test_amp_matches_fp32_and_steps(teacher, device):
    """Under the student's autocast (kd_precision=amp) the teacher follows it, the loss stays float32 and close to
    the float32 one, and an optimizer step (on a GPU through a GradScaler, as Ultralytics' fp16 AMP) trains."""
    student, _, crit, messages = _setup(teacher, "amp", device)
    batch, dtype = _batch(device), AMP[torch.device(device).type]
    ref, _ = _kd(crit, student, batch)
    assert crit.ran_in == "fp32"
    kd, items = _kd(crit, student, batch, dtype)
    assert crit.ran_in == {torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    assert kd.dtype == torch.float32 and items["kd_cwd"].dtype == torch.float32
    assert torch.isfinite(kd) and abs(float(kd) / float(ref) - 1) < 0.05, (float(kd), float(ref))
    before = [p.detach().clone() for p in student.parameters()]
    opt = torch.optim.SGD([*student.parameters(), *crit.distiller.parameters()], lr=0.01)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)  # bfloat16 has float32's range: none
    scaler.scale(kd).backward()
    scaler.step(opt)
    scaler.update()
    changed = [not torch.equal(b, p) for b, p in zip(before, student.parameters())]
    assert sum(changed) > len(changed) // 2 and all(torch.isfinite(p).all() for p in student.parameters())
    crit.update()
    assert crit.epoch_stats["kd/skipped"] == 0.0 and not messages


@pytest.mark.parametrize("device", DEVICES)
def test_fp32_setting_under_amp_casts_the_students_outputs(teacher, device):
    """kd_precision=fp32 inside the student's autocast: the distiller's float32 weights get float32 inputs."""
    student, _, crit, _ = _setup(teacher, "fp32", device)
    batch = _batch(device)
    kd, _ = _kd(crit, student, batch, AMP[torch.device(device).type])
    assert crit.ran_in == "fp32" and torch.isfinite(kd)
    kd.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_teacher_gives_the_same_outputs(teacher, device):
    model = load_teacher(teacher, torch.device(device))
    img, dtype = _batch(device)["img"], AMP[torch.device(device).type]
    with torch.no_grad(), torch.autocast(torch.device(device).type, dtype=dtype):
        plain = TeacherRunner(model, True)(img)
        last = TeacherRunner(model.to(memory_format=torch.channels_last), True)(img)
    for a, b in zip([*plain.feats, plain.scores, plain.boxes], [*last.feats, last.scores, last.boxes]):
        assert a.dtype == dtype and torch.allclose(a.float(), b.float(), rtol=0.02, atol=0.02)


def _overflowing(teacher: Path, out: Path) -> Path:
    """A copy of ``teacher`` whose neck outputs are ~1e5 everywhere: finite in float32, beyond float16's 65504."""
    model, ckpt = load_checkpoint(teacher)
    model = model.float()
    for i in model.model[-1].f:  # the layers feeding the Detect head: their last BatchNorm's shift
        bn = [m for m in model.model[i].modules() if isinstance(m, torch.nn.BatchNorm2d)][-1]
        bn.bias.data += 1e5  # SiLU(x + 1e5) = x + 1e5, whatever the trained weights give x
    torch.save({**ckpt, "model": model, "ema": None}, out)
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_a_teacher_overflowing_fp16_is_caught_and_named(teacher, tmp_path, device):
    big = _overflowing(teacher, tmp_path / "big.pt")
    for precision, bad in (("fp16", True), ("bf16", False), ("fp32", False)):
        student, _, crit, messages = _setup(big, precision, device)
        kd, _ = _kd(crit, student, _batch(device))
        assert float(kd) == 0.0 if bad else float(kd) > 0
        crit.update()
        assert crit.epoch_stats["kd/skipped"] == (1.0 if bad else 0.0)
        if bad:
            assert len(messages) == 1 and "overflow float16" in messages[0], messages
            assert "kd_precision=bf16" in messages[0] and "1 of 1 batches" in messages[0]
        else:
            assert not messages, messages


def test_overflow_reaches_results_csv_and_the_log(data, teacher, runs, tmp_path):
    big = _overflowing(teacher, tmp_path / "big.pt")
    tiny = [f"{k}={v}" for k, v in TINY.items()]
    args = [f"data={data}", f"teacher={big}", "kd_precision=fp16", f"project={runs}", "name=fp16-overflow"]
    code, out = run_cli("train", "model=yolov8n.yaml", *tiny, *args)
    assert code == 0, out[-3000:]
    with open(runs / "fp16-overflow" / "results.csv", newline="") as f:
        row = {k.strip(): v.strip() for k, v in next(csv.DictReader(f)).items()}
    assert float(row["kd/skipped"]) == 1.0 and float(row["train/kd_cwd"]) == 0.0
    assert "the teacher's outputs overflow float16" in out and "kd_precision=bf16" in out


@pytest.mark.parametrize("value", ["half", "float16"])
def test_unknown_precision_names_the_choices(value):
    with pytest.raises(SettingsError, match="amp, fp32, bf16, fp16"):
        check_kd_settings({"kd_precision": value}, require_teacher=False)


def test_warning_threshold(teacher):
    """A skipped fraction up to SKIP_WARN is only in the column; above it, one line names the cause and fix."""
    _, _, crit, messages = _setup(teacher, "amp")
    crit.batches, crit.skipped = 200, torch.tensor(int(200 * criterion.SKIP_WARN))
    crit.update()
    assert crit.epoch_stats["kd/skipped"] == criterion.SKIP_WARN and not messages
    crit.batches, crit.skipped = 200, torch.tensor(int(200 * criterion.SKIP_WARN) + 1)
    crit.update()
    assert len(messages) == 1 and "student's side overflowed" in messages[0]


def test_gradscaler_unscales_before_the_distillers_clip():
    """The distiller's gradients are clipped at Ultralytics' norm after AMP's GradScaler unscales them (the
    clip is an optimizer pre-step hook, and ``scaler.step`` unscales first), not at the scaled values."""
    from yolokd.integration.optim import MAX_GRAD_NORM, add_param_groups

    student, kd = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(4, 4))
    opt = torch.optim.SGD([{"params": [student], "param_group": "weight", "lr": 1.0}], lr=1.0)
    add_param_groups(opt, [kd])
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    loss = (kd * torch.full((4, 4), 100.0)).sum() + student.sum()  # each of kd's 16 grads is 100: norm 400
    scaler.scale(loss).backward()
    scaler.step(opt)
    assert torch.allclose(kd.grad.norm(), torch.tensor(MAX_GRAD_NORM), rtol=1e-4)  # unscaled 400 -> clipped 10
    assert torch.allclose(kd.detach(), torch.full((4, 4), -MAX_GRAD_NORM / 4))  # lr 1 x the clipped grad 2.5
