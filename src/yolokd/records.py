"""What a comparison's run was made with, and records of finished runs.

A run folder's ``yolokd_run.json`` (:func:`run_spec`) holds its settings, its method label and its inputs'
fingerprints; a folder made otherwise is refused, not reused (:func:`check_spec`, :func:`check_kd_defaults`).
A record (``compare records=DIR``) keeps what a finished run is judged by, without its weights, so a
comparison too long for one machine's lifetime continues on another: :func:`save_record` writes one,
:func:`load_record` reuses it only where settings, inputs, versions and the code that trains match.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from yolokd import fingerprint, methods
from yolokd.cfg import KD_DEFAULTS, SettingsError, check_kd_settings


def _json(obj: dict) -> dict:
    return json.loads(json.dumps(obj, default=str))


def check_kd_defaults(
    run_dir: Path, overrides: dict[str, Any], fix: str = "pass a new name= or delete that folder"
) -> None:
    """Refuse to reuse a run whose yolokd settings, defaults included (args.yaml), differ from this one's. How a
    run would use unlabeled images (its ratio and weight) does not count where neither run has any."""
    import yaml

    keys = methods.relevant(overrides.get("kd_method", "none"))  # the teacher: checked by its fingerprint
    args_file = run_dir / "args.yaml"
    if not keys or not args_file.is_file():
        return
    saved = yaml.safe_load(args_file.read_text())
    now = check_kd_settings({k: v for k, v in overrides.items() if k in KD_DEFAULTS}, require_teacher=False)
    if not saved.get("unlabeled") and not now.get("unlabeled"):
        keys = tuple(k for k in keys if k not in methods.UNLABELED)
    changed = [f"{k}: {saved.get(k)} -> {now[k]}" for k in keys if k in saved and saved[k] != now[k]]
    if changed:
        raise SettingsError(f"'{run_dir}' was trained with other yolokd settings ({', '.join(changed)}); {fix}")


def run_spec(overrides: dict[str, Any], label: str | None, inputs: dict[str, Any] | None) -> dict[str, Any]:
    """What ``yolokd_run.json`` records of a run: its settings, its method label and its inputs' fingerprints."""
    spec = _json({k: v for k, v in overrides.items() if k not in ("project", "name", "exist_ok")})
    if label:
        spec["label"] = label
    if inputs:
        spec["inputs"] = inputs
    return spec


def check_spec(
    where: Path, old: dict[str, Any], spec: dict[str, Any], fix: str, log, same_recipe: bool = False
) -> None:
    """Refuse a run (folder or record) at ``where`` made with other settings or inputs than ``spec``
    (``same_recipe``: a teacher trained by the same recipe counts as the same, see fingerprint.changes)."""
    changed = sorted(k for k in set(old) | set(spec) if old.get(k) != spec.get(k) and k not in ("label", "inputs"))
    if changed:
        diffs = ", ".join(f"{k}: {old.get(k, '(default)')} -> {spec.get(k, '(default)')}" for k in changed)
        raise SettingsError(f"'{where}' was trained with other settings ({diffs}); {fix}")
    inputs = spec.get("inputs")
    if inputs and "inputs" not in old:
        log(f"{where.name} was made before yolokd recorded fingerprints: its data and teacher are not checked")
    elif inputs and (what := fingerprint.changes(old["inputs"], inputs, same_recipe)):
        raise SettingsError(f"'{where}' was trained on other inputs: {'; '.join(what)}. {fix[0].upper()}{fix[1:]}")


RECORD_FILES = ("args.yaml", "metrics.json", "results.csv")
RECORD_VERSIONS = ("yolokd", "torch", "ultralytics")  # a record made under other versions is not pooled


def save_record(run_dir: Path, records: Path, spec: dict[str, Any], env: dict[str, Any]) -> None:
    """Write a finished run's record to ``records/<run name>/``: its checked ``spec`` (yolokd_run.json), its
    RECORD_FILES, and record.json (when it finished, this comparison's environment), written last and moved
    into place whole, so a record that exists is complete."""
    import shutil
    import tempfile
    from datetime import datetime

    records.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=records))
    dest, aside = records / run_dir.name, records / f".{run_dir.name}.old"
    try:
        tmp.chmod(0o755)  # (mkdtemp makes it private)
        (tmp / "yolokd_run.json").write_text(json.dumps(spec, indent=2) + "\n")
        for f in RECORD_FILES:
            if (run_dir / f).is_file():
                shutil.copy2(run_dir / f, tmp / f)
        best = run_dir / "weights" / "best.pt"
        when = datetime.fromtimestamp(best.stat().st_mtime).astimezone().isoformat(timespec="seconds")
        (tmp / "record.json").write_text(json.dumps({"finished": when, "comparison": env}, indent=2) + "\n")
        shutil.rmtree(aside, ignore_errors=True)
        if dest.exists():  # the old record stays whole until the new one is in place
            dest.rename(aside)
        try:
            tmp.rename(dest)
        except BaseException:
            if aside.exists() and not dest.exists():
                aside.rename(dest)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(aside, ignore_errors=True)


