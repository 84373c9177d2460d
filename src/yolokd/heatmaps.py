"""``yolokd attention``: where teacher and student look, as heat-map overlays (PNG).

For each image and each feature level (P3, P4, P5) the figure shows, over the letterboxed image:
- ``teacher``: the teacher-guided spatial mask (``attention.guided``) of the teacher's features;
- ``student``: the same parameter-free mask of the distilled student's own features;
- ``learned``: when the run trained learnable attention (``kd_attn_mode`` student, shared or
  shared_norm), that module's spatial mask on the student's adapted features, restored from
  ``weights/kd_last.pt`` beside the checkpoint (the state of the last epoch).
Titles give each mask's mean and normalised entropy (1 = uniform): a collapsed attention shows
as a mean near 0 or an entropy near 1 everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from yolokd.attention import mask_entropy, teacher_spatial_mask
from yolokd.cfg import KD_DEFAULTS, SettingsError, check_kd_settings
from yolokd.connectors.attention import LEARNED_MODES
from yolokd.distiller import build_distiller
from yolokd.losses.feature import FeatureCWD
from yolokd.methods import attention_mode
from yolokd.recorder import FeatureRecorder, input_channels

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _run_args(model: Path) -> dict[str, Any]:
    args = model.parent.parent / "args.yaml"  # runs/.../weights/best.pt -> runs/.../args.yaml
    return yaml.safe_load(args.read_text()) if args.is_file() else {}


def _learned_distiller(model: Path, args: dict, s_ch: list[int], t_ch: list[int]) -> FeatureCWD | None:
    """The trained feature term of a cwd_attn run with learnable attention, from its kd_last.pt."""
    state = model.with_name("kd_last.pt")
    kd = check_kd_settings({k: v for k, v in args.items() if k in KD_DEFAULTS}, require_teacher=False)
    if attention_mode(kd) not in LEARNED_MODES or not state.is_file():
        return None
    d = build_distiller(kd, s_ch, t_ch)
    d.load_state_dict(torch.load(state, map_location="cpu", weights_only=True)["distiller"])
    return d.terms["kd_cwd"].eval()


def _images(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if source.is_file():
        return [source]
    raise SettingsError(f"source '{source}' not found; pass an image file or a folder of images")


@torch.no_grad()
def attention_maps(
    model: str, source: str, out: str, teacher: str | None = None, imgsz: int | None = None
) -> list[Path]:
    """Write one PNG per source image to ``out``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    from ultralytics.data.augment import LetterBox

    from yolokd.integration.models import detect_head, load_teacher
    from yolokd.integration.weights import resolve_weights

    model_path = Path(model)
    if not model_path.is_file():
        raise SettingsError(f"model '{model}' not found; pass a trained student checkpoint, e.g. runs/.../best.pt")
    args = _run_args(model_path)
    teacher = teacher or args.get("teacher")
    if teacher:
        teacher = resolve_weights(teacher, "teacher")  # yolov8l.pt: found or downloaded as Ultralytics does
    if not teacher or not Path(teacher).is_file():
        raise SettingsError(f"teacher '{teacher}' not found; pass teacher=path/to/teacher.pt")
    imgsz = int(imgsz or args.get("imgsz") or 640)
    student = load_teacher(model_path, torch.device("cpu"), role="model")  # frozen, fused, fp32
    t_model = load_teacher(teacher, torch.device("cpu"))
    s_rec = FeatureRecorder(student, detect_head(student, "model"))
    t_rec = FeatureRecorder(t_model, detect_head(t_model, "teacher"))
    images = _images(Path(source))
    channels = input_channels(student)
    if (t_channels := input_channels(t_model)) != channels:
        raise SettingsError(
            f"model '{model}' takes {channels}-channel images and teacher '{teacher}' {t_channels}-channel ones; "
            "pass the teacher it was distilled from"
        )
    mode = "L" if channels == 1 else "RGB"  # a grayscale model sees one channel
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, learned = [], None
    for path in images:
        im = np.asarray(Image.open(path).convert(mode))
        im = im[..., None] if im.ndim == 2 else im  # (H, W, C): Ultralytics 8.4.170's LetterBox needs the axis
        boxed = LetterBox(new_shape=(imgsz, imgsz), auto=False)(image=im)  # (imgsz, imgsz, C)
        x = torch.from_numpy(boxed).permute(2, 0, 1)[None].float() / 255  # (1, 3 or 1, imgsz, imgsz)
        s_feats, t_feats = s_rec(x), t_rec(x)
        if learned is None:
            learned = _learned_distiller(model_path, args, [f.shape[1] for f in s_feats], [f.shape[1] for f in t_feats])
            learned = learned or False
        cols = ["teacher", "student"] + (["learned"] if learned else [])
        fig, axes = plt.subplots(len(s_feats), len(cols), figsize=(3.6 * len(cols), 3.2 * len(s_feats)), squeeze=False)
        for i, (s, t) in enumerate(zip(s_feats, t_feats)):
            masks = {"teacher": teacher_spatial_mask(t), "student": teacher_spatial_mask(s)}
            if learned:
                masks["learned"] = learned.attention[i].masks(learned.adapters[i](s))[1]
            for ax, name in zip(axes[i], cols):
                m = masks[name][0, 0]
                ax.imshow(boxed, cmap="gray" if mode == "L" else None)
                vmax = max(1.0, float(m.max()))  # masks in (0, 1); mean-1 masks may exceed 1
                shown = ax.imshow(m.numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=vmax, extent=(0, imgsz, imgsz, 0))
                fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)  # a flat mask reads
                ax.set_title(
                    f"P{i + 3} {name}: mean {m.mean():.2f}, entropy {float(mask_entropy(m[None])[0]):.2f}", fontsize=8
                )
                ax.axis("off")
        fig.suptitle(f"{path.name}: spatial attention, teacher vs student", fontsize=10)
        fig.tight_layout()
        dst = out_dir / f"{path.stem}_attention.png"
        fig.savefig(dst, dpi=100)
        plt.close(fig)
        written.append(dst)
    if not written:
        raise SettingsError(f"no images in '{source}' (looked for {', '.join(IMAGE_SUFFIXES)})")
    return written
