"""Capture the inputs of one submodule (the detection head) during a forward pass.

Used on the frozen teacher only: the hook lives on the teacher, which is never saved,
so student checkpoints stay free of hooks. The forward pass stops at the recorded
module, so the teacher's detection head (and its box decoding) is never run.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class _Stop(Exception):
    """Raised by the hook to end the forward pass once the features are captured."""


class FeatureRecorder:
    """Return the list of tensors that enter ``module`` when ``model`` runs on an input.

    Args:
        model: the network to run.
        module: a submodule of ``model`` whose first positional input is a list of
            feature maps (an Ultralytics ``Detect`` head takes [P3, P4, P5]).
    """

    def __init__(self, model: nn.Module, module: nn.Module) -> None:
        self.model = model
        self._feats: list[Tensor] = []
        self._armed = False  # the hook acts only inside __call__: plain model(x) calls run the whole model
        self._handle = module.register_forward_pre_hook(self._hook)

    def _hook(self, module: nn.Module, args: tuple) -> None:
        if not self._armed:
            return
        x = args[0]
        self._feats = list(x) if isinstance(x, (list, tuple)) else [x]
        raise _Stop

    def __call__(self, x: Tensor) -> list[Tensor]:
        self._feats, self._armed = [], True
        try:
            self.model(x)
        except _Stop:
            pass
        finally:
            self._armed = False
        if not self._feats:
            raise RuntimeError("the recorded module was not reached during the forward pass")
        feats, self._feats = self._feats, []
        return feats

    def remove(self) -> None:
        """Detach the hook from the module."""
        self._handle.remove()


def input_channels(model: nn.Module) -> int:
    """The image channels ``model`` takes: its first convolution's input (1 for a grayscale model)."""
    return next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)


@torch.no_grad()
def probe_features(model: nn.Module, module: nn.Module, imgsz: int = 64) -> list[torch.Size]:
    """Shapes of the tensors entering ``module`` for a zero image of ``imgsz`` pixels with the model's own input
    channels (model left as found)."""
    device = next(model.parameters()).device
    channels = input_channels(model)
    was_training = model.training
    recorder = FeatureRecorder(model, module)
    try:
        model.eval()
        return [f.shape for f in recorder(torch.zeros(1, channels, imgsz, imgsz, device=device))]
    finally:
        recorder.remove()
        model.train(was_training)
