"""yolokd leaves the user's environment alone: importing it sets nothing, Ultralytics' settings apply (its config
folder, runs_dir), a bare weights name resolves as Ultralytics resolves it, and training gives the process its
torch thread count back. Offline is the tests' own rule (conftest.py); no test here reaches the network."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY, run_cli

from yolokd.cfg import SettingsError

YOLOKD = str(Path(sys.executable).with_name("yolokd"))
ULTRALYTICS_ENV = ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "YOLO_CONFIG_DIR")


def _python(code: str, **env: str) -> str:
    """The last line ``code`` prints in a fresh interpreter without the tests' Ultralytics variables (plus ``env``)."""
    clean = {k: v for k, v in os.environ.items() if k not in ULTRALYTICS_ENV}
    r = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1]


def test_import_yolokd_sets_no_ultralytics_variable():
    code = (
        f"import os, sys, yolokd; print([os.environ.get(k) for k in {ULTRALYTICS_ENV!r}], 'ultralytics' in sys.modules)"
    )
    assert _python(code) == "[None, None, None] False"


def test_ultralytics_reads_its_own_config_folder_under_yolokd(tmp_path):
    """The user's settings.json (runs_dir, datasets_dir, loggers) is Ultralytics' default one, not a yolokd folder."""
    keys = ("YOLO_CONFIG_DIR", "YOLO_AUTOINSTALL")
    code = "import os, yolokd.integration.api; from ultralytics.utils import SETTINGS_FILE as f; "
    code += f"print(f, *map(os.getenv, {keys!r}))"
    env = {"YOLO_OFFLINE": "1", "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    alone = _python(code.replace("yolokd.integration.api", "ultralytics"), **env)  # where it looks without yolokd
    assert alone.endswith("settings.json None None") and _python(code, **env) == alone


def test_runs_go_to_the_runs_dir_of_the_users_ultralytics_settings(tmp_path, data):
    """`yolokd train` without project= writes where `yolo train` would: runs_dir/detect/train."""
    from ultralytics.utils import SettingsManager  # the settings file that process will read, written from here

    runs_dir, here = tmp_path / "my-runs", tmp_path / "work"
    here.mkdir()
    SettingsManager(tmp_path / "config" / "Ultralytics" / "settings.json").update(runs_dir=str(runs_dir))
    pytest_vars = ("PYTEST_CURRENT_TEST", "GITHUB_ACTIONS")  # Ultralytics sends a test's runs to its own folder
    env = {k: v for k, v in os.environ.items() if k not in pytest_vars} | {"YOLO_CONFIG_DIR": str(tmp_path / "config")}
    cmd = [YOLOKD, "train", "model=yolov8n.yaml", f"data={data}", "kd_method=none", "epochs=1", "imgsz=64",
           "batch=4", "workers=0", "device=cpu", "plots=False"]  # fmt: skip
    r = subprocess.run(cmd, cwd=here, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Creating new Ultralytics Settings" not in r.stdout + r.stderr  # it read the settings written above
    assert (runs_dir / "detect" / "train" / "weights" / "best.pt").is_file()
    assert not (here / "runs").exists()


def _no_download(*args, **kwargs):
    raise AssertionError(f"a download was attempted: {args} {kwargs}")


def test_offline_a_bare_weights_name_is_one_line_naming_the_file(data, monkeypatch):
    from ultralytics.utils import downloads

    from yolokd import distill

    monkeypatch.setattr(downloads, "safe_download", _no_download)  # offline, Ultralytics is not even asked
    code, out = run_cli(
        "train", "model=yolov8n.yaml", f"data={data}", "teacher=yolov8l.pt", "kd_method=cwd", "epochs=1", "imgsz=64"
    )
    assert code == 2 and "Traceback" not in out, out[-2000:]
    error = [line for line in out.splitlines() if line.startswith("yolokd: error:")]
    assert len(error) == 1 and "teacher 'yolov8l.pt' is not in the current folder" in error[0]
    assert "YOLO_OFFLINE is set" in error[0] and "`yolo predict model=yolov8l.pt`" in error[0]
    with pytest.raises(SettingsError, match=r"student 'yolov8n.pt' .*YOLO_OFFLINE is set.*model=yolov8n.pt"):
        distill("yolov8n.pt", data=str(data), method="none")


def test_offline_a_bare_name_in_ultralytics_weights_dir_is_used(tmp_path, monkeypatch):
    from ultralytics.utils import SETTINGS

    from yolokd.integration.weights import resolve_weights

    (tmp_path / "yolov8l.pt").write_bytes(b"weights")
    monkeypatch.setitem(SETTINGS, "weights_dir", str(tmp_path))
    assert resolve_weights("yolov8l.pt", "teacher") == str(tmp_path / "yolov8l.pt")


@pytest.fixture
def online(monkeypatch):
    """Ultralytics believes it is online; any real connection fails the test instead of leaving the machine."""
    from ultralytics import utils

    def refuse(*args, **kwargs):
        raise AssertionError("a test reached for the network")

    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    monkeypatch.setattr(utils, "ONLINE", True)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_online_a_bare_teacher_name_is_downloaded_by_ultralytics_and_used(online, teacher, data, tmp_path, monkeypatch):
    from ultralytics.utils import downloads

    from yolokd import DistillationTrainer

    asked = []

    def fake_download(url, file, **kwargs):  # Ultralytics' release download, as if it had fetched the file
        asked.append(url)
        shutil.copy(teacher, file)

    monkeypatch.setattr(downloads, "safe_download", fake_download)
    monkeypatch.chdir(tmp_path)  # Ultralytics downloads into the current folder
    over = dict(model="yolov8n.yaml", data=str(data), teacher="yolov8l.pt", kd_method="cwd", **TINY)
    trainer = DistillationTrainer(overrides={**over, "project": str(tmp_path), "name": "bare"})
    assert asked and asked[0].endswith("/yolov8l.pt") and "github.com/ultralytics/assets" in asked[0]
    assert trainer.args.teacher == str(tmp_path / "yolov8l.pt") and trainer.teacher is not None
    assert yaml.safe_load((tmp_path / "bare" / "args.yaml").read_text())["teacher"] == str(tmp_path / "yolov8l.pt")


def test_online_a_failed_download_is_one_line(online, monkeypatch, tmp_path):
    from ultralytics.utils import downloads

    from yolokd.integration.weights import resolve_weights

    def fail(url, **kwargs):
        raise ConnectionError(f"❌  Download failure for {url}.\nRetry limit reached.")

    monkeypatch.setattr(downloads, "safe_download", fail)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"its download failed \(❌ Download failure .* Retry limit") as e:
        resolve_weights("yolov8l.pt", "teacher")
    assert "\n" not in str(e.value)


def test_the_trainer_entry_point_applies_the_recipe_and_gives_the_threads_back(data, tmp_path):
    """`YOLO(...).train(trainer=DistillationTrainer)` trains as `yolokd train` does: the default recipe's
    optimizer where none is given; every CPU core during training, the process's own thread count after it."""
    from ultralytics import YOLO

    from yolokd import DistillationTrainer
    from yolokd.cfg import RECIPES

    cores = min(8, os.cpu_count() or 1)  # every core, up to 8 (yolokd._env.all_cores)
    mine = cores + 1  # neither that nor Ultralytics' cpu_count - 1 (its validator sets that at the end)
    before, during = torch.get_num_threads(), []
    try:
        torch.set_num_threads(mine)
        model = YOLO("yolov8n.yaml")
        model.add_callback("on_train_epoch_start", lambda tr: during.append(torch.get_num_threads()))
        model.train(trainer=DistillationTrainer, data=str(data), kd_method="none", project=str(tmp_path), **TINY)
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert during == [cores] and after == mine
    recipe, args = RECIPES["default"], model.trainer.args
    assert type(model.trainer.optimizer).__name__ == recipe["optimizer"] == args.optimizer
    assert (args.lr0, args.momentum) == (recipe["lr0"], recipe["momentum"])


def test_the_trainer_takes_recipe_paper_and_explicit_settings_win(data, tmp_path):
    from ultralytics.cfg import DEFAULT_CFG

    from yolokd import DistillationTrainer

    over = dict(model="yolov8n.yaml", data=str(data), project=str(tmp_path), kd_method="none", **TINY)
    paper = DistillationTrainer(overrides={**over, "name": "paper", "recipe": "paper", "lr0": 0.01}).args
    assert (paper.optimizer, paper.lr0, paper.momentum) == ("Adam", 0.01, 0.9)  # lr0 given: it wins
    assert (paper.kd_method, paper.kd_tau, paper.kd_weight) == ("none", 0.5, 1.0)
    sgd = DistillationTrainer(overrides={**over, "name": "sgd", "optimizer": "SGD"}).args
    assert (sgd.optimizer, sgd.lr0, sgd.momentum) == ("SGD", DEFAULT_CFG.lr0, DEFAULT_CFG.momentum)
    with pytest.raises(SettingsError, match="recipe=mine is not known"):
        DistillationTrainer(overrides={**over, "name": "mine", "recipe": "mine"})
