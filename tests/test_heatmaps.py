"""``yolokd attention``: heat-map PNGs for a distilled student, teacher vs student, with the learned masks."""

from __future__ import annotations

from pathlib import Path

from conftest import TINY, _train_teacher, run_cli
from PIL import Image

from yolokd import distill


def test_attention_heatmaps_from_the_cli(data, teacher, runs, tmp_path):
    distill("yolov8n.yaml", teacher=teacher, data=str(data), method="cwd_attn", project=str(runs), name="heat", **TINY)
    best = runs / "heat" / "weights" / "best.pt"
    source = sorted((Path(data).parent / "images" / "val").iterdir())[:2]
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in source:
        (folder / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    code, log = run_cli("attention", f"model={best}", f"source={folder}", f"out={out}")  # teacher: the run's args.yaml
    assert code == 0, log[-2000:]
    pngs = sorted(out.glob("*_attention.png"))
    assert [p.name for p in pngs] == [f"{p.stem}_attention.png" for p in source]
    w, h = Image.open(pngs[0]).size
    assert w > 3 * 300 and h > 3 * 300  # three levels x (teacher, student, learned) panels

    code, log = run_cli("attention", f"model={best}", "source=missing.jpg", "out=x")
    assert code == 2 and "source 'missing.jpg' not found" in log and "Traceback" not in log


def test_attention_heatmaps_of_a_grayscale_pair(data, runs, tmp_path, teacher):
    """Models built for ``channels: 1`` get one-channel images (the RGB conversion failed in their first conv); an
    RGB teacher beside a grayscale model is refused."""
    import yaml

    gray = tmp_path / "gray.yaml"
    gray.write_text(yaml.safe_dump({**yaml.safe_load(data.read_text()), "channels": 1}))
    gray_teacher = _train_teacher("yolov8s.yaml", gray, runs, "heat-gray-teacher")
    distill("yolov8n.yaml", data=str(gray), method="none", project=str(runs), name="heat-gray", **TINY)
    source = sorted((Path(data).parent / "images" / "val").iterdir())[0]
    out = tmp_path / "out"
    code, log = run_cli("attention", f"model={runs / 'heat-gray/weights/best.pt'}", f"teacher={gray_teacher}",
                        f"source={source}", f"out={out}")  # fmt: skip
    assert code == 0, log[-2000:]
    assert (out / f"{source.stem}_attention.png").is_file()
    code, log = run_cli("attention", f"model={runs / 'heat-gray/weights/best.pt'}", f"teacher={teacher}",
                        f"source={source}", f"out={out}")  # fmt: skip
    assert code == 2 and "takes 1-channel images and teacher" in log and "3-channel ones" in log
