"""Bad input gets a clear message before training; numerical and crash safety; reproducibility."""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, check_final_metrics, run_cli
from torch import nn

from yolokd import distill
from yolokd.cfg import SettingsError, check_kd_settings
from yolokd.criterion import KDCriterion
from yolokd.data.synthetic import NAMES, make_dataset
from yolokd.distiller import Outputs, build_distiller
from yolokd.integration.models import student_outputs

YOLOKD = str(Path(sys.executable).with_name("yolokd"))


def save_untrained(cfg: str, path: Path, names: dict | None = None) -> Path:
    """A checkpoint of an untrained model built from ``cfg``, as Ultralytics would load it."""
    from ultralytics import YOLO

    model = YOLO(cfg).model
    model.names = dict(names or NAMES)
    torch.save({"model": model.half(), "train_args": {}}, path)
    return path


def rows(run: Path) -> list[dict[str, str]]:
    with open(run / "results.csv", newline="") as f:
        return [{k.strip(): v.strip() for k, v in r.items()} for r in csv.DictReader(f)]


def train(data, runs, name, **kw):
    return distill("yolov8n.yaml", data=str(data), project=str(runs), name=name, **{**TINY, **kw})


# --- bad input -----------------------------------------------------------------------------------


def test_teacher_that_is_not_a_checkpoint(tmp_path, data, runs):
    bad = tmp_path / "notes.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(SettingsError, match="could not be loaded as an Ultralytics checkpoint"):
        train(data, runs, "bad-teacher", teacher=bad, method="cwd")


def test_teacher_or_student_that_is_not_a_detector(tmp_path, data, runs, teacher):
    cls = save_untrained("yolov8n-cls.yaml", tmp_path / "cls.pt")
    with pytest.raises(SettingsError, match="teacher is not an Ultralytics detect, segment, pose or obb model"):
        train(data, runs, "cls-teacher", teacher=cls, method="cwd")
    with pytest.raises(SettingsError, match="student 'yolov8n-cls.yaml' is a classify model"):
        distill("yolov8n-cls.yaml", teacher=teacher, data=str(data), method="cwd", project=str(runs), **TINY)


def test_teacher_with_other_feature_levels(tmp_path, data, runs):
    p6 = save_untrained("yolov8n-p6.yaml", tmp_path / "p6.pt")
    with pytest.raises(SettingsError, match="feature levels differ"):
        train(data, runs, "p6-teacher", teacher=p6, method="cwd", imgsz=64)


def test_teacher_with_other_class_names(tmp_path, data, runs, caplog):
    other = save_untrained("yolov8s.yaml", tmp_path / "other.pt", names={0: "car", 1: "bus"})
    for method in ("native", "cwd_attn"):
        with pytest.raises(SettingsError, match=r"trained on classes \['car', 'bus'\].*\['box', 'disc'\]"):
            train(data, runs, f"names-{method}", teacher=other, method=method)
    for kd in ({"kd_cls": 1.0}, {"kd_box": 1.0}, {"kd_method": "cwd_attn", "kd_attn_mode": "score"}):
        with pytest.raises(SettingsError, match="use the teacher's class scores"):  # even when opted in
            train(data, runs, "names-head", teacher=other, **{"method": "cwd", "kd_allow_class_mismatch": True, **kd})
    with caplog.at_level(logging.WARNING):
        m = train(data, runs, "names-optin", teacher=other, method="cwd", kd_allow_class_mismatch=True)
    check_final_metrics(m, runs / "names-optin", data)  # trained and validated under the dataset's own classes
    assert "distilling features only" in caplog.text


def test_imgsz_not_a_stride_multiple_says_what_happens(data, runs, teacher, caplog):
    with caplog.at_level(logging.WARNING):
        train(data, runs, "imgsz", teacher=teacher, method="cwd", imgsz=70)
    assert "imgsz=70 is not a multiple of the student's largest stride 32" in caplog.text
    assert "imgsz=96" in caplog.text


# --- numerical safety ----------------------------------------------------------------------------


class _Teacher:
    """Stands in for the teacher runner; returns the features and head outputs it is given."""

    def __init__(self, feats, scores=None, boxes=None):
        self.model, self.out = nn.Identity(), Outputs(feats, scores, boxes)

    def __call__(self, img):
        return self.out


