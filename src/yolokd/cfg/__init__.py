"""yolokd settings: defaults from ``default.yaml`` and the one validator shared by CLI and Python API.

Keys are validated together with Ultralytics' own train arguments: an unknown key in
either set fails at once with the closest valid names. Which settings exist and which methods use them is the
registry's (:mod:`yolokd.methods`); the valid choices are the blocks' own (losses, connectors), read here.
A setting's type is its default's (a ``None`` default: a string).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
from pathlib import Path
from typing import Any

import yaml

from yolokd import methods
from yolokd.connectors import ATTENTION_MODES, NORMS
from yolokd.losses import SOFTMAX_INPUTS
from yolokd.losses.schedule import SCHEDULES
from yolokd.precision import PRECISIONS

DEFAULT_YAML = Path(__file__).with_name("default.yaml")
KD_DEFAULTS: dict[str, Any] = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
CHOICES = {
    "kd_method": tuple(methods.METHODS),
    "kd_softmax": SOFTMAX_INPUTS,
    "kd_attn_mode": tuple(m for m in ATTENTION_MODES if m != "none"),  # no attention: kd_method=cwd
    "kd_norm": NORMS,
    "kd_schedule": SCHEDULES,
    "kd_precision": PRECISIONS,
}


class SettingsError(ValueError):
    """A setting is unknown, of the wrong type or out of range. The message says how to fix it."""


NONE_WORDS = ("none", "null", "~")  # what a user may type (or YAML may hold) for "nothing"


def setting_type(key: str) -> type:
    """The type of a yolokd setting: its default's, ``str`` where the default is ``None`` (``teacher``)."""
    default = KD_DEFAULTS[key]
    return str if default is None else type(default)


