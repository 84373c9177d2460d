"""Run records (:mod:`yolokd.records`): a record is replaced whole, and reused only where the code that trains
and every setting that changes training are the same. Reuse end to end is in test_compare.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import yolokd
from yolokd import fingerprint
from yolokd.cfg import KD_DEFAULTS, SettingsError, check_kd_settings
from yolokd.methods import COMMON, METHODS, distils, relevant
from yolokd.records import _code_changes, has_record, save_record


def test_a_record_from_before_a_file_was_fingerprinted_is_checked_by_git():
    """A file that joined the training-code fingerprint after a record was made (recorder.py) is compared
    with the record's git revision; the defaults' file that older records hashed is not compared."""
    now = fingerprint.training_code()
    assert "recorder.py" in now and "cfg/default.yaml" not in now
    old = {f: h for f, h in now.items() if f != "recorder.py"} | {"cfg/default.yaml": "0" * 64}
    made = {"training_code": old, "git_revision": "0" * 40}
    assert _code_changes(made, {"training_code": now}) == (
        f"it predates the fingerprint of recorder.py and its git revision {'0' * 40} is not in a checkout here"
        " to compare with"
    )
    assert _code_changes({**made, "training_code": {**old, "losses/cwd.py": "0" * 64}}, {"training_code": now}) == (
        "losses/cwd.py changed since"  # a hashed file that changed: no need to ask git
    )
    root = Path(yolokd.__file__).resolve().parents[2]
    log = shutil.which("git") and subprocess.run(
        ["git", "-C", str(root), "log", "-2", "--format=%H", "--", "src/yolokd/recorder.py"],
        capture_output=True,
        text=True,
    )
    revs = log.stdout.split() if log and log.returncode == 0 else []
    if len(revs) < 2:
        pytest.skip("not a git checkout with recorder.py's history (the wheel's copy, or a shallow clone)")
    last, before = revs  # the last commit that changed recorder.py, and one with an older recorder.py
    assert _code_changes({**made, "git_revision": last}, {"training_code": now}) is None
    assert _code_changes({**made, "git_revision": before}, {"training_code": now}) == "recorder.py changed since"
    # a record from before fingerprints: every training-code file is compared with its revision
    assert "recorder.py" not in (_code_changes({"git_revision": last}, {"training_code": now}) or "")
    whole = _code_changes({"git_revision": before}, {"training_code": now})
    assert whole.endswith(" changed since") and "recorder.py" in whole


NOT_TRAINING = set(COMMON)  # the settings no record needs to compare: teacher (fingerprinted), method (label), guard
RELEVANT = {m: keys for m in METHODS if (keys := relevant(m))}  # what a record compares, per method


def test_every_yolokd_setting_is_checked_when_a_record_is_reused():
    """A record's code fingerprint leaves the defaults' file out because each run's settings, defaults
    included, are checked from its args.yaml (RELEVANT, per method): every setting must be covered there."""

    checked = {k for keys in RELEVANT.values() for k in keys}
    assert set(KD_DEFAULTS) - checked - NOT_TRAINING == set()
    assert NOT_TRAINING <= set(KD_DEFAULTS)


# A non-default value of every setting that could change training (NOT_TRAINING left out)
ALTERED = {"kd_tau": 2.0, "kd_weight": 3.0, "kd_softmax": "sqrt_hw", "kd_attn_mode": "teacher", "kd_spatial_kernel": 3,
           "kd_channel_reduction": 4, "kd_norm": "channel", "kd_schedule": "cosine", "kd_stop": 0.5,
           "kd_score_tau": 0.5, "kd_cls": 2.0, "kd_box": 2.0, "kd_box_tau": 3.0, "kd_precision": "bf16",
           "unlabeled": ".", "unlabeled_ratio": 2.0, "kd_unlabeled": 2.0, "pseudo_conf": 0.5}  # fmt: skip


def _what_trains(kd: dict) -> tuple:
    """What a run with these settings would train: the distiller's loss on fixed outputs at the middle epoch of
    10 (its weights, terms, schedule and stop included) and its parameters' shapes."""
    from test_distiller import S_CH, T_CH, outputs

    from yolokd.distiller import build_distiller

    kd = check_kd_settings(kd, require_teacher=False)
    torch.manual_seed(0)
    d = build_distiller(kd, S_CH, T_CH, reg_max=4)
    d.set_epoch(6, 10, kd["kd_schedule"], kd["kd_stop"])
    loss = d(outputs(S_CH, 0), outputs(T_CH, 1))["kd_loss"].item()
    return round(loss, 5), [tuple(p.shape) for p in d.parameters()]


@pytest.mark.parametrize("method", sorted(m for m in RELEVANT if distils(m)))  # pseudo: no distiller to probe
def test_each_setting_that_changes_a_methods_training_is_checked_for_that_method(method):
    """Per method, not pooled over methods: a setting that changes what a method trains must be in its RELEVANT
    (a record reused across a change of it would pool different training)."""
    assert set(ALTERED) == set(KD_DEFAULTS) - NOT_TRAINING and all(ALTERED[k] != KD_DEFAULTS[k] for k in ALTERED)
    base = {"kd_method": method, **({"kd_cls": 1.0} if method == "response" else {})}
    before = _what_trains(base)
    changes = [k for k, v in ALTERED.items() if _what_trains({**base, k: v}) != before]
    assert "kd_schedule" in changes and ("kd_tau" in changes or method == "response")  # the probe sees changes
    assert set(changes) <= set(RELEVANT[method]), set(changes) - set(RELEVANT[method])