@pytest.mark.parametrize("bad", ["kd_cwd", "kd_cls", "kd_box"])
def test_non_finite_kd_never_reaches_the_weights(bad, caplog):
    student = nn.ModuleDict({"feat": nn.Conv2d(3, 8, 1), "cls": nn.Conv2d(8, 1, 1), "box": nn.Conv2d(8, 16, 1)})
    kd = check_kd_settings({"kd_attn_mode": "student", "kd_cls": 1.0, "kd_box": 1.0}, require_teacher=False)
    distiller = build_distiller(kd, [8], [16], reg_max=4)
    base = lambda preds, batch: (preds["feats"][0].sum().reshape(1) * 0, {"box_loss": torch.zeros(())})  # noqa: E731
    img = torch.randn(2, 3, 4, 4)
    for value, finite in ((float("nan"), False), (1.0, True)):
        t = {"kd_cwd": torch.ones(2, 16, 4, 4), "kd_cls": torch.zeros(2, 1, 16), "kd_box": torch.zeros(2, 16, 16)}
        t[bad] = torch.full_like(t[bad], value)
        teacher = _Teacher([t["kd_cwd"]], t["kd_cls"], t["kd_box"])
        crit = KDCriterion(base, teacher, distiller, student_outputs, logging.getLogger("yolokd-test").warning)
        student.zero_grad(), distiller.zero_grad()
        f = student["feat"](img)
        preds = {"feats": [f], "scores": student["cls"](f).flatten(2), "boxes": student["box"](f).flatten(2)}
        loss, items = crit(preds, {"img": img})
        loss.sum().backward()
        grads = [p.grad for p in [*student.parameters(), *distiller.parameters()] if p.grad is not None]
        assert all(torch.isfinite(g).all() for g in grads)
        assert torch.isfinite(loss).all() and all(torch.isfinite(items[k]) for k in ("kd_cwd", "kd_cls", "kd_box"))
        assert any(g.abs().sum() > 0 for g in grads) == finite  # a skipped batch contributes no gradient at all
        assert int(crit.skipped) == (0 if finite else 1)
        with caplog.at_level(logging.WARNING):
            crit.update()
        assert ("not finite on 1 of 1 batches" in caplog.text) == (not finite)
        caplog.clear()


def test_images_without_labels(tmp_path, runs, teacher):
    data = make_dataset(tmp_path / "data", n_train=8, n_val=4, imgsz=64, seed=3)
    for label in sorted((tmp_path / "data" / "labels" / "train").glob("*.txt"))[::2]:
        label.write_text("")  # half of the training images are backgrounds
    train(data, runs, "backgrounds", teacher=teacher, method="cwd_attn")
    assert float(rows(runs / "backgrounds")[-1]["train/kd_cwd"]) > 0


# --- crash safety --------------------------------------------------------------------------------


