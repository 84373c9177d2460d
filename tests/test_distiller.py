"""The distiller (adapters + attention + CWD per level) and the feature recorder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from yolokd.distiller import ATTENTION_MODES, FeatureDistiller
from yolokd.recorder import FeatureRecorder, probe_features

S_CH, T_CH = (8, 16, 32), (16, 32, 32)
SIZES = ((16, 16), (8, 8), (4, 4))


def feats(channels, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, c, h, w, generator=g) for c, (h, w) in zip(channels, SIZES)]


@pytest.mark.parametrize("mode", ATTENTION_MODES)
def test_named_parts_and_gradients(mode):
    d = FeatureDistiller(S_CH, T_CH, tau=0.5, weight=2.0, attention=mode)
    student = [f.requires_grad_(True) for f in feats(S_CH, 0)]
    teacher = [f.requires_grad_(True) for f in feats(T_CH, 1)]
    parts = d(student, teacher)
    assert set(parts) == {"kd_l0", "kd_l1", "kd_l2", "kd_loss"}
    assert parts["kd_loss"].item() == pytest.approx(2.0 * sum(parts[f"kd_l{i}"].item() for i in range(3)), rel=1e-6)
    parts["kd_loss"].backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)
    assert all(t.grad is None for t in teacher)  # the teacher never receives gradient
    learnable = [p for p in d.parameters()]
    assert all(p.grad is not None for p in learnable)


def test_adapters_only_where_widths_differ():
    d = FeatureDistiller(S_CH, T_CH)
    assert isinstance(d.adapters[0], nn.Conv2d) and d.adapters[0].kernel_size == (1, 1)
    assert isinstance(d.adapters[2], nn.Identity)  # 32 -> 32


def test_attention_modes_own_the_expected_parameters():
    count = {
        m: sum(p.numel() for p in FeatureDistiller(S_CH, T_CH, attention=m).attention.parameters())
        for m in ATTENTION_MODES
    }
    assert count["none"] == count["teacher"] == 0
    assert count["shared"] == count["student"] > 0


def test_rejects_level_mismatch_and_unknown_mode():
    with pytest.raises(ValueError, match="feature levels"):
        FeatureDistiller((8, 16), (16, 32, 64))
    with pytest.raises(ValueError, match="attention"):
        FeatureDistiller(S_CH, T_CH, attention="both")


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.head = nn.Conv2d(4, 1, 1)
        self.head_calls = 0
        self.head.register_forward_hook(lambda *_: setattr(self, "head_calls", self.head_calls + 1))

    def forward(self, x):
        return self.head(self.stem(x))


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
        "import sys, yolokd, yolokd.losses, yolokd.attention, yolokd.distiller, yolokd.recorder\n"
        "assert not [m for m in sys.modules if m.startswith('ultralytics')], 'ultralytics was imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_loss_path_never_syncs_host_and_device():
    """No .item() / .cpu() / Python number conversions per step in the code every training batch runs."""
    import inspect
    import re

    from yolokd.attention import mask_entropy
    from yolokd.losses.cwd import ChannelWiseDivergence
    from yolokd.trainer import KDCriterion, _GradGate

    per_step = [
        KDCriterion.__call__,
        _GradGate.forward,
        _GradGate.backward,
        FeatureDistiller.forward,
        FeatureDistiller.attend,
        FeatureDistiller._record,
        mask_entropy,
        ChannelWiseDivergence.forward,
        FeatureRecorder.__call__,
    ]
    sync = re.compile(r"\.item\(|\.cpu\(|\.tolist\(|\.numpy\(|(?<![.\w])(float|int|bool)\(")
    for fn in per_step:
        src = inspect.getsource(fn)
        assert not sync.search(src), f"{fn.__qualname__} syncs: {sync.search(src).group(0)}"
