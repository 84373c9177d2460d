"""CWD loss: hand-computed values and the properties that define it."""

from __future__ import annotations

import math

import pytest
import torch

from yolokd.losses import ChannelWiseDivergence


def test_hand_computed_tau_1():
    # teacher logits [0, ln 3] -> p_T = [1/4, 3/4]; student [0, 0] -> p_S = [1/2, 1/2]
    t = torch.tensor([0.0, math.log(3)]).view(1, 1, 1, 2)
    s = torch.zeros(1, 1, 1, 2)
    expected = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)  # 0.130812
    assert ChannelWiseDivergence(tau=1.0)(s, t).item() == pytest.approx(expected, abs=1e-6)


def test_hand_computed_tau_half_mean_over_channels():
    # tau = 0.5 doubles the logits: p_T = [0.1, 0.9]; channel 2 is identical (KL 0); result * tau^2 / (N*C)
    t = torch.tensor([[0.0, math.log(3)], [1.0, 2.0]]).view(1, 2, 1, 2)
    s = torch.tensor([[0.0, 0.0], [1.0, 2.0]]).view(1, 2, 1, 2)
    kl = 0.1 * math.log(0.1 / 0.5) + 0.9 * math.log(0.9 / 0.5)  # 0.368064
    assert ChannelWiseDivergence(tau=0.5)(s, t).item() == pytest.approx(kl * 0.25 / 2, abs=1e-6)


def test_sqrt_hw_form_divides_by_sqrt_of_positions():
    # paper eq. 1 as printed: logits / sqrt(H*W) = / 2 for 1x4 maps; tau^2 still scales the result
    t = torch.tensor([0.0, 2 * math.log(3), 0.0, 0.0]).view(1, 1, 1, 4)
    s = torch.zeros(1, 1, 1, 4)
    p_t = torch.tensor([1.0, 3.0, 1.0, 1.0]) / 6
    kl = float((p_t * (p_t / 0.25).log()).sum())
    got = ChannelWiseDivergence(tau=0.5, softmax="sqrt_hw")(s, t).item()
    assert got == pytest.approx(kl * 0.25, abs=1e-6)


def test_zero_when_equal_and_nonnegative():
    torch.manual_seed(0)
    loss = ChannelWiseDivergence(tau=0.5)
    x = torch.randn(2, 8, 5, 7)
    assert loss(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)
    for _ in range(20):
        assert loss(torch.randn(2, 8, 5, 7) * 3, torch.randn(2, 8, 5, 7) * 3).item() >= 0.0


def test_tau_squared_scaling():
    # at the same softmax input (logits scaled by tau), the loss scales exactly with tau^2
    torch.manual_seed(1)
    s, t = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    base = ChannelWiseDivergence(tau=1.0)(s, t)
    for tau in (0.5, 2.0, 4.0):
        assert ChannelWiseDivergence(tau=tau)(s * tau, t * tau).item() == pytest.approx(tau**2 * base.item(), rel=1e-5)


def test_gradient_reaches_student_never_teacher():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    ChannelWiseDivergence(tau=0.5)(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_float32_for_half_precision_inputs():
    # fp16 features of large magnitude: logits / 0.5 would overflow fp16, the loss must stay finite float32
    s = (torch.randn(1, 4, 8, 8).clamp(-3, 3) * 2e4).half()  # up to 6e4, near the fp16 max
    t = (torch.randn(1, 4, 8, 8).clamp(-3, 3) * 2e4).half()
    out = ChannelWiseDivergence(tau=0.5)(s, t)
    assert out.dtype == torch.float32 and torch.isfinite(out)


@pytest.mark.parametrize("kwargs", [{"tau": 0.0}, {"tau": -1.0}, {"softmax": "sqrt"}])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ChannelWiseDivergence(**kwargs)


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shapes"):
        ChannelWiseDivergence()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))


def test_finite_for_bfloat16_inputs_of_large_magnitude():
    s = (torch.randn(1, 4, 8, 8) * 1e30).bfloat16()  # bf16 holds ~3e38; logits / tau would overflow in bf16
    t = (torch.randn(1, 4, 8, 8) * 1e30).bfloat16()
    assert torch.isfinite(ChannelWiseDivergence(tau=0.5)(s, t))