def _cast(key: str, value: Any) -> Any:
    kind = setting_type(key)
    if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
        if "none" in CHOICES.get(key, ()):
            return "none"  # kd_method=None, kd_norm=null: the choice 'none'
        if KD_DEFAULTS[key] is None:
            return None  # teacher=none, unlabeled=none: nothing, as when it is left out
        raise SettingsError(f"'{key}={value}' must be of type {kind.__name__}; leave it out for the default")
    if kind is str:
        return str(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise SettingsError(f"'{key}={value}' must be True or False")
    if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
        raise SettingsError(f"'{key}={value}' must be of type {kind.__name__}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"'{key}={value}' must be of type {kind.__name__}") from None


# Named presets for `yolokd train`/`distill` and `yolokd compare` (recipe=NAME); explicit arguments win. A recipe's
# lr0 and momentum belong to its optimizer: where optimizer= is given, they are left to it.
RECIPES: dict[str, dict[str, Any]] = {
    "default": {  # the optimizer default.yaml's settings were confirmed under; optimizer=auto: Ultralytics' choice
        "optimizer": "Adam",
        "lr0": 0.001,
        "momentum": 0.9,
    },
    "paper": {  # the paper's training: Adam, lr0 0.001, momentum 0.9; CWD with attention, tau 0.5, weight 1
        "optimizer": "Adam",
        "lr0": 0.001,
        "momentum": 0.9,
        "kd_method": "cwd_attn",
        "kd_tau": 0.5,
        "kd_weight": 1.0,
    },
}


def check_recipe(name: Any) -> dict[str, Any]:
    """The settings of recipe ``name`` (None: ``default``), or a SettingsError naming the known ones."""
    if name is None:
        return RECIPES["default"]
    if name not in RECIPES:
        raise SettingsError(f"recipe={name} is not known; choose one of: {', '.join(RECIPES)}")
    return RECIPES[name]


def with_recipe(args: dict[str, Any]) -> dict[str, Any]:
    """``args`` without ``recipe=``, its recipe's settings added where ``args`` give no other (on resume none:
    the run continues with its own). An explicit ``optimizer=`` keeps its own lr0 and momentum, not the recipe's."""
    args = dict(args)
    name = args.pop("recipe", None)
    preset = check_recipe(name)
    if args.get("resume"):
        if name not in (None, "default"):
            raise SettingsError(f"resume continues a run with its own settings; drop recipe={name}")
        return args
    if "optimizer" in args:
        preset = {k: v for k, v in preset.items() if k not in ("lr0", "momentum")}
    return {**preset, **args}


def unknown_key_error(key: str, valid: set[str]) -> SettingsError:
    """A SettingsError naming ``key`` and the closest valid keys."""
    close = difflib.get_close_matches(key, sorted(valid), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return SettingsError(f"'{key}' is not a valid yolokd or Ultralytics setting.{hint} See 'yolokd help'.")


def check_kd_settings(kd: dict[str, Any], require_teacher: bool = True) -> dict[str, Any]:
    """Return the complete, typed yolokd settings (defaults filled in); raise SettingsError on bad values.

    ``require_teacher=False`` skips the teacher check (a resumed run takes its teacher from the checkpoint).
    """
    for key in kd:
        if key not in KD_DEFAULTS:
            raise unknown_key_error(key, set(KD_DEFAULTS))
    out = {k: _cast(k, kd.get(k, v)) for k, v in KD_DEFAULTS.items()}
    for key, choices in CHOICES.items():
        if out[key] not in choices:
            raise SettingsError(f"'{key}={out[key]}' is not valid; choose one of: {', '.join(choices)}")
    if out["kd_tau"] <= 0:
        raise SettingsError(f"'kd_tau={out['kd_tau']}' must be > 0 (the paper uses 0.5)")
    for key in dict.fromkeys(t.weight for t in methods.TERMS.values()):
        if out[key] < 0:
            raise SettingsError(f"'{key}={out[key]}' must be >= 0")
    for key in ("kd_score_tau", "kd_box_tau"):
        if out[key] <= 0:
            raise SettingsError(f"'{key}={out[key]}' must be > 0")
    _check_unlabeled(out)
    if not 0 <= out["kd_stop"] < 1:
        raise SettingsError(f"'kd_stop={out['kd_stop']}' must be in [0, 1), e.g. 0.1 for the last 10 % of epochs")
    _check_terms(out)
    if out["kd_spatial_kernel"] < 1 or out["kd_spatial_kernel"] % 2 == 0:
        raise SettingsError(f"'kd_spatial_kernel={out['kd_spatial_kernel']}' must be a positive odd number, e.g. 7")
    if out["kd_channel_reduction"] < 1:
        raise SettingsError(f"'kd_channel_reduction={out['kd_channel_reduction']}' must be >= 1, e.g. 16")
    if out["kd_method"] != "none" and require_teacher:
        teacher = out["teacher"]
        if not teacher:
            raise SettingsError(f"kd_method={out['kd_method']} needs 'teacher=path/to/teacher.pt' (or kd_method=none)")
        if Path(teacher).is_file() and str(teacher).endswith(".pt"):
            out["teacher"] = str(Path(teacher).resolve())  # args.yaml and resume do not depend on the cwd
        elif not is_bare_name(teacher):  # a bare name is Ultralytics' to find or download, where it is loaded
            raise SettingsError(
                f"teacher '{teacher}' is not an existing .pt file; pass the path to a trained checkpoint, "
                "or the name of Ultralytics' pretrained weights (e.g. yolov8l.pt)"
            )
    return out


def _check_unlabeled(kd: dict[str, Any]) -> None:
    """``unlabeled=`` with a method that reads it, an existing folder or .txt list (made absolute, so args.yaml
    and resume do not depend on the cwd); its ratio, weight and ``pseudo_conf`` in range. Whether the folder
    holds images is checked where the images are listed (:func:`yolokd.data.unlabeled.list_unlabeled`)."""
    for key in ("unlabeled_ratio", "kd_unlabeled"):
        if kd[key] < 0:
            raise SettingsError(f"'{key}={kd[key]}' must be >= 0 (e.g. 1: one unlabeled image per labelled one)")
    if not 0 < kd["pseudo_conf"] < 1:
        raise SettingsError(f"'pseudo_conf={kd['pseudo_conf']}' must be in (0, 1), e.g. 0.25")
    source, method = kd["unlabeled"], kd["kd_method"]
    if source is None:
        if methods.METHODS[method].by == "pseudo":
            raise SettingsError(
                "kd_method=pseudo labels unlabeled images: pass unlabeled=DIR (a folder or a .txt list)"
            )
        return
    if not methods.uses_unlabeled(method):
        ours = ", ".join(m for m in methods.METHODS if methods.uses_unlabeled(m))
        raise SettingsError(f"unlabeled= needs a method that learns from them ({ours}), not kd_method={method}")
    kd["unlabeled"] = str(pool_source(source))


def pool_source(source: str | Path) -> Path:
    """``unlabeled=``'s folder or .txt list, absolute; a SettingsError where it is neither."""
    path = Path(source)
    if not (path.is_dir() or (path.suffix == ".txt" and path.is_file())):
        raise SettingsError(
            f"unlabeled '{source}' is not a folder or a .txt list of images; pass one (yolokd data frames "
            "source=VIDEO out=DIR writes a folder of frames)"
        )
    return path.resolve()


def _check_terms(kd: dict[str, Any]) -> None:
    """A yolokd method builds at least one term; Ultralytics' own takes none of yolokd's optional terms."""
    method = methods.METHODS[kd["kd_method"]]
    if method.by == "yolokd" and not methods.terms_of(kd):  # every term optional, none weighted (response)
        terms = [methods.TERMS[t] for t in method.terms]
        raise SettingsError(
            f"kd_method={method.name} distils {' and/or '.join(t.what for t in terms)}; "
            f"set {' and/or '.join(f'{t.weight}=1' for t in terms)}"
        )
    optional = [t.weight for t in methods.TERMS.values() if t.optional]
    if method.by in ("ultralytics", "pseudo") and any(kd[w] > 0 for w in optional):
        ours = ", ".join(m.name for m in methods.METHODS.values() if m.by == "yolokd")
        raise SettingsError(f"{'/'.join(optional)} add to yolokd's methods ({ours}), not to kd_method={method.name}")


def resume_settings(saved: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A resumed run's settings: its checkpoint's (``saved``; ``given`` where it has none, a run begun before
    yolokd stored them), and the settings the user ``given`` that differ from them and were not applied."""
    kd = check_kd_settings(saved or given)
    typed = check_kd_settings(given, require_teacher=False)
    if typed["teacher"]:
        typed["teacher"] = str(Path(typed["teacher"]).resolve())
    return kd, [f"{k}={kd[k]} (not {typed[k]})" for k in KD_DEFAULTS if k in given and typed[k] != kd[k]]


def is_bare_name(weights: str | Path) -> bool:
    """``yolov8l.pt``: a .pt name without a folder, which Ultralytics looks up in its weights or downloads
    (:func:`yolokd.integration.weights.resolve_weights`); a path is only ever the file it names."""
    text = str(weights)
    return text.endswith(".pt") and Path(text).name == text


@functools.cache
def ultralytics_defaults() -> dict[str, Any]:
    """Ultralytics' train arguments and defaults, read from its ``cfg/default.yaml`` without importing it
    (importing Ultralytics pulls in torch: seconds before a misspelt key could be reported)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        from yolokd._compat import ULTRALYTICS

        lo, hi = (".".join(map(str, v)) for v in ULTRALYTICS)
        raise SettingsError(f'Ultralytics is not installed; pip install "ultralytics>={lo},<={hi}" (see README)')
    path = Path(next(iter(spec.submodule_search_locations))) / "cfg" / "default.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_keys(overrides: dict[str, Any], extra: set[str] = frozenset()) -> None:
    """Fail on an unknown key (with the closest valid ones), on Ultralytics' own distillation keys outside
    ``kd_method=native`` and on a ``data=`` yaml that does not exist. Cheap: imports nothing heavy.

    ``extra`` are further keys valid in the caller's context (e.g. compare's ``methods=``).
    """
    ultra = ultralytics_defaults()
    valid = set(ultra) | set(KD_DEFAULTS) | set(extra)
    for key in overrides:
        if key not in valid and key not in {"save_dir", "augmentations"}:
            raise unknown_key_error(key, valid)
    own = methods.METHODS.get(overrides.get("kd_method"), methods.METHODS["none"]).by == "ultralytics"
    for reserved in ("distill_model", "dis"):
        if overrides.get(reserved, ultra[reserved]) != ultra[reserved] and not own:
            hint = " (in yolokd compare, per row: methods=none,native@dis=3)" if reserved == "dis" else ""
            what = f"'{reserved}=' is Ultralytics' own distillation"
            raise SettingsError(f"{what}; use kd_method=native teacher=... instead{hint}")
    data = overrides.get("data")
    if isinstance(data, str) and data.endswith((".yaml", ".yml")) and not Path(data).is_file():
        raise SettingsError(
            f"data '{data}' not found; pass the path to your dataset's data.yaml (nothing is downloaded)"
        )


def split_settings(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split mixed settings into (yolokd settings, Ultralytics train arguments), validating both.

    Unknown keys fail with a suggestion from both key sets; Ultralytics' arguments are type-
    and range-checked by Ultralytics' own ``check_cfg``.
    """
    check_keys(overrides)
    kd = {k: v for k, v in overrides.items() if k in KD_DEFAULTS}
    rest = {k: v for k, v in overrides.items() if k not in KD_DEFAULTS}
    kd_checked = check_kd_settings(kd, require_teacher=not rest.get("resume"))  # cheap checks before the import
    from ultralytics.cfg import check_cfg

    try:
        check_cfg(rest)
    except (TypeError, ValueError) as e:
        raise SettingsError(str(e)) from None
    return kd_checked, rest
