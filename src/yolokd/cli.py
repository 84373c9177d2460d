"""The ``yolokd`` command: Ultralytics-style ``key=value`` arguments.

yolokd train model=yolov8n.yaml teacher=teacher.pt data=data.yaml kd_method=cwd_attn epochs=100
yolokd train resume model=runs/detect/train/weights/last.pt
yolokd demo
yolokd settings
"""

from __future__ import annotations

import sys
from typing import Any

import yolokd  # noqa: F401  (sets the offline environment before Ultralytics is imported)
from yolokd.cfg import DEFAULT_YAML, KD_DEFAULTS, SettingsError

USAGE = """usage: yolokd MODE [key=value ...]

modes:
  train     distil a teacher into a student; any Ultralytics train argument works, plus:
              teacher=path/to/teacher.pt kd_method=none|cwd|cwd_attn|native kd_tau=0.5 kd_weight=1.0 ...
  demo      generate a small dataset, train a teacher and compare none / cwd / cwd_attn students
  settings  print yolokd's settings with their types and defaults
  help      show this message

example:
  yolokd train model=yolov8n.yaml teacher=teacher.pt data=data.yaml kd_method=cwd_attn epochs=100 imgsz=640
"""


def parse_args(tokens: list[str]) -> dict[str, Any]:
    """``key=value`` tokens to a dict; yolokd values stay strings (typed by the validator), others as Ultralytics."""
    from ultralytics.cfg import smart_value

    out: dict[str, Any] = {}
    for tok in tokens:
        if tok == "resume":  # Ultralytics' bare flag
            out["resume"] = True
            continue
        key, sep, value = tok.partition("=")
        if not sep or not key:
            raise SettingsError(f"argument '{tok}' is not of the form key=value, e.g. epochs=100")
        out[key] = value if key in KD_DEFAULTS else smart_value(value)
    return out


def train(args: dict[str, Any]) -> None:
    from yolokd.trainer import distill

    student = args.pop("model", "yolov8n.yaml")
    method = args.pop("kd_method", KD_DEFAULTS["kd_method"])
    metrics = distill(student=student, method=method, **args)
    if metrics is not None:
        print(f"yolokd: mAP50 {metrics.box.map50:.4f}  mAP50-95 {metrics.box.map:.4f}  ({metrics.save_dir})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    mode, rest = (argv[0], argv[1:]) if argv else ("help", [])
    try:
        if mode == "train":
            train(parse_args(rest))
        elif mode == "demo":
            from yolokd.demo import run_demo

            run_demo(**parse_args(rest))
        elif mode == "settings":
            print(DEFAULT_YAML.read_text(encoding="utf-8"), end="")
        elif mode in ("help", "-h", "--help"):
            print(USAGE, end="")
        else:
            raise SettingsError(f"unknown mode '{mode}'; use train, demo, settings or help")
    except SettingsError as e:
        print(f"yolokd: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("yolokd: interrupted; continue with 'yolokd train resume model=.../weights/last.pt'", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
