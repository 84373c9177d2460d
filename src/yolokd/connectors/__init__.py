"""Connectors: what stands between a feature map and the CWD loss (pure torch), in MMRazor's sense.

Per neck level the feature term (:mod:`yolokd.losses.feature`) runs, in order:

    adapter.py    student width -> teacher width (a train-only 1x1 conv; identity when equal)
    norm.py       per-channel standardisation of both maps, or none (``kd_norm``)
    attention.py  one class per attention mode (``kd_attn_mode``), chosen by name from ``MODES``

The names below are the valid choices; they live here, free of torch, so settings are checked
(:mod:`yolokd.cfg` imports them) before torch is loaded. The classes are imported from their modules.
"""

from __future__ import annotations

ATTENTION_MODES = ("none", "student", "shared", "shared_norm", "teacher", "score")  # attention.MODES, in order
NORMS = ("none", "channel")  # norm.NORMS, in order