def test_kill_9_then_resume_finishes_the_run(data, runs, teacher):
    run = runs / "killed"
    tiny = [f"{k}={v}" for k, v in {**TINY, "epochs": 3}.items()]
    cmd = [YOLOKD, "train", "model=yolov8n.yaml", f"data={data}", f"teacher={teacher}", "kd_method=cwd_attn",
           f"project={runs}", "name=killed", *tiny]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (run / "weights" / "last.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-way through epoch 2
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    rc, out = run_cli("train", "resume", f"model={run / 'weights' / 'last.pt'}")  # a new yolokd, here in-process
    assert rc == 0 and "restored distillation modules" in out, out[-3000:]
    assert [row["epoch"] for row in rows(run)][-1] == "3"
    assert not list((run / "weights").glob(".*.tmp"))


@pytest.mark.parametrize("target", ["last", "epoch"])
def test_a_failed_write_leaves_the_previous_checkpoint_intact(target, data, runs, teacher, monkeypatch):
    """A write that fails half-way (disk full, kill) never leaves a truncated last.pt or epoch{N}.pt."""
    from ultralytics import YOLO

    from yolokd import DistillationTrainer

    real_write = Path.write_bytes

    def arm(trainer):
        if trainer.epoch == 1:  # the second save fails half-way through writing

            def half_write(self, data):
                real_write(self, data[: len(data) // 2])
                if target in self.name:
                    raise OSError("disk full")
                real_write(self, data)

            monkeypatch.setattr(Path, "write_bytes", half_write)

    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_epoch_end", arm)
    with pytest.raises(OSError, match="disk full"):
        model.train(trainer=DistillationTrainer, data=str(data), teacher=str(teacher), kd_method="cwd",
                    project=str(runs), name=f"halfwrite-{target}", save_period=1, **{**TINY, "epochs": 2})  # fmt: skip
    monkeypatch.undo()
    wdir = runs / f"halfwrite-{target}" / "weights"
    assert torch.load(wdir / "epoch0.pt", weights_only=False)["epoch"] == 0
    assert not (wdir / "epoch1.pt").exists()  # never half-written in place
    assert torch.load(wdir / "last.pt", weights_only=False)["epoch"] == (0 if target == "last" else 1)


# --- reproducibility and checkpoints -------------------------------------------------------------


def test_same_seed_same_metrics(data, runs, teacher):
    metrics = []
    for name in ("repro-a", "repro-b"):
        train(data, runs, name, teacher=teacher, method="cwd_attn", epochs=2)
        metrics.append([{k: v for k, v in r.items() if k != "time"} for r in rows(runs / name)])
    assert metrics[0] == metrics[1]


def test_checkpoint_safe_load_size_and_untouched_teacher(data, runs, teacher):
    digest = hashlib.sha256(teacher.read_bytes()).hexdigest()
    mtime = teacher.stat().st_mtime_ns
    train(data, runs, "plain", method="none")
    train(data, runs, "distilled", teacher=teacher, method="cwd_attn")
    assert hashlib.sha256(teacher.read_bytes()).hexdigest() == digest and teacher.stat().st_mtime_ns == mtime
    plain, distilled = (runs / n / "weights" / "best.pt" for n in ("plain", "distilled"))
    assert abs(distilled.stat().st_size / plain.stat().st_size - 1) < 0.03
    code = "import sys; from ultralytics import YOLO; YOLO(sys.argv[1]); print('loaded')"
    env = {**os.environ, "ULTRALYTICS_SAFE_LOAD": "1"}
    r = subprocess.run([sys.executable, "-c", code, str(distilled)], capture_output=True, text=True, env=env,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0 and "loaded" in r.stdout, r.stderr[-3000:]


def test_a_folder_in_use_refuses_a_second_process_and_a_dead_holder_is_taken_over(tmp_path, data, teacher):
    """Two terminals on one comparison (or one run folder): the second is refused, naming the holder's PID."""
    from yolokd.lock import FolderLock

    folders = {"compare": tmp_path / "cmp", "train": tmp_path / "train-run"}
    code = "import sys, time\nfrom yolokd.lock import FolderLock\nwith FolderLock(sys.argv[1]):\n"
    code += " print('held', flush=True)\n time.sleep(600)"
    tiny = ["epochs=1", "imgsz=64", "batch=4", "workers=0", "device=cpu", "plots=False"]
    for mode, folder in folders.items():
        holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "held"
        where = [f"project={folder.parent}", f"name={folder.name}"]
        if mode == "compare":
            args = ["compare", f"data={data}", f"teacher={teacher}", "methods=none", "seeds=1", *where, *tiny]
        else:
            args = ["train", f"data={data}", "kd_method=none", "exist_ok=True", *where, *tiny]
        rc, out = run_cli(*args)  # the second yolokd: this process, another PID than the holder's
        assert rc == 2 and f"is in use by another yolokd process (PID {holder.pid} on" in out, out[-2000:]
        assert "Traceback" not in out
        assert sorted(p.name for p in folder.iterdir()) == [".yolokd.lock"]  # the second process wrote nothing
        holder.send_signal(signal.SIGKILL)  # the holder dies without cleaning up: its lock file stays
        holder.wait()
        assert (folder / ".yolokd.lock").is_file()
        with FolderLock(folder):  # ... and is taken over
            assert f"PID {os.getpid()} " in (folder / ".yolokd.lock").read_text()


def test_a_checkpoint_with_other_optimizer_groups_is_refused_by_name():
    """yolokd 0.1.0 gave the distiller one optimizer group; resuming such a run names the cause, not torch's error."""
    from types import SimpleNamespace

    from yolokd.integration.trainer import DistillationTrainer

    params = [torch.nn.Parameter(torch.zeros(2)) for _ in range(4)]
    now = torch.optim.SGD([{"params": [p]} for p in params], lr=0.1)  # 4 groups, as 0.2.0 makes
    before = torch.optim.SGD([{"params": params[:3]}, {"params": params[3:]}], lr=0.1).state_dict()  # 2 groups
    fake = SimpleNamespace(optimizer=now, args=SimpleNamespace(resume="runs/old/weights/last.pt"))
    with pytest.raises(SettingsError, match="has 2 parameter groups and this run's has 4.*with the yolokd that began"):
        DistillationTrainer._load_checkpoint_state(fake, {"optimizer": before})


def test_a_grayscale_checkpoint_is_probed_with_its_own_channels():
    from ultralytics.nn.tasks import DetectionModel

    from yolokd.integration.models import check_runs

    check_runs(DetectionModel("yolov8n.yaml", ch=1, verbose=False), "gray.pt", "8.4.190", "student")  # no refusal


def test_a_refused_trainer_does_not_keep_its_run_folder_held(tmp_path, data, runs):
    """The lock is taken before the teacher is checked; a refusal must release it (a notebook retries in-process)."""
    from yolokd.integration.trainer import DistillationTrainer
    from yolokd.lock import FolderLock

    other = save_untrained("yolov8s.yaml", tmp_path / "other.pt", names={0: "car", 1: "bus"})
    (runs / "refused").mkdir()  # an existing run folder: held from Ultralytics' resume check on
    args = dict(model="yolov8n.yaml", data=str(data), teacher=str(other), kd_method="cwd", project=str(runs))
    with pytest.raises(SettingsError, match="trained on classes") as refused:  # kept alive, as IPython keeps it
        DistillationTrainer(overrides={**args, "name": "refused", **TINY})
    assert refused.tb is not None  # the traceback still references the half-built trainer
    with FolderLock(runs / "refused"):  # free again
        with pytest.raises(SettingsError, match="held by this same process"):
            FolderLock(runs / "refused").acquire()


def test_nan_recovery_rolls_the_distiller_back_and_keeps_teacher_and_distiller_out_of_the_ema(data, runs, teacher):
    """Ultralytics reloads last.pt after a NaN loss and rebuilds the EMA from the student (a deep copy)."""
    from ultralytics import YOLO

    from yolokd import DistillationTrainer
    from yolokd.criterion import KDCriterion

    seen: dict = {}

    def saved(trainer):
        if trainer.epoch == 0:
            seen["epoch0"] = torch.load(trainer.wdir / "kd_last.pt", weights_only=True)["distiller"]

    def poison(trainer):
        if trainer.epoch == 1 and seen.get("starts") == 1:
            trainer.loss = torch.tensor(float("nan"))  # the first pass of epoch 1 ends with a NaN loss
            seen["trained"] = {k: v.clone() for k, v in trainer.distiller.state_dict().items()}

    def epoch_start(trainer):
        if trainer.epoch == 1:
            seen["starts"] = seen.get("starts", 0) + 1
            if seen["starts"] == 2:  # epoch 1 again, after the recovery
                seen["redo"] = {k: v.clone() for k, v in trainer.distiller.state_dict().items()}
                seen["ema_criterion"] = getattr(trainer.ema.ema, "criterion", None)

    model = YOLO("yolov8n.yaml")  # nbs=4: an optimizer step on every batch, so epoch 1 changes the distiller
    for event, fn in (("on_model_save", saved), ("on_train_batch_end", poison), ("on_train_epoch_start", epoch_start)):
        model.add_callback(event, fn)
    model.train(
        trainer=DistillationTrainer,
        data=str(data),
        teacher=str(teacher),
        kd_method="cwd_attn",
        project=str(runs),
        name="nan-recovery",
        **{**TINY, "epochs": 3, "nbs": 4},
    )
    assert "redo" in seen, "Ultralytics did not recover"
    assert any(not torch.equal(seen["trained"][k], v) for k, v in seen["epoch0"].items())  # epoch 1 changed it
    assert all(torch.equal(seen["redo"][k], v) for k, v in seen["epoch0"].items())  # the distiller of last.pt
    assert not isinstance(seen["ema_criterion"], KDCriterion)  # the EMA validates with the plain criterion


def test_distiller_gradients_are_clipped_its_1d_params_not_decayed_and_oom_rescales_its_decay(data, runs, teacher):
    from ultralytics import YOLO

    from yolokd import DistillationTrainer

    seen: dict = {"norms": []}
    pre: dict = {}

    def start(trainer):
        params = list(trainer.distiller.parameters())
        for p in params:  # the gradient of each backward pass, before any clipping (accumulated like .grad)
            p.register_hook(lambda g, p=p: pre.__setitem__(p, pre.get(p, 0) + g))

        def record(*_):  # runs after yolokd's own pre-step hook, which clips
            clipped = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))
            raw = torch.linalg.vector_norm(torch.stack([g.norm() for g in pre.values()]))
            seen["norms"].append((float(raw), float(clipped)))
            pre.clear()

        trainer.optimizer.register_step_pre_hook(record)
        groups = {g["param_group"]: g for g in trainer.optimizer.param_groups}
        seen["1d"] = {p.ndim for p in groups["kd_no_decay"]["params"]}, groups["kd_no_decay"]["weight_decay"]
        seen["2d"] = {p.ndim for p in groups["kd"]["params"]}, groups["kd"]["weight_decay"] > 0

    def end(trainer):  # what an out-of-memory retry does: a smaller batch, the pipeline rebuilt
        trainer.batch_size //= 2
        trainer._build_train_pipeline()
        groups = {g["param_group"]: g for g in trainer.optimizer.param_groups}
        seen["wd"] = groups["kd"]["weight_decay"], groups["weight"]["weight_decay"], seen["wd0"]

    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_start", start)
    model.add_callback("on_train_start", lambda t: seen.__setitem__("wd0", t.optimizer.param_groups[0]["weight_decay"]))
    model.add_callback("on_train_end", end)
    model.train(trainer=DistillationTrainer, data=str(data), teacher=str(teacher), kd_method="cwd_attn",
                kd_weight=1e4, project=str(runs), name="hygiene", **{**TINY, "epochs": 1, "nbs": 6})  # fmt: skip
    assert seen["1d"] == ({1}, 0.0) and seen["2d"] == ({2, 4}, True)
    assert max(raw for raw, _ in seen["norms"]) > 10  # the check has teeth: unclipped they are larger
    assert all(clipped <= 10 * (1 + 1e-4) and (raw > 10 or abs(raw - clipped) < 1e-4) for raw, clipped in seen["norms"])
    kd_wd, weight_wd, before = seen["wd"]
    assert kd_wd == weight_wd != before  # batch 4 -> 2 with nbs 6 changes the scaled decay


def test_a_checkpoint_that_loads_but_does_not_run_names_file_versions_and_fix(tmp_path, data, runs, teacher):
    """A checkpoint pickled by another Ultralytics release or a fork: a module lacks an attribute its forward uses."""
    import re

    import ultralytics

    ckpt = torch.load(teacher, weights_only=False)
    model = ckpt.get("ema") or ckpt["model"]
    del model.model[0]._modules["act"]  # Conv.forward calls self.act: AttributeError deep inside Ultralytics
    ckpt["version"] = "8.3.0-fork"
    foreign = tmp_path / "foreign.pt"
    torch.save(ckpt, foreign)
    n = len(model.state_dict())
    expected = (
        rf"'{foreign}' loads but does not run with the installed Ultralytics {re.escape(ultralytics.__version__)} "
        r"\(it was written by "
        rf"Ultralytics 8\.3\.0-fork.*AttributeError.*YOLO\('yolov8s\.yaml'\)\.load\('{foreign}'\) \({n} of {n} tensors"
    )
    with pytest.raises(SettingsError, match="teacher " + expected):
        distill("yolov8n.yaml", teacher=foreign, data=data, method="cwd", project=str(runs), name="foreign-t", **TINY)
    with pytest.raises(SettingsError, match="student " + expected):
        distill(foreign, data=data, method="none", project=str(runs), name="foreign-s", **TINY)
    rc, out = run_cli(
        "train", f"model={foreign}", f"data={data}", "kd_method=none", "epochs=1", "imgsz=64", "device=cpu"
    )
    assert rc == 2 and "does not run with the installed Ultralytics" in out, out[-2000:]
    assert "Traceback" not in out
