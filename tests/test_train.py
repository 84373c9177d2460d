"""End-to-end training on tiny generated data: CLI per method, Python API, purity, resume, cross-family."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY, _train_teacher, check_final_metrics, plain_parameter_counts, run_cli

from yolokd import DistillationTrainer, distill
from yolokd.cfg import KD_DEFAULTS, RECIPES, SettingsError


def cli_train(runs: Path, name: str, *args: str) -> Path:
    tiny = [f"{k}={v}" for k, v in TINY.items()]
    code, out = run_cli("train", "model=yolov8n.yaml", *tiny, f"project={runs}", f"name={name}", *args)
    assert code == 0 and "yolokd: mAP50" in out, out[-3000:]
    return runs / name


def results(run: Path) -> list[dict[str, str]]:
    with open(run / "results.csv", newline="") as f:
        return [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(f)]


def student_differs(run: Path, plain: Path) -> bool:
    """Whether the run's trained student (last.pt) differs from the plain student trained on the same seed, data and
    settings. A student whose features were cut from the distillation loss would equal it exactly: that run differs
    only in the distiller's own parameters, which last.pt does not hold."""
    ckpts = [torch.load(r / "weights" / "last.pt", weights_only=False) for r in (run, plain)]
    a, b = (dict((c.get("ema") or c["model"]).named_parameters()) for c in ckpts)
    assert a.keys() == b.keys()
    return any(not torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def plain(data, runs) -> Path:
    """The plain YOLOv8n student of TINY's seed, trained by ``distill()`` as the distilled ones below are."""
    distill("yolov8n.yaml", data=data, method="none", project=str(runs), name="distill-plain", **TINY)
    return runs / "distill-plain"


def test_results_csv_rows_keep_the_header_with_val_false(data, teacher, runs):
    """val=False validates only the last epoch; the distillation statistics are in every row, under the header."""
    args = (f"data={data}", f"teacher={teacher}", "kd_method=cwd_attn", "val=False", "epochs=2")
    run = cli_train(runs, "cli-noval", *args)
    widths = {len(line.split(",")) for line in (run / "results.csv").read_text().splitlines()}
    assert len(widths) == 1  # yolokd 0.1.0 wrote the last row with 10 more cells than the header
    rows = results(run)
    assert len(rows) == 2
    assert all(float(r["kd/w_cwd"]) == KD_DEFAULTS["kd_weight"] and 0 < float(r["attn/l0_mask"]) <= 1 for r in rows)


@pytest.mark.parametrize("method", ["none", "cwd", "cwd_attn", "native"])
def test_cli_each_method(method, data, teacher, runs):
    run = cli_train(runs, f"cli-{method}", f"data={data}", f"teacher={teacher}", f"kd_method={method}")
    assert (run / "weights" / "best.pt").is_file() and (run / "weights" / "last.pt").is_file()
    rows = results(run)
    if method in ("cwd", "cwd_attn"):
        kd = float(rows[-1]["train/kd_cwd"])
        assert kd > 0 and kd == kd  # a real, finite, positive distillation loss was logged ...
        if not (runs / "cli-none").exists():
            cli_train(runs, "cli-none", f"data={data}", "kd_method=none")
        assert student_differs(run, runs / "cli-none")  # ... and it trained the student
        assert rows[-1]["lr/pg3"] == rows[-1]["lr/pg0"]  # the kd param group follows the schedule
        assert not [k for k in rows[-1] if k.startswith("val/kd_")]  # validation runs without the teacher
        assert float(rows[-1]["kd/w_cwd"]) == KD_DEFAULTS["kd_weight"]  # the effective weight of the epoch
        assert (run / "weights" / "kd_last.pt").is_file()
        attn = {k: float(v) for k, v in rows[-1].items() if k.startswith("attn/")}
        if method == "cwd_attn":  # per-level mask mean and entropy in (0, 1], channel weight mean in (0, 1)
            assert sorted(attn) == sorted(f"attn/l{i}_{s}" for i in range(3) for s in ("mask", "entropy", "channel"))
            assert all(0 < v <= 1 for v in attn.values())
        else:
            assert not attn
    else:
        assert not [k for k in rows[-1] if k.startswith(("train/kd_", "kd/"))]
        args = yaml.safe_load((run / "args.yaml").read_text())
        if method == "native":  # Ultralytics' own distillation ran, from this teacher, at its default weight
            assert float(rows[-1]["train/dis_loss"]) > 0 and args["distill_model"] == str(teacher.resolve())
            assert args["dis"] == 6.0
        else:
            assert "train/dis_loss" not in rows[-1] and not args["distill_model"]


def test_cli_recipe_paper_reaches_the_run_and_explicit_arguments_win(data, runs):
    run = cli_train(runs, "cli-recipe", f"data={data}", "recipe=paper", "kd_method=none", "lr0=0.002")
    args = yaml.safe_load((run / "args.yaml").read_text())
    assert (args["optimizer"], args["lr0"], args["momentum"], args["kd_method"]) == ("Adam", 0.002, 0.9, "none")
    assert (args["kd_tau"], args["kd_weight"]) == (RECIPES["paper"]["kd_tau"], RECIPES["paper"]["kd_weight"])


@pytest.mark.parametrize("method", ["cwd", "cwd_attn"])
def test_checkpoints_are_plain_students(method, data, teacher, runs):
    run = runs / f"cli-{method}"
    if not run.exists():
        cli_train(runs, f"cli-{method}", f"data={data}", f"teacher={teacher}", f"kd_method={method}")
    plain = runs / "cli-none"
    if not plain.exists():
        cli_train(runs, "cli-none", f"data={data}", "kd_method=none")
    counts = plain_parameter_counts(
        plain / "weights" / "best.pt", *(run / "weights" / f for f in ("best.pt", "last.pt"))
    )
    assert len(set(counts)) == 1, counts  # same parameter count as the plain student


def test_python_api_trainer_keeps_teacher_frozen_on_the_same_batch(data, teacher, runs):
    from ultralytics import YOLO

    seen = {"teacher_in": [], "student_in": [], "grad": [], "training": []}

    def on_train_start(trainer):
        t0, s0 = trainer.teacher.model[0], trainer.model.model[0]
        t0.register_forward_pre_hook(
            lambda m, a: seen["teacher_in"].append(a[0]) or seen["grad"].append(torch.is_grad_enabled())
        )
        s0.register_forward_pre_hook(lambda m, a: seen["student_in"].append(a[0]))
        trainer.teacher_before = {k: v.clone() for k, v in trainer.teacher.state_dict().items()}

    def on_train_batch_end(trainer):
        seen["training"].append(trainer.teacher.training or any(p.requires_grad for p in trainer.teacher.parameters()))

    def on_train_end(trainer):
        after = trainer.teacher.state_dict()
        seen["unchanged"] = all(torch.equal(v, after[k]) for k, v in trainer.teacher_before.items())
        seen["groups"] = [g.get("param_group") for g in trainer.optimizer.param_groups]
        kd = [g for g in trainer.optimizer.param_groups if g.get("param_group", "").startswith("kd")]
        seen["kd_params"] = {id(p) for g in kd for p in g["params"]}
        seen["distiller_params"] = {id(p) for p in trainer.distiller.parameters()}

    model = YOLO("yolov8n.yaml")
    for event, fn in (
        ("on_train_start", on_train_start),
        ("on_train_batch_end", on_train_batch_end),
        ("on_train_end", on_train_end),
    ):
        model.add_callback(event, fn)
    metrics = model.train(
        trainer=DistillationTrainer,
        data=str(data),
        teacher=str(teacher),
        kd_method="cwd_attn",
        project=str(runs),
        name="api-trainer",
        **{**TINY, "epochs": 2},
    )
    check_final_metrics(metrics, runs / "api-trainer", data)
    assert len(seen["teacher_in"]) == 4  # 2 epochs x 2 batches: the teacher ran once per training batch, no more
    # every teacher input is exactly a tensor the student also received, in no-grad mode
    student_ids = {id(x) for x in seen["student_in"]}
    assert all(id(t) in student_ids for t in seen["teacher_in"])
    assert not any(seen["grad"])
    assert not any(seen["training"])
    assert seen["unchanged"]
    assert seen["groups"][-2:] == ["kd", "kd_no_decay"] and seen["kd_params"] == seen["distiller_params"]


@pytest.mark.parametrize(
    ("teacher_fixture", "student"),
    [
        ("teacher_yolo11", "yolov8n.yaml"),
        ("teacher", "yolo11n.yaml"),
        ("teacher", "yolo26n.yaml"),  # end-to-end head: features nested under "one2many"
    ],
)
def test_distill_function_cross_family(teacher_fixture, student, request, data, runs):
    """Each pair trains and validates; the YOLOv8n student differs from the plain one (YOLOv8n's and YOLO26n's
    gradients with and without the term: tests/test_gradients.py)."""
    teacher = request.getfixturevalue(teacher_fixture)
    name = f"{teacher.parent.parent.name}-to-{student[:-5]}"
    metrics = distill(student, teacher=teacher, data=data, method="cwd_attn", project=str(runs), name=name, **TINY)
    check_final_metrics(metrics, runs / name, data)
    assert float(results(runs / name)[-1]["train/kd_cwd"]) > 0
    if student == "yolov8n.yaml":
        assert student_differs(runs / name, request.getfixturevalue("plain"))


def test_student_checkpoint_is_fine_tuned(data, teacher, runs):
    """A .pt student starts from its weights (the fixture's trained teacher doubles as a trained v8s student)."""
    from ultralytics import YOLO

    start = {k: v.float() for k, v in YOLO(str(teacher)).model.state_dict().items()}
    seen = {}
    model = YOLO(str(teacher))
    model.add_callback(
        "on_train_start", lambda tr: seen.update({k: v.clone() for k, v in tr.model.state_dict().items()})
    )
    model.train(
        trainer=DistillationTrainer,
        data=str(data),
        teacher=str(teacher),
        kd_method="cwd",
        project=str(runs),
        name="finetune",
        **TINY,
    )
    assert all(torch.allclose(seen[k].float(), v, atol=1e-3) for k, v in start.items() if v.is_floating_point())


class Interrupt(Exception):
    pass


def interrupted_run(data: Path, teacher: Path, runs: Path, name: str) -> Path:
    """Start a 2-epoch cwd_attn run and stop it after epoch 1 was saved; return its weights folder."""
    from ultralytics import YOLO

    def stop_after_first_epoch(trainer):
        if trainer.epoch == 0:
            raise Interrupt

    model = YOLO("yolov8n.yaml")
    model.add_callback("on_fit_epoch_end", stop_after_first_epoch)
    with pytest.raises(Interrupt):
        model.train(
            trainer=DistillationTrainer,
            data=str(data),
            teacher=str(teacher),
            kd_method="cwd_attn",
            kd_tau=0.7,
            kd_cls=0.5,
            kd_schedule="cosine",
            project=str(runs),
            name=name,
            **{**TINY, "epochs": 2},
        )
    return runs / name / "weights"


def test_resume_restores_distiller(data, teacher, runs):
    from ultralytics import YOLO

    wdir = interrupted_run(data, teacher, runs, "resume")
    saved = torch.load(wdir / "kd_last.pt", weights_only=True)
    assert saved["epoch"] == 0
    restored = {}

    def on_train_start(trainer):
        restored.update({k: v.clone() for k, v in trainer.distiller.state_dict().items()})
        restored["settings"] = (trainer.args.kd_method, trainer.args.kd_tau, trainer.args.kd_cls)

    resumed = YOLO(str(wdir / "last.pt"))
    resumed.add_callback("on_train_start", on_train_start)
    resumed.train(trainer=DistillationTrainer, resume=True)  # settings, teacher and data come from the checkpoint
    assert restored.pop("settings") == ("cwd_attn", 0.7, 0.5)
    assert all(torch.equal(v.cpu(), restored[k].cpu()) for k, v in saved["distiller"].items())
    rows = results(runs / "resume")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert [float(r["kd/w_cls"]) for r in rows] == pytest.approx([0.5, 0.05])  # the schedule continues from epoch 2
    assert float(rows[1]["train/kd_cls"]) > 0


def test_resume_without_or_with_a_stale_distiller_state_says_so(data, teacher, runs):
    """A crash between last.pt and kd_last.pt: the run resumes and the log says which distiller it continues with."""
    wdir = interrupted_run(data, teacher, runs, "resume-nostate")
    (wdir / "kd_last.pt").unlink()
    code, out = run_cli("train", "resume", f"model={wdir / 'last.pt'}")
    assert code == 0 and "kd_last.pt not found; the distillation modules restart from initialisation" in out

    wdir = interrupted_run(data, teacher, runs, "resume-stale")
    state = torch.load(wdir / "kd_last.pt", weights_only=True)
    torch.save({**state, "epoch": 5}, wdir / "kd_last.pt")
    code, out = run_cli("train", "resume", f"model={wdir / 'last.pt'}")
    assert code == 0 and "kd_last.pt is from epoch 6, the checkpoint from epoch 1" in out

    with pytest.raises(SettingsError, match="nothing to resume: 'missing/last.pt' not found"):
        distill("missing/last.pt", resume=True)


def test_resume_from_the_command_line(data, teacher, runs):
    wdir = interrupted_run(data, teacher, runs, "resume-cli")
    code, out = run_cli("train", "resume", f"model={wdir / 'last.pt'}", "kd_tau=2", "kd_cls=0.5", "kd_method=cwd")
    assert code == 0, out[-3000:]
    assert "restored distillation modules" in out
    # kd_cls=0.5 is what the run has: only the settings that differ are named
    assert "these were kept: kd_method=cwd_attn (not cwd), kd_tau=0.7 (not 2.0);" in out
    assert [row["epoch"] for row in results(runs / "resume-cli")] == ["1", "2"]


def test_cli_every_signal_together_logs_each_term_and_keeps_best_pt_plain(data, teacher, runs):
    """Score-guided attention, channel norm, cosine schedule with a stop, class and box terms, from the CLI."""
    args = ["kd_method=cwd_attn", "kd_attn_mode=score", "kd_norm=channel", "kd_schedule=cosine", "kd_stop=0.34"]
    args += ["kd_cls=2", "kd_box=0.5", "kd_weight=3", "epochs=3"]
    run = cli_train(runs, "cli-signals", f"data={data}", f"teacher={teacher}", *args)
    rows = results(run)
    weights = [{k: float(r[f"kd/w_{k}"]) for k in ("cwd", "cls", "box")} for r in rows]
    assert weights[0] == {"cwd": 3.0, "cls": 2.0, "box": 0.5}  # epoch 1: the full weights
    assert weights[1] == pytest.approx({"cwd": 0.3, "cls": 0.2, "box": 0.05})  # last distilling epoch: 0.1x
    assert weights[2] == {"cwd": 0.0, "cls": 0.0, "box": 0.0}  # kd_stop: the last third without distillation
    for term in ("kd_cwd", "kd_cls", "kd_box"):
        assert float(rows[0][f"train/{term}"]) > 0 and float(rows[2][f"train/{term}"]) == 0
    assert 1 <= float(rows[0]["attn/l0_mask"]) < 2  # 1 + the teacher's class probability
    assert rows[2]["attn/l0_mask"] == "nan"  # no distillation, no mask: the column stays, empty
    plain_parameter_counts(run / "weights" / "best.pt")


def test_response_alone_distils_from_the_teachers_head(data, teacher, runs, plain):
    distill("yolov8n.yaml", teacher=teacher, data=data, method="response", kd_cls=1.0, project=str(runs),
            name="response", **TINY)  # fmt: skip
    row = results(runs / "response")[-1]
    assert float(row["train/kd_cls"]) > 0 and "train/kd_cwd" not in row and "train/kd_box" not in row
    assert student_differs(runs / "response", plain)  # the class scores' term trained the student


def test_box_term_refuses_heads_without_bins_and_class_terms_work_there(data, teacher, runs):
    from yolokd.cfg import SettingsError

    with pytest.raises(SettingsError, match=r"reg_max=1.*use kd_box=0"):
        distill("yolo26n.yaml", teacher=teacher, data=data, method="response", kd_box=1.0, project=str(runs),
                name="yolo26-box", **TINY)  # fmt: skip
    distill("yolo26n.yaml", teacher=teacher, data=data, method="cwd", kd_cls=1.0, project=str(runs),
            name="yolo26-cls", **TINY)  # fmt: skip
    assert float(results(runs / "yolo26-cls")[-1]["train/kd_cls"]) > 0


@pytest.mark.parametrize(
    ("cfg", "kind"),
    [
        ("yolov5nu.yaml", "detect"),
        ("yolo12n.yaml", "detect"),  # attention blocks (A2C2f / AAttn)
        ("yolo26n.yaml", "detect"),  # end-to-end head without DFL bins
        ("yolov8n-seg.yaml", "segment"),  # Segment and Pose heads subclass Detect: their inputs are neck features too
        ("yolo11n-pose.yaml", "pose"),
    ],
)
def test_teachers_of_other_families_and_tasks_distil(cfg, kind, tmp_path, data, runs, plain):
    """Teachers built from each family's YAML (as a checkpoint with the dataset's classes) distil for one epoch."""
    from ultralytics.nn.tasks import DetectionModel, PoseModel, SegmentationModel

    names = yaml.safe_load(data.read_text())["names"]
    model = {"segment": SegmentationModel, "pose": PoseModel}.get(kind, DetectionModel)(
        cfg, nc=len(names), verbose=False
    )
    model.names = names
    pt = tmp_path / f"{cfg[:-5]}.pt"
    torch.save({"model": model, "train_args": {}}, pt)
    name = f"family-{cfg[:-5]}"
    distill("yolov8n.yaml", teacher=pt, data=data, method="cwd_attn", project=str(runs), name=name, **TINY)
    assert float(results(runs / name)[-1]["train/kd_cwd"]) > 0 and student_differs(runs / name, plain)


def test_a_grayscale_pair_distils(data, runs, tmp_path, teacher):
    """A dataset with ``channels: 1`` builds one-channel models; teacher and student are probed with one channel.
    An RGB teacher on it is refused before training, not with a convolution error at the first batch."""
    gray = tmp_path / "gray.yaml"
    gray.write_text(yaml.safe_dump({**yaml.safe_load(data.read_text()), "channels": 1}))
    with pytest.raises(SettingsError, match="takes 3-channel images, but the dataset has channels: 1; train the"):
        distill("yolov8n.yaml", teacher=teacher, data=gray, method="cwd", project=str(runs), name="gray-rgb", **TINY)
    teacher = _train_teacher("yolov8s.yaml", gray, runs, "gray-teacher")
    distill("yolov8n.yaml", teacher=teacher, data=gray, method="cwd_attn", project=str(runs), name="gray", **TINY)
    student = torch.load(runs / "gray" / "weights" / "best.pt", map_location="cpu", weights_only=False)["model"]
    assert student.yaml["channels"] == 1 and student.model[0].conv.in_channels == 1