def has_record(rec: Path | None) -> bool:
    """Whether ``rec`` is a whole record (a folder copied in part, say by a partial ``git add``, is not one)."""
    need = ("record.json", "yolokd_run.json", "metrics.json", "args.yaml")  # args.yaml: the settings, defaults included
    return rec is not None and all((rec / f).is_file() for f in need)


def record_metrics(rec: Path) -> dict[str, Any]:
    return json.loads((rec / "metrics.json").read_text())


def load_record(rec: Path, overrides: dict[str, Any], label: str, inputs: dict[str, Any], env: dict[str, Any]):
    """The metrics of the recorded run ``rec``, refused (SettingsError) if its settings, inputs or versions differ.

    A fresh machine trains its own fold teachers, and CPU training is not bit-reproducible across machines,
    so a record's teacher counts as this comparison's when it was trained by the same recipe (settings, fold
    data, starting weights); the run's metrics keep which training it was (``teacher_tensors``, ``teacher_map50``).
    """
    fix = f"delete the record '{rec}' to train that run again, or pass another records= folder"
    old = json.loads((rec / "yolokd_run.json").read_text())
    new = run_spec(overrides, label, inputs)
    paths = ("data", "teacher", "unlabeled")
    if moved := [k for k in paths if k in old and old[k] != new.get(k) and _moved(old[k], new.get(k))]:
        raise SettingsError(
            f"'{rec}' was made with its inputs at other paths ({', '.join(f'{k}: {old[k]}' for k in moved)}): "
            "records keep absolute paths, so run this comparison with the work folder (project=) the records "
            "were made in to reuse them; nothing is wrong with the record"
        )
    if "inputs" not in old:
        raise SettingsError(f"'{rec}' records no input fingerprints, so its data and teacher cannot be checked; {fix}")
    made = json.loads((rec / "record.json").read_text())["comparison"]
    versions = made.get("versions", {})
    if changed := [
        f"{k} {versions.get(k)} -> {env['versions'][k]}"
        for k in RECORD_VERSIONS
        if versions.get(k) != env["versions"][k]
    ]:
        raise SettingsError(f"'{rec}' was made under other versions ({', '.join(changed)}); {fix}")
    if changed := _code_changes(made, env):
        raise SettingsError(f"'{rec}' was trained by other yolokd code: {changed}; {fix}")
    check_spec(rec, old, new, fix, lambda _: None, same_recipe=True)
    check_kd_defaults(rec, overrides, fix)
    return record_metrics(rec)


def _code_changes(made: dict[str, Any], env: dict[str, Any]) -> str | None:
    """Which files of the code that trains (fingerprint.TRAINING_CODE) changed since a record was made, or None.

    Files the record fingerprinted are compared by hash. Files it did not (a record from before code
    fingerprints, or from before a file joined TRAINING_CODE) are read as committed at the record's git
    revision, where this is a git checkout that has it, and hashed the same way; where that cannot be done,
    the record is refused. (A record made in a tree with uncommitted changes is taken at its revision.)
    Older records also hashed cfg/default.yaml: that is not compared, a run's settings are checked from
    args.yaml."""
    now = env["training_code"]
    old = {f: h for f, h in made.get("training_code", {}).items() if f != "cfg/default.yaml"}
    changed = [f for f in sorted(old) if old[f] != now.get(f)]
    unhashed = [f for f in sorted(now) if f not in old]
    if unhashed and not changed:
        rev = made.get("git_revision")
        then = _committed(rev, unhashed)
        if then is None:
            what = f"the fingerprint of {', '.join(unhashed)}" if old else "code fingerprints"
            return f"it predates {what} and its git revision {rev} is not in a checkout here to compare with"
        changed = [f for f in unhashed if then[f] is None or fingerprint.code_sha256(then[f]) != now[f]]
    return f"{', '.join(changed)} changed since" if changed else None


def _committed(rev: str | None, files: list[str]) -> dict[str, str | None] | None:
    """The text of each of yolokd's source files (paths inside the package) as committed at ``rev`` (None where
    it did not exist) in the git checkout that holds the source, or None where there is none or it lacks ``rev``."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)

    try:
        if not rev or git("cat-file", "-e", f"{rev}^{{commit}}").returncode != 0:
            return None
        return {f: r.stdout if (r := git("show", f"{rev}:src/yolokd/{f}")).returncode == 0 else None for f in files}
    except (OSError, subprocess.SubprocessError):
        return None


def _moved(old: Any, new: Any) -> bool:
    """Whether two absolute paths name the same file in another folder (a work folder moved or renamed)."""
    return isinstance(old, str) and isinstance(new, str) and old.startswith("/") and Path(old).name == Path(new).name
