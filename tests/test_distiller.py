"""The distiller (adapters + attention + CWD per level) and the feature recorder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from yolokd.cfg import check_kd_settings
from yolokd.connectors import ATTENTION_MODES
from yolokd.distiller import Outputs, build_distiller
from yolokd.losses.cwd import ChannelWiseDivergence
from yolokd.losses.feature import FeatureCWD
from yolokd.recorder import FeatureRecorder, probe_features

S_CH, T_CH = (8, 16, 32), (16, 32, 32)
SIZES = ((16, 16), (8, 8), (4, 4))


def feats(channels, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, c, h, w, generator=g) for c, (h, w) in zip(channels, SIZES)]


def outputs(channels, seed, nc=2, reg_max=4):
    """Outputs with features and anchor-flattened head outputs over the three SIZES levels."""
    g = torch.Generator().manual_seed(seed)
    a = sum(h * w for h, w in SIZES)
    return Outputs(
        [f.requires_grad_(True) for f in feats(channels, seed)],
        torch.randn(2, nc, a, generator=g).requires_grad_(True),
        torch.randn(2, 4 * reg_max, a, generator=g).requires_grad_(True),
    )


def settings(**kd):
    return check_kd_settings(kd, require_teacher=False)


@pytest.mark.parametrize("mode", ATTENTION_MODES)
def test_feature_term_sums_levels_and_sends_gradient_only_to_the_student(mode):
    d = FeatureCWD(S_CH, T_CH, tau=0.5, attention=mode)
    student, teacher = outputs(S_CH, 0), outputs(T_CH, 1)
    loss = d(student, teacher)
    if mode == "none":  # the term is the sum of the per-level CWD of the adapted student
        cwd = ChannelWiseDivergence(0.5)
        expected = sum(cwd(a(s), t) for a, s, t in zip(d.adapters, student.feats, teacher.feats))
        assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student.feats)
    assert all(t.grad is None for t in teacher.feats) and teacher.scores.grad is None  # never the teacher
    assert all(p.grad is not None for p in d.parameters())


def test_distiller_weights_terms_scales_them_and_sums_them():
    kd = settings(kd_method="cwd_attn", kd_attn_mode="score", kd_weight=2.0, kd_cls=0.5, kd_box=3.0)
    d = build_distiller(kd, S_CH, T_CH, reg_max=4)
    assert list(d.terms) == ["kd_cwd", "kd_cls", "kd_box"] and d.needs_head
    student, teacher = outputs(S_CH, 0), outputs(T_CH, 1)
    raw = {name: term(student, teacher).item() for name, term in d.terms.items()}
    d.set_epoch(9, 10, "cosine")  # the last distilling epoch of a cosine schedule: 0.1 of the weights
    parts = d(student, teacher)
    for name, w in (("kd_cwd", 2.0), ("kd_cls", 0.5), ("kd_box", 3.0)):
        assert parts[name].item() == pytest.approx(0.1 * w * raw[name], rel=1e-5)
    assert parts["kd_loss"].item() == pytest.approx(sum(parts[n].item() for n in d.terms), rel=1e-6)
    stats = d.pop_stats()  # the effective weights of the epoch, and the score mask's statistics
    assert {k: stats[k] for k in ("kd/w_cwd", "kd/w_cls", "kd/w_box")} == pytest.approx(
        {"kd/w_cwd": 0.2, "kd/w_cls": 0.05, "kd/w_box": 0.3}
    )
    assert 1 < stats["attn/l0_mask"] < 2 and 0 < stats["attn/l0_entropy"] <= 1


@pytest.mark.parametrize(
    ("kd", "terms"),
    [
        ({"kd_method": "cwd"}, ["kd_cwd"]),
        ({"kd_method": "cwd_attn", "kd_box": 1.0}, ["kd_cwd", "kd_box"]),
        ({"kd_method": "response", "kd_cls": 1.0}, ["kd_cls"]),
        ({"kd_method": "none", "kd_cls": 1.0}, []),  # none stays the plain student whatever else is set
    ],
)
def test_builder_maps_settings_to_terms(kd, terms):
    d = build_distiller(settings(**kd), S_CH, T_CH)
    assert list(d.terms) == terms
    assert d.needs_head == any(t in terms for t in ("kd_cls", "kd_box"))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.head = nn.Conv2d(4, 1, 1)
        self.head_calls = 0
        self.head.register_forward_hook(lambda *_: setattr(self, "head_calls", self.head_calls + 1))

    def forward(self, x):
        return self.head(self.stem(x))


def test_teacher_runner_runs_the_head_branches_only_when_asked():
    from ultralytics.nn.tasks import DetectionModel

    from yolokd.integration.models import TeacherRunner, prepare_teacher, student_outputs

    torch.manual_seed(0)
    model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    x = torch.rand(2, 3, 64, 64)
    teacher = prepare_teacher(DetectionModel("yolov8n.yaml", nc=3, verbose=False))
    teacher.load_state_dict(prepare_teacher(model).state_dict())  # the same fused weights
    expected = student_outputs(teacher.train()(x))  # Ultralytics' own training-mode head outputs
    teacher.eval()
    calls = []
    teacher.model[-1].register_forward_hook(lambda *_: calls.append(1))
    plain = TeacherRunner(teacher, need_head=False)(x)
    assert plain.scores is None and plain.boxes is None and not calls  # stops before the head
    full = TeacherRunner(teacher, need_head=True)(x)
    assert full.scores.shape == (2, 3, 8 * 8 + 4 * 4 + 2 * 2) and full.boxes.shape == (2, 64, 84)
    assert torch.allclose(full.scores, expected.scores, atol=1e-5) and torch.allclose(
        full.boxes, expected.boxes, atol=1e-5
    )
    assert all(torch.equal(a, b) for a, b in zip(full.feats, plain.feats)) and not calls


def test_recorder_returns_head_inputs_and_skips_head():
    model = Tiny()
    rec = FeatureRecorder(model, model.head)
    x = torch.randn(1, 3, 8, 8)
    (out,) = rec(x)
    assert torch.equal(out, model.stem(x))
    assert model.head_calls == 0  # the forward pass stopped before the head
    model(x)  # outside the recorder's own call the model runs whole
    assert model.head_calls == 1
    other = FeatureRecorder(model, model.head)  # a second recorder on the same module works too
    assert torch.equal(other(x)[0], out) and torch.equal(rec(x)[0], out)
    rec.remove()
    other.remove()
    model(x)
    assert model.head_calls == 2


def test_probe_restores_training_mode():
    model = Tiny().train()
    shapes = probe_features(model, model.head, imgsz=16)
    assert shapes == [torch.Size([1, 4, 8, 8])]
    assert model.training


def test_pure_torch_parts_never_import_ultralytics():
    import subprocess
    import sys

    code = (
        "import sys, yolokd, yolokd.losses, yolokd.attention, yolokd.distiller, yolokd.recorder, yolokd.criterion\n"
        "import yolokd.losses.box, yolokd.losses.score, yolokd.connectors.norm, yolokd.losses.schedule\n"
        "assert not [m for m in sys.modules if m.startswith('ultralytics')], 'ultralytics was imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_loss_path_never_syncs_host_and_device():
    """No .item() / .cpu() / Python number conversions per step in the code every training batch runs."""
    import inspect
    import re

    from yolokd.attention import mask_entropy, score_spatial_mask
    from yolokd.connectors import attention, norm
    from yolokd.criterion import KDCriterion, _GradGate
    from yolokd.distiller import Distiller
    from yolokd.integration.models import TeacherRunner, student_outputs
    from yolokd.losses import box, outputs, score

    per_step = [
        KDCriterion.__call__,
        _GradGate.forward,
        _GradGate.backward,
        Distiller.forward,
        FeatureCWD.forward,
        *(mode.forward for mode in attention.MODES.values()),
        FeatureCWD._record,
        score.ClassScoreKD.forward,
        score.bernoulli_kl,
        box.BoxDistributionKD.forward,
        box.distribution_kl,
        norm.channel_standardize,
        outputs.split_levels,
        outputs.anchor_confidence,
        score_spatial_mask,
        TeacherRunner.__call__,
        student_outputs,
        mask_entropy,
        ChannelWiseDivergence.forward,
        FeatureRecorder.__call__,
    ]
    sync = re.compile(r"\.item\(|\.cpu\(|\.tolist\(|\.numpy\(|(?<![.\w])(float|int|bool)\(")
    for fn in per_step:
        src = inspect.getsource(fn)
        assert not sync.search(src), f"{fn.__qualname__} syncs: {sync.search(src).group(0)}"
