"""The distiller: named loss terms with their weights, built from the flat settings in one place.

Each term is a small pure-torch module, ``term(student: Outputs, teacher: Outputs) -> scalar``, in
its own file under ``losses/``; which terms a method builds, from which settings, is the registry's
(:mod:`yolokd.methods`, where the terms are listed), which ``build_distiller`` reads. Adding a term is its
file and one ``Term`` there.

Every weight is multiplied by the schedule's scale for the epoch (``kd_schedule``, ``kd_stop``).
Nothing here is saved with the student.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from yolokd.losses.outputs import Outputs
from yolokd.losses.schedule import kd_scale
from yolokd.methods import Levels, terms_of

__all__ = ["Distiller", "Outputs", "build_distiller"]


class Distiller(nn.Module):
    """A ``ModuleDict`` of named loss terms and their weights.

    ``forward`` returns each term's weighted value under its name plus their sum as ``kd_loss``.
    """

    def __init__(self, terms: Mapping[str, nn.Module], weights: Mapping[str, float]) -> None:
        super().__init__()
        if set(terms) != set(weights):
            raise ValueError(f"every term needs a weight: terms {sorted(terms)}, weights {sorted(weights)}")
        self.terms = nn.ModuleDict(terms)
        self.weights = {k: float(v) for k, v in weights.items()}
        self.scale = 1.0  # the schedule's multiplier for the current epoch

    @property
    def needs_head(self) -> bool:
        """True when a term needs the teacher's head outputs (class scores, box distributions)."""
        return any(getattr(t, "needs_head", False) for t in self.terms.values())

    def set_epoch(self, epoch: int, epochs: int, schedule: str = "constant", stop: float = 0.0) -> float:
        """Set (and return) the schedule's scale for ``epoch`` of ``epochs``."""
        self.scale = kd_scale(epoch, epochs, schedule, stop)
        return self.scale

    def forward(self, student: Outputs, teacher: Outputs) -> dict[str, Tensor]:
        parts = {name: term(student, teacher) * (self.weights[name] * self.scale) for name, term in self.terms.items()}
        parts["kd_loss"] = torch.stack(list(parts.values())).sum()
        return parts

    def pop_stats(self) -> dict[str, float]:
        """The epoch's effective weights (``kd/w_cwd`` ...) and the terms' own statistics (then reset)."""
        out = {f"kd/w_{name.removeprefix('kd_')}": w * self.scale for name, w in self.weights.items()}
        for term in self.terms.values():
            if hasattr(term, "pop_stats"):
                out |= term.pop_stats()
        return out


def build_distiller(
    kd: Mapping[str, Any], student_channels: Sequence[int], teacher_channels: Sequence[int], reg_max: int = 16
) -> Distiller:
    """The distiller for validated yolokd settings ``kd`` (see cfg/default.yaml) and the probed level widths."""
    levels = Levels(student_channels, teacher_channels, reg_max)
    terms = terms_of(kd)
    return Distiller({t.name: t.build(kd, levels) for t in terms}, {t.name: kd[t.weight] for t in terms})
