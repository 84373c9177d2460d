"""The distillation signals of issue 15, pure torch: each against a float64 formula or hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from yolokd.attention import score_spatial_mask
from yolokd.connectors.norm import channel_standardize
from yolokd.losses import BoxDistributionKD, ClassScoreKD, FeatureCWD, Outputs
from yolokd.losses.box import distribution_kl
from yolokd.losses.outputs import split_levels
from yolokd.losses.schedule import COSINE_FLOOR, kd_scale
from yolokd.losses.score import bernoulli_kl


def logits(*shape, seed=0, scale=3.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


# --- class scores --------------------------------------------------------------------------------


def test_bernoulli_kl_matches_the_definition_in_float64():
    s, t = logits(2, 3, 10, seed=0), logits(2, 3, 10, seed=1)
    p, q = torch.sigmoid(t), torch.sigmoid(s)
    expected = p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))
    assert torch.allclose(bernoulli_kl(s.float(), t.float()).double(), expected, atol=1e-5)
    assert bernoulli_kl(t.float(), t.float()).abs().max() < 1e-6  # zero when the student matches
    assert (bernoulli_kl(s.float(), t.float()) >= -1e-6).all()


def test_bernoulli_kl_has_the_gradient_of_bce_against_soft_targets():
    s, t = logits(4, 2, 6, seed=2).float().requires_grad_(True), logits(4, 2, 6, seed=3).float()
    bernoulli_kl(s, t).sum().backward()
    assert torch.allclose(s.grad, torch.sigmoid(s.detach()) - torch.sigmoid(t), atol=1e-6)  # d BCE / d logit


def test_class_term_is_the_confidence_weighted_mean_over_anchors():
    # one image, one class, two anchors: teacher logits 2 and -2 (p = 0.881, 0.119), student logits 0
    t = torch.tensor([[[2.0, -2.0]]])
    s = torch.zeros(1, 1, 2)
    p = [1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))]
    kl = [pi * math.log(pi / 0.5) + (1 - pi) * math.log((1 - pi) / 0.5) for pi in p]  # both = 0.32781
    expected = (p[0] * kl[0] + p[1] * kl[1]) / (p[0] + p[1])
    got = ClassScoreKD()(Outputs([], s), Outputs([], t)).item()
    assert got == pytest.approx(expected, rel=1e-5) and got == pytest.approx(0.32781, rel=1e-4)


def test_class_term_sums_classes_and_weights_by_the_most_confident_class():
    s, t = logits(2, 3, 7, seed=4), logits(2, 3, 7, seed=5)
    p = torch.sigmoid(t)
    kl = (p * torch.log(p / torch.sigmoid(s)) + (1 - p) * torch.log((1 - p) / (1 - torch.sigmoid(s)))).sum(1)
    w = p.amax(1)
    expected = ((kl * w).sum() / w.sum()).item()
    got = ClassScoreKD()(Outputs([], s.float()), Outputs([], t.float())).item()
    assert got == pytest.approx(expected, rel=1e-5)


# --- box distributions ---------------------------------------------------------------------------


def test_box_kl_matches_float64_formula_per_side():
    reg_max, tau = 4, 2.0
    s, t = logits(2, 4 * reg_max, 5, seed=6), logits(2, 4 * reg_max, 5, seed=7)
    got = distribution_kl(s.float(), t.float(), reg_max, tau).double()  # (N, A)
    expected = torch.zeros(2, 5, dtype=torch.float64)
    for side in range(4):  # channel = side * reg_max + bin
        ps = torch.softmax(s[:, side * reg_max : (side + 1) * reg_max] / tau, dim=1)
        pt = torch.softmax(t[:, side * reg_max : (side + 1) * reg_max] / tau, dim=1)
        expected += (pt * torch.log(pt / ps)).sum(1) / 4 * tau**2
    assert torch.allclose(got, expected, atol=1e-5)


def test_box_term_uses_teacher_confidence_and_refuses_binless_heads():
    reg_max = 4
    s, t = logits(1, 4 * reg_max, 2, seed=8).float(), logits(1, 4 * reg_max, 2, seed=9).float()
    scores = torch.tensor([[[10.0, -10.0]]])  # the teacher is sure of anchor 0 only
    got = BoxDistributionKD(reg_max, tau=1.0)(Outputs([], s, s), Outputs([], scores, t)).item()
    per_anchor = distribution_kl(s, t, reg_max, 1.0)[0]
    w = torch.sigmoid(scores[0, 0])
    assert got == pytest.approx(((per_anchor * w).sum() / w.sum()).item(), rel=1e-5)
    assert got == pytest.approx(per_anchor[0].item(), rel=1e-3)
    with pytest.raises(ValueError, match="reg_max > 1"):
        BoxDistributionKD(reg_max=1)


# --- CWD strength: normalisation, score-guided mask, schedule ------------------------------------


def test_channel_standardize_matches_batchnorm_without_affine():
    x = logits(3, 5, 4, 6, seed=10)
    got = channel_standardize(x.float()).double()
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    assert torch.allclose(got, (x - mean) / torch.sqrt(var + 1e-5), atol=1e-5)
    bn = torch.nn.BatchNorm2d(5, affine=False, track_running_stats=False)
    assert torch.allclose(got.float(), bn(x.float()), atol=1e-5)


def test_channel_norm_makes_cwd_blind_to_each_channels_scale():
    """Scaling a channel of both maps changes plain CWD (its temperature) but not CWD after kd_norm=channel."""
    s, t = [logits(2, 4, 5, 5, seed=11).float()], [logits(2, 4, 5, 5, seed=12).float()]
    k = torch.tensor([1.0, 10.0, 0.1, 3.0]).view(1, 4, 1, 1)
    for norm, same in (("none", False), ("channel", True)):
        d = FeatureCWD([4], [4], tau=1.0, norm=norm)
        a, b = d(Outputs(s), Outputs(t)).item(), d(Outputs([s[0] * k]), Outputs([t[0] * k])).item()
        assert (a == pytest.approx(b, rel=1e-4)) == same


def test_score_mask_is_one_plus_the_teachers_best_class_probability():
    cls = torch.tensor([[[[0.0, 2.0]], [[-1.0, -3.0]]]])  # (N=1, nc=2, H=1, W=2)
    m = score_spatial_mask(cls)
    assert m.shape == (1, 1, 1, 2)
    assert m.flatten().tolist() == pytest.approx([1.5, 1 + 1 / (1 + math.exp(-2))])  # 1 + max_c sigmoid: 1.5, 1.881
    sharp = score_spatial_mask(cls, tau=0.5).flatten().tolist()
    assert sharp == pytest.approx([1.5, 1 + 1 / (1 + math.exp(-4))])  # tau < 1 sharpens
    background = score_spatial_mask(torch.full((1, 1, 3, 3), -20.0))
    assert torch.allclose(background, torch.ones(1, 1, 3, 3))  # the teacher sees nothing: plain CWD, not off
    assert not score_spatial_mask(cls.requires_grad_(True)).requires_grad  # detached: cannot be trained away


def test_score_attention_masks_both_sides_per_level():
    feats = [logits(1, 3, 2, 2, seed=13).float(), logits(1, 3, 1, 1, seed=14).float()]
    scores = logits(1, 2, 5, seed=15).float()  # 4 + 1 anchors over the two levels
    levels = split_levels(scores, feats)
    assert [tuple(x.shape) for x in levels] == [(1, 2, 2, 2), (1, 2, 1, 1)]
    assert torch.equal(levels[0].flatten(2), scores[:, :, :4])
    student = [f + 1 for f in feats]
    d = FeatureCWD([3, 3], [3, 3], tau=1.0, attention="score")
    got = d(Outputs(student), Outputs(feats, scores)).item()
    plain = FeatureCWD([3, 3], [3, 3], tau=1.0)
    masks = [score_spatial_mask(x) for x in levels]
    expected = plain(Outputs([s * m for s, m in zip(student, masks)]), Outputs([t * m for t, m in zip(feats, masks)]))
    assert got == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize(
    ("epoch", "epochs", "schedule", "stop", "expected"),
    [
        (0, 10, "constant", 0.0, 1.0),
        (9, 10, "constant", 0.0, 1.0),
        (0, 10, "cosine", 0.0, 1.0),
        (9, 10, "cosine", 0.0, COSINE_FLOOR),  # the last distilling epoch reaches the floor
        (2, 5, "cosine", 0.0, COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5),  # half-way: the mid-point
        (7, 10, "constant", 0.3, 0.0),  # the last 30 % train without distillation
        (6, 10, "constant", 0.3, 1.0),
        (6, 10, "cosine", 0.3, COSINE_FLOOR),  # cosine ends at the last distilling epoch
        (0, 1, "cosine", 0.0, 1.0),
    ],
)
def test_schedule(epoch, epochs, schedule, stop, expected):
    assert kd_scale(epoch, epochs, schedule, stop) == pytest.approx(expected)


def test_schedule_rejects_bad_values():
    with pytest.raises(ValueError, match="schedule"):
        kd_scale(0, 10, "linear")
    with pytest.raises(ValueError, match="stop"):
        kd_scale(0, 10, "constant", 1.0)