def test_how_unlabeled_images_would_be_used_counts_only_where_a_run_has_some(tmp_path):
    """A run without unlabeled images made under another unlabeled_ratio default trained the same (the default
    went from 1 to 3 with the label-scarce confirmation); with a pool, the ratio and weight are checked."""
    from yolokd.records import check_kd_defaults

    (tmp_path / "args.yaml").write_text("kd_method: cwd\nunlabeled: null\nunlabeled_ratio: 1.0\nkd_unlabeled: 2.0\n")
    check_kd_defaults(tmp_path, {"kd_method": "cwd"})  # no pool either side: reused
    (tmp_path / "args.yaml").write_text(f"kd_method: cwd\nunlabeled: {tmp_path.resolve()}\nunlabeled_ratio: 1.0\n")
    with pytest.raises(SettingsError, match=r"unlabeled_ratio: 1.0 -> 3.0"):
        check_kd_defaults(tmp_path, {"kd_method": "cwd", "unlabeled": str(tmp_path.resolve())})
    with pytest.raises(SettingsError, match=r"unlabeled: .* -> None"):
        check_kd_defaults(tmp_path, {"kd_method": "cwd"})  # the pool itself still counts


def test_save_record_replaces_a_record_whole_or_not_at_all(tmp_path, monkeypatch):
    run, records = tmp_path / "run", tmp_path / "records"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_text("weights")
    (run / "metrics.json").write_text("{}")
    (run / "args.yaml").write_text("epochs: 1\n")
    save_record(run, records, {"epochs": 1}, {})
    save_record(run, records, {"epochs": 2}, {})
    assert [p.name for p in records.iterdir()] == ["run"] and has_record(records / "run")
    rename = Path.rename

    def fails_into_place(self, target):  # the new record cannot be moved into place (a full disk, say)
        if self.name.startswith(".run.") and not self.name.endswith(".old"):
            raise OSError("No space left on device")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", fails_into_place)
    with pytest.raises(OSError, match="No space"):
        save_record(run, records, {"epochs": 3}, {})
    assert [p.name for p in records.iterdir()] == ["run"]  # no debris, and the old record kept
    assert json.loads((records / "run" / "yolokd_run.json").read_text()) == {"epochs": 2}


def test_the_code_fingerprint_ignores_comments_and_docstrings_only():
    """Records stay valid through a comment or docstring edit of the code that trains, never through a code edit."""
    plain = "def f(x):\n    return x + 1\n"
    assert fingerprint.code_sha256('def f(x):\n    """Add one."""\n    return x + 1  # one\n') == (
        fingerprint.code_sha256(plain)
    )
    assert fingerprint.code_sha256(plain.replace("+ 1", "+ 2")) != fingerprint.code_sha256(plain)


def test_a_record_without_fingerprints_or_from_another_folder_is_refused_with_the_reason(tmp_path):
    from yolokd.cfg import SettingsError
    from yolokd.records import load_record

    over = {"kd_method": "cwd", "data": "/work/a/data.yaml", "teacher": "/work/a/teacher.pt", "epochs": 2}
    inputs = {"data": {"sha256": "d"}, "teacher": {"sha256": "t"}}
    env = {"versions": {"yolokd": "1", "torch": "2", "ultralytics": "3"}, "training_code": {}}
    rec = tmp_path / "cwd-s0"
    rec.mkdir()
    (rec / "record.json").write_text(json.dumps({"comparison": env}))
    (rec / "metrics.json").write_text(json.dumps({"map50": 0.5}))
    (rec / "args.yaml").write_text(f"kd_tau: {KD_DEFAULTS['kd_tau']}\n")  # the default, whatever it is

    def load(made: dict, **changes):
        (rec / "yolokd_run.json").write_text(json.dumps(made))
        return load_record(rec, {**over, **changes}, "cwd", inputs, env)

    assert load({**over, "label": "cwd", "inputs": inputs}) == {"map50": 0.5}
    with pytest.raises(SettingsError, match="records no input fingerprints"):
        load({**over, "label": "cwd"})
    moved = {**over, "teacher": "/work/b/teacher.pt", "label": "cwd", "inputs": inputs}
    with pytest.raises(SettingsError, match=r"inputs at other paths \(teacher: /work/b/teacher.pt\)"):
        load(moved)
    pool = {"unlabeled": "/work/a/f0/unlabeled-0.25.txt"}  # a label-scarce fold's pool, in a moved work folder
    with pytest.raises(SettingsError, match=r"inputs at other paths \(unlabeled: /work/b/f0/unlabeled-0.25.txt\)"):
        load({**over, "unlabeled": "/work/b/f0/unlabeled-0.25.txt", "label": "cwd", "inputs": inputs}, **pool)
    with pytest.raises(SettingsError, match=r"other settings \(epochs: 2 -> 3\)"):
        load({**over, "label": "cwd", "inputs": inputs}, epochs=3)
