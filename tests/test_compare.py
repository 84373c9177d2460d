"""``yolokd compare`` end to end on generated data: every artifact, numbers equal to the runs' own, reuse."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY, run_cli

from yolokd.cfg import KD_DEFAULTS, SettingsError
from yolokd.compare import compare
from yolokd.compare.args import parse_methods, parse_seeds, run_stem
from yolokd.stats import mean_ci, t975

ARGS = {k: v for k, v in TINY.items() if k not in ("epochs", "seed", "exist_ok")}
ENV = {  # report.environment() as a hand-written report needs it
    "command": "yolokd compare data=d.yaml",
    "date": "2026-12-02T01:00:00+00:00",
    "cpu": "Some CPU",
    "cpu_count": 2,
    "gpu": None,
    "versions": {"yolokd": "1", "torch": "2", "ultralytics": "3"},
}


def test_parse_methods_and_seeds():
    assert parse_methods("cwd,cwd_attn:shared") == [
        ("none", {"kd_method": "none"}),  # the baseline is always added
        ("cwd", {"kd_method": "cwd"}),
        ("cwd_attn:shared", {"kd_method": "cwd_attn", "kd_attn_mode": "shared"}),
    ]
    assert parse_seeds(3) == [0, 1, 2] and parse_seeds("4,7") == [4, 7]
    for bad in ("cwd,fgd", "cwd:shared", "cwd_attn:both", "cwd,cwd"):
        with pytest.raises(SettingsError, match="methods"):
            parse_methods(bad)
    with pytest.raises(SettingsError, match="seeds"):
        parse_seeds("1,1")


def test_sweep_labels_carry_typed_settings():
    assert parse_methods("cwd_attn:score@kd_cls=1@kd_weight=10,cwd@kd_norm=channel") == [
        ("none", {"kd_method": "none"}),
        (
            "cwd_attn:score@kd_cls=1@kd_weight=10",
            {"kd_method": "cwd_attn", "kd_attn_mode": "score", "kd_cls": 1.0, "kd_weight": 10.0},
        ),
        ("cwd@kd_norm=channel", {"kd_method": "cwd", "kd_norm": "channel"}),
    ]
    assert parse_methods("native@dis=3")[1] == ("native@dis=3", {"kd_method": "native", "dis": 3.0})
    with pytest.raises(SettingsError, match="Did you mean 'dis'"):
        parse_methods("native@dsi=3")
    with pytest.raises(SettingsError) as e:  # only a native row is offered dis
        parse_methods("cwd@dsi=3")
    assert "'dis'" not in str(e.value)
    assert run_stem("cwd_attn:score@kd_cls=1@kd_weight=0.5") == "cwd_attn-score+kd_cls1+kd_weight0.5"
    with pytest.raises(SettingsError, match=r"'cwd@kd_tua=1'.*Did you mean 'kd_tau'"):
        parse_methods("cwd@kd_tua=1")
    for bad, match in (
        ("cwd@kd_tau", "not of the form @key=value"),
        ("cwd@kd_tau=-1", "must be > 0"),
        ("none@kd_weight=2", "takes no settings"),
        ("cwd@kd_method=native", "not a valid"),
        ("cwd@kd_weight=2,cwd@kd_weight=2.0", "listed twice|same run folder"),
        ("response", "set kd_cls=1"),
        ("cwd@dis=3", "only native takes it"),
        ("native@dis=0", "must be a number > 0"),
        ("native@dis=x", "must be a number > 0"),
        ("native@dis=inf", "must be a number > 0"),
        ("native@dis=3,native@dis=3.0", "listed twice"),
        ("native,native@dis=6", "listed twice"),  # Ultralytics' default weight
    ):
        with pytest.raises(SettingsError, match=match):
            parse_methods(bad)


def test_compare_sweep_rows_and_folders(data, teacher, runs):
    methods = "cwd@kd_weight=3,response@kd_cls=2,native@dis=3"
    out = compare(data=str(data), teacher=str(teacher), methods=methods, seeds=1, epochs=1, project=str(runs),
                  name="cmp-sweep", examples=0, **ARGS)  # fmt: skip
    rows = [r["model"] for r in csv.DictReader(open(out / "table.csv"))]
    assert rows == ["teacher", "none", *methods.split(",")]
    for label, key, value in (("cwd@kd_weight=3", "kd_weight", 3.0), ("response@kd_cls=2", "kd_cls", 2.0),
                              ("native@dis=3", "dis", 3.0)):  # fmt: skip
        run = out / f"{run_stem(label)}-s0"
        assert json.loads((run / "yolokd_run.json").read_text())["label"] == label
        assert f"{key}: {value}" in (run / "args.yaml").read_text()
    native = yaml.safe_load((out / "native+dis3-s0" / "args.yaml").read_text())
    assert (
        native["distill_model"] == str(teacher.resolve())
        and "train/dis_loss" in (out / "native+dis3-s0" / "results.csv").read_text()
    )


def test_example_panels_show_the_top_detections_and_their_threshold():
    import numpy as np

    from yolokd.figures import top_detections

    boxes, scores = np.arange(16.0).reshape(4, 4), np.array([0.0213, 0.30, 0.05, 0.11])
    drawn, caption = top_detections(boxes, scores, 2, 0.001)
    assert drawn.tolist() == [boxes[1].tolist(), boxes[3].tolist()] and caption == "top 2, conf ≥ 0.11"
    assert top_detections(boxes, scores, 9, 0.001)[1] == "top 4, conf ≥ 0.021"
    assert top_detections(boxes[:0], scores[:0], 3, 0.001)[1] == "nothing at conf ≥ 0.001"


def test_paired_interval_matches_hand_computation():
    assert t975(2) == 4.303 and abs(t975(60) - 2.000) < 1e-3  # table; expansion (exact 2.0003)
    m, lo, hi = mean_ci([0.01, 0.03, 0.05])  # mean 0.03, sd 0.02, half-width 4.303 * 0.02 / sqrt(3)
    assert (
        m == pytest.approx(0.03) and hi - m == pytest.approx(4.303 * 0.02 / 3**0.5) and m - lo == pytest.approx(hi - m)
    )


def test_attention_reading_survives_a_row_wider_than_the_header(tmp_path):
    """yolokd < 0.2.0 with val=False wrote the last row of results.csv wider than its header."""
    from yolokd.compare.train import last_attention

    (tmp_path / "results.csv").write_text("epoch,time,attn/l0_mask\n1,2.0,0.5\n2,4.0,0.6,1.0,0.3\n")
    assert last_attention(tmp_path) == {"attn/l0_mask": 0.6}


def test_with_folds_the_interval_is_over_seeds():
    """Folds of a seed share training images: each seed contributes the mean of its folds' differences."""
    from yolokd.stats import summarize

    runs = []
    for s, per_fold in enumerate([(0.01, 0.05, 0.03), (0.02, 0.06, 0.04), (0.00, 0.02, 0.07)]):
        for f, d in enumerate(per_fold):
            runs += [{"label": "none", "seed": s, "fold": f, "weights": "w", "map50": 0.5, "map50_95": 0.2}]
            runs += [{"label": "cwd", "seed": s, "fold": f, "weights": "w", "map50": 0.5 + d, "map50_95": 0.2}]
    rows = {r["model"]: r for r in summarize({"weights": "t", "map50": 0.7, "map50_95": 0.3}, runs, ["none", "cwd"])}
    m, lo, hi = mean_ci([0.03, 0.04, 0.03])  # per seed; not mean_ci over the nine (seed, fold) differences
    assert (rows["cwd"]["d_map50"], rows["cwd"]["d_map50_lo"], rows["cwd"]["d_map50_hi"]) == pytest.approx((m, lo, hi))
    assert rows["cwd"]["n"] == 9 and "d_block" not in rows["cwd"]

    # under way, fold by fold: seeds 0-2 have fold 0, seed 0 also fold 1; each seed is averaged over fold 0 alone
    part = [r for r in runs if r["fold"] == 0 or (r["seed"], r["fold"]) == (0, 1)]
    rows = {r["model"]: r for r in summarize({"weights": "t", "map50": 0.7, "map50_95": 0.3}, part, ["none", "cwd"])}
    assert rows["cwd"]["d_map50"] == pytest.approx(0.01) and rows["cwd"]["d_block"] == "seeds 0,1,2 × folds 0"
    assert rows["cwd"]["gap_closed"] == pytest.approx(0.01 / (0.7 - 0.5))  # over the same pairs as the Δ


def test_the_interval_takes_the_largest_complete_block_of_pairs():
    from yolokd.stats import complete_block

    assert complete_block({0: {0, 1, 2}, 1: {0, 1, 2}, 2: {0}}) == ([0, 1], [0, 1, 2])  # 6 pairs beat 3
    assert complete_block({0: {0, 1}, 1: {0}, 2: {0}, 3: {0}}) == ([0, 1, 2, 3], [0])  # 4 pairs, more seeds
    assert complete_block({0: {0, 1, 2}, 1: {1}}) == ([0, 1], [1])  # two seeds before three folds of one
    assert complete_block({0: {None}, 1: {None}}) == ([0, 1], [None])  # no folds: every seed


def test_compare_end_to_end(data, teacher, runs, capsys):
    from ultralytics import YOLO

    kw = dict(
        data=str(data),
        teacher=str(teacher),
        methods="none,cwd",
        seeds=1,
        epochs=1,
        project=str(runs),
        name="cmp",
        examples=2,
        **ARGS,
    )
    out = compare(**kw)
    report = ("table.md", "table.csv", "summary.json", "env.json", "map.png", "examples.png")
    for f in report:
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    stray = {p.name for p in out.iterdir()} - {*report, "none-s0", "cwd-s0", ".yolokd.lock"}
    assert not stray  # e.g. no folder left by Ultralytics' validator
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["model"]: r for r in csv.DictReader(open(out / "table.csv"))}
    assert set(rows) == {"teacher", "none", "cwd"}
    table = (out / "table.md").read_text()
    for run in summary["runs"]:  # the table's numbers are each best.pt validated independently here
        m = YOLO(run["weights"]).val(
            data=str(data),
            imgsz=ARGS["imgsz"],
            batch=ARGS["batch"],
            plots=False,
            project=str(runs),
            name="check",
            exist_ok=True,
            verbose=False,
        )
        assert float(rows[run["label"]]["map50_mean"]) == pytest.approx(m.box.map50, abs=1e-6)
        assert float(rows[run["label"]]["map50_95_mean"]) == pytest.approx(m.box.map, abs=1e-6)
        assert f"| {run['label']} | 3.01 |" in table  # YOLOv8n: 3.01 M parameters
    assert table.startswith(
        f"# yolokd compare — {data.parent.name}: teacher best.pt (teacher-v8s) → student yolov8n.yaml"
    )
    log = capsys.readouterr().out
    assert f"yolokd compare: report in {out}/" in log
    for f in ("table.md", "table.csv", "map.png", "examples.png", "summary.json", "env.json"):
        assert f"\n  {f} " in log
    env = json.loads((out / "env.json").read_text())
    import ultralytics

    assert env["seeds"] == [0] and env["versions"]["ultralytics"] == ultralytics.__version__
    assert env["cpu"] and f"on {env['cpu']} ({os.cpu_count()} cores" in (out / "table.md").read_text()

    best = {r["label"]: (r["weights"], os.stat(r["weights"]).st_mtime_ns) for r in summary["runs"]}
    (out / "cwd-s0" / "metrics.json").unlink()  # as if the previous call died after training, before its evaluation
    capsys.readouterr()
    compare(**kw)  # the same command again: nothing retrained
    log = capsys.readouterr().out
    assert "none seed 0 (reused)" in log and "cwd seed 0 (reused)" in log
    assert all(os.stat(w).st_mtime_ns == t for w, t in best.values())
    assert (out / "cwd-s0" / "metrics.json").is_file()

    with pytest.raises(SettingsError, match=r"other settings \(warmup_epochs: \(default\) -> 1\)"):
        compare(**{**kw, "warmup_epochs": 1})
    args = out / "cwd-s0" / "args.yaml"  # as if the run had been made when yolokd's default tau was 0.25
    tau = KD_DEFAULTS["kd_tau"]
    args.write_text(args.read_text().replace(f"kd_tau: {tau}", "kd_tau: 0.25"))
    with pytest.raises(SettingsError, match=rf"other yolokd settings \(kd_tau: 0.25 -> {tau}\)"):
        compare(**kw)


def test_cli_compare_errors():
    cli = [sys.executable, "-m", "yolokd.cli", "compare"]
    res = subprocess.run([*cli, "data=x.yaml"], capture_output=True, text=True)
    assert res.returncode == 2 and "needs teacher=" in res.stderr
    res = subprocess.run([*cli, "data=x.yaml", "teacher=t.pt", "seed=1"], capture_output=True, text=True)
    assert res.returncode == 2 and "use seeds=" in res.stderr
    res = subprocess.run([*cli, "data=x.yaml", "teacher=t.pt", "recipe=mine"], capture_output=True, text=True)
    assert res.returncode == 2 and "recipe=mine is not known" in res.stderr


def test_report_numbers_by_hand(tmp_path, teacher):
    from yolokd.report import write_tables

    w = str(teacher)
    t = {"model": "yolov8s.yaml", "weights": w, "map50": 0.60, "map50_95": 0.30, "val_boxes": 10}
    vals = {"none": (0.20, 0.22, 0.24), "cwd": (0.25, 0.26, 0.30)}
    runs = [
        {"label": m, "seed": s, "weights": w, "map50": v[s], "map50_95": v[s] / 2}
        for m, v in vals.items()
        for s in range(3)
    ]
    write_tables(tmp_path, t, runs, ["none", "cwd"], {"data": "d.yaml", "imgsz": 64, "epochs": 1}, ENV)
    rows = {r["model"]: r for r in csv.DictReader(open(tmp_path / "table.csv"))}
    cwd = {k: float(v) for k, v in rows["cwd"].items() if k != "model" and v}
    # paired differences 0.05, 0.04, 0.06: mean 0.05, sd 0.01, 95 % half-width 4.303 * 0.01 / sqrt(3)
    assert cwd["map50_mean"] == pytest.approx(0.27) and cwd["map50_std"] == pytest.approx(0.0264575, abs=1e-6)
    assert cwd["d_map50"] == pytest.approx(0.05) and cwd["d_map50_hi"] == pytest.approx(0.05 + 4.303 * 0.01 / 3**0.5)
    assert cwd["gap_closed"] == pytest.approx((0.27 - 0.22) / (0.60 - 0.22))
    assert cwd["map50_s2"] == 0.30 and float(rows["teacher"]["map50_mean"]) == 0.60
    table = (tmp_path / "table.md").read_text()
    assert "| cwd | 11.14 |" in table and "0.270 ± 0.026" in table and "+0.050 [+0.025, +0.075] *" in table
    assert "| 13 % |" in table  # gap closed (0.27 - 0.22) / 0.38
    provenance = "`yolokd compare data=d.yaml`, started 2026-12-02T01:00:00+00:00 on Some CPU (2 cores, no GPU);"
    assert f"\n\n{provenance} yolokd 1, torch 2, Ultralytics 3.\n\n" in table

    worse = [{**r, "map50": 0.5 - r["map50"]} if r["label"] == "cwd" else r for r in runs]  # cwd 0.25, 0.24, 0.20
    other = {**worse[3], "teacher_tensors": "b" * 64, "teacher_map50": 0.58}  # from another training of the teacher
    other["how"] = "recorded"  # and reused from its record
    write_tables(tmp_path, t, [*worse[:3], other, *worse[4:]], ["none", "cwd"], {"data": "d.yaml", "imgsz": 64}, ENV)
    table = (tmp_path / "table.md").read_text()
    assert "Ultralytics 3; 1 of the 6 student runs reused from records made earlier (record.json of each)." in table
    assert "+0.010 [-0.104, +0.124] |" in table  # paired 0.05, 0.02, -0.04: across 0, no star
    assert "other trainings of the teacher (mAP50 0.580)" in table
    worse = [{**r, "map50": r["map50"] - 0.1} if r["label"] == "cwd" else r for r in runs]
    write_tables(tmp_path, t, worse, ["none", "cwd"], {"data": "d.yaml", "imgsz": 64, "epochs": 1}, ENV)
    assert "-0.050 [-0.075, -0.025] *" in (tmp_path / "table.md").read_text()  # below 0 is marked too


def test_report_names_the_attention_only_where_a_cwd_attn_row_uses_it(tmp_path, teacher):
    from yolokd.report import write_tables

    t = {"model": "yolov8s.yaml", "weights": str(teacher), "map50": 0.6, "map50_95": 0.3, "val_boxes": 10}
    settings = {"data": "d.yaml", "imgsz": 64, "epochs": 1, "cwd_attn_mode": "teacher"}
    for labels, says in ((["none", "cwd", "cwd_attn:shared"], False), (["none", "cwd_attn@kd_tau=1"], True)):
        runs = [{"label": m, "seed": 0, "weights": str(teacher), "map50": 0.2, "map50_95": 0.1} for m in labels]
        write_tables(tmp_path, t, runs, labels, settings, ENV)
        head = (tmp_path / "table.md").read_text().split("| model |")[0]
        assert ("`cwd_attn` = kd_attn_mode `teacher`" in head) is says and ("kd_attn_mode" in head) is says


def test_compare_killed_mid_run_resumes(data, teacher, runs):
    """kill -9 during a student run; the same command resumes that run from its last.pt and completes."""
    import os
    import signal
    import time

    yolokd = str(Path(sys.executable).with_name("yolokd"))
    args = [f"{k}={v}" for k, v in ARGS.items()]
    cmd = [yolokd, "compare", f"data={data}", f"teacher={teacher}", "methods=cwd", "seeds=1", "epochs=3",
           f"project={runs}", "name=cmp-killed", "examples=0", *args]  # fmt: skip
    last = runs / "cmp-killed" / "cwd-s0" / "weights" / "last.pt"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the cwd run is mid-way through epoch 2
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the comparison finished before it could be killed"
    rc, out = run_cli(*cmd[1:])  # the same command again, here in-process
    assert rc == 0, out[-3000:]
    assert "none seed 0 (reused)" in out and "cwd seed 0 (resumed)" in out
    assert (runs / "cmp-killed" / "table.md").is_file()


def test_compare_refuses_runs_made_on_other_data_or_another_teacher(tmp_path, data, teacher, runs):
    """Re-running after a label fix or a retrained teacher must not report the old students."""
    import shutil

    shutil.copytree(data.parent, tmp_path / "data")
    my_data, my_teacher = tmp_path / "data" / data.name, tmp_path / "teacher.pt"
    my_data.write_text(my_data.read_text().replace(str(data.parent), str(tmp_path / "data")))
    shutil.copy(teacher, my_teacher)
    kw = dict(data=str(my_data), teacher=str(my_teacher), methods="cwd", seeds=1, epochs=1, project=str(runs),
              name="cmp-fingerprint", examples=0, **ARGS)  # fmt: skip
    out = compare(**kw)
    assert json.loads((out / "cwd-s0" / "yolokd_run.json").read_text())["inputs"]["teacher"]["bytes"] > 0
    compare(**kw)  # unchanged inputs: both runs reused
    original = my_teacher.read_bytes()
    shutil.copy(out / "none-s0" / "weights" / "best.pt", my_teacher)  # "retrained" under the same path
    with pytest.raises(SettingsError, match=r"cwd-s0' was trained on other inputs: the teacher file .* changed"):
        compare(**kw)
    my_teacher.write_bytes(original)
    label = sorted((tmp_path / "data" / "labels" / "train").glob("*.txt"))[0]
    label.write_text(label.read_text() + "0 0.5 0.5 0.2 0.2\n")  # a label fixed
    with pytest.raises(SettingsError, match=r"none-s0' was trained on other inputs: the dataset's label files changed"):
        compare(**kw)


def test_a_retrained_bit_identical_teacher_keeps_its_fingerprint(tmp_path, teacher):
    """A checkpoint stores the date it was saved: the file hash changes, the tensors' does not."""
    import torch

    from yolokd import fingerprint

    ckpt = torch.load(teacher, map_location="cpu", weights_only=False)
    ckpt["date"] = "2030-01-01T00:00:00"  # the same weights, saved another day
    torch.save(ckpt, tmp_path / "again.pt")
    old, new = fingerprint.weights(teacher), fingerprint.weights(tmp_path / "again.pt")
    assert old["sha256"] != new["sha256"] and old["tensors_sha256"] == new["tensors_sha256"]
    assert fingerprint.changes({"teacher": old}, {"teacher": new}) == []
    next(iter(ckpt["model"].parameters())).data.add_(1e-3)  # one tensor retrained differently
    torch.save(ckpt, tmp_path / "other.pt")
    assert fingerprint.changes({"teacher": old}, {"teacher": fingerprint.weights(tmp_path / "other.pt")})


def test_compare_continues_from_records_on_another_machine(tmp_path, data, teacher, runs, capsys):
    """records=DIR: a second comparison folder (a fresh machine) reuses the committed records, trains nothing,
    reports the same numbers, and refuses a record made with other settings or another teacher."""
    import shutil

    import torch

    records, my_teacher = tmp_path / "records", tmp_path / "teacher.pt"
    shutil.copy(teacher, my_teacher)
    kw = dict(data=str(data), teacher=str(my_teacher), methods="cwd", seeds=1, epochs=1, records=str(records), **ARGS)
    first = compare(project=str(runs), name="cmp-records", examples=1, **kw)
    for run in ("none-s0", "cwd-s0"):
        for f in ("yolokd_run.json", "args.yaml", "metrics.json", "results.csv", "record.json"):
            assert (records / run / f).is_file(), (run, f)
        assert not (records / run / "weights").exists()
    assert sorted(p.name for p in records.iterdir()) == ["cwd-s0", "none-s0"]  # no temporary folder left
    assert json.loads((records / "cwd-s0" / "record.json").read_text())["comparison"]["versions"]["yolokd"]
    capsys.readouterr()

    ckpt = torch.load(my_teacher, map_location="cpu", weights_only=False)
    ckpt["date"] = "2030-01-01T00:00:00"  # the teacher retrained bit for bit on the other machine
    torch.save(ckpt, my_teacher)
    made = json.loads((records / "cwd-s0" / "record.json").read_text())
    made["comparison"]["training_code"]["cfg/default.yaml"] = "0" * 64  # older records hashed the defaults' file
    (records / "cwd-s0" / "record.json").write_text(json.dumps(made))  # (a default or help text edited since)
    second = compare(project=str(tmp_path / "elsewhere"), name="cmp-records", examples=1, **kw)
    out = capsys.readouterr().out
    assert "none seed 0 (recorded)" in out and "cwd seed 0 (recorded)" in out
    assert not (second / "cwd-s0" / "weights").exists()  # nothing trained
    assert (second / "table.csv").read_text() == (first / "table.csv").read_text()
    assert not (second / "examples.png").exists()  # recorded students have no weights to draw

    with pytest.raises(SettingsError, match=r"records.none-s0' was trained with other settings \(epochs: 1 -> 2\)"):
        compare(project=str(tmp_path / "e2"), name="c", examples=0, **{**kw, "epochs": 2})
    shutil.copytree(data.parent, tmp_path / "moved")  # the work folder moved: the record is fine, the paths differ
    with pytest.raises(SettingsError, match=r"none-s0' was made with its inputs at other paths \(data: .*project="):
        compare(
            project=str(tmp_path / "e2"), name="c", examples=0, **{**kw, "data": str(tmp_path / "moved" / data.name)}
        )
    made = json.loads((records / "none-s0" / "record.json").read_text())
    made["comparison"]["training_code"]["losses/cwd.py"] = "0" * 64  # the CWD loss edited since
    (records / "none-s0" / "record.json").write_text(json.dumps(made))
    with pytest.raises(SettingsError, match=r"none-s0' was trained by other yolokd code: losses/cwd.py changed since"):
        compare(project=str(tmp_path / "e2"), name="c", examples=0, **kw)
    del made["comparison"]["training_code"]  # a record from before code fingerprints, of an unknown revision
    made["comparison"]["git_revision"] = "0" * 40
    (records / "none-s0" / "record.json").write_text(json.dumps(made))
    with pytest.raises(SettingsError, match=r"predates code fingerprints and its git revision 0+ is not in a checkout"):
        compare(project=str(tmp_path / "e2"), name="c", examples=0, **kw)
    made["comparison"]["versions"]["ultralytics"] = "8.3.0"
    (records / "none-s0" / "record.json").write_text(json.dumps(made))
    with pytest.raises(SettingsError, match=r"none-s0' was made under other versions \(ultralytics 8.3.0 -> "):
        compare(project=str(tmp_path / "e2"), name="c", examples=0, **kw)
    shutil.rmtree(records / "none-s0")  # out of the way: the refusals below are cwd-s0's, found while planning
    args = records / "cwd-s0" / "args.yaml"  # a default that changes this run: its settings are checked instead
    saved = args.read_text()
    tau = KD_DEFAULTS["kd_tau"]
    args.write_text(saved.replace(f"kd_tau: {tau}", "kd_tau: 0.25"))
    with pytest.raises(SettingsError, match=rf"cwd-s0' was trained with other yolokd settings \(kd_tau: 0.25 -> {tau}"):
        compare(project=str(tmp_path / "e3"), name="c", examples=0, **kw)
    args.write_text(saved)
    next(iter(ckpt["model"].parameters())).data.add_(1e-3)
    torch.save(ckpt, my_teacher)  # a teacher that trained differently
    with pytest.raises(
        SettingsError, match=r"records.cwd-s0' was trained on other inputs: the teacher file .* changed"
    ):
        compare(project=str(tmp_path / "e3"), name="c", examples=0, **kw)


def test_report_under_way_names_the_folds_validated_so_far(tmp_path, teacher):
    from yolokd.report import write_tables
    from yolokd.stats import pool_teachers

    w = str(teacher)
    t0 = {
        "fold": 0,
        "weights": w,
        "how": "trained",
        "map50": 0.6,
        "map50_95": 0.3,
        "precision": 0.7,
        "recall": 0.5,
        "val_boxes": 317,
    }
    runs = [{"label": m, "seed": 0, "fold": 0, "weights": w, "map50": v, "map50_95": v / 2} for m, v in
            (("none", 0.40), ("cwd", 0.45))]  # fmt: skip
    settings = {"data": "d.yaml", "imgsz": 64, "epochs": 1, "folds": 3}
    write_tables(tmp_path, pool_teachers("t.yaml", [t0]), runs, ["none", "cwd"], settings, ENV)
    assert "(317 validation boxes over 1 of 3 folds so far)" in (tmp_path / "table.md").read_text()
    t2 = [{**t0, "fold": f, "val_boxes": 300 + f} for f in range(3)]
    write_tables(tmp_path, pool_teachers("t.yaml", t2), runs, ["none", "cwd"], settings, ENV)
    assert "(903 validation boxes over 3 folds)" in (tmp_path / "table.md").read_text()


def test_compare_scores_weights_no_epoch_was_picked_on(tmp_path, data, teacher, runs, monkeypatch):
    """By default a run is scored by its last epoch's weights, not by best.pt (the epoch Ultralytics picked on the
    very images scored); score=best gives Ultralytics' convention, said so in the report; a test: split is
    scored with best.pt; a record scored otherwise is refused."""
    import yolokd.compare.plan
    import yolokd.compare.train

    validated: list[tuple[str, str]] = []  # (weights file, split) of every validation, students and teacher
    evaluate = yolokd.compare.train.evaluate

    def spy(weights: Path, val_args: dict, split: str = "val") -> dict:
        validated.append(
            (str(Path(weights).relative_to(tmp_path)) if tmp_path in Path(weights).parents else "given", split)
        )
        return evaluate(weights, val_args, split)

    monkeypatch.setattr(yolokd.compare.train, "evaluate", spy)
    monkeypatch.setattr(yolokd.compare.plan, "evaluate", spy)
    records = tmp_path / "records"
    kw = dict(data=str(data), teacher=str(teacher), methods="none", seeds=1, epochs=1, project=str(tmp_path), **ARGS)
    out = compare(name="c", examples=0, records=str(records), **kw)
    weights = out / "none-s0" / "weights"
    assert validated == [("c/none-s0/weights/last.pt", "val"), ("given", "val")]  # the student, then the teacher
    assert json.loads((out / "none-s0" / "metrics.json").read_text())["scored"] == "last.pt on val"
    table = (out / "table.md").read_text()
    assert "the last epoch's weights (`last.pt`) on the validation images; no epoch was picked on them" in table

    validated.clear()
    compare(name="c", examples=0, score="best", **kw)  # the same runs, scored Ultralytics' way: validated again
    assert validated[0] == ("c/none-s0/weights/best.pt", "val")
    assert json.loads((out / "none-s0" / "metrics.json").read_text())["scored"] == "best.pt on val"
    assert "`score=best`, its convention): biased upward" in (out / "table.md").read_text()
    validated.clear()
    compare(name="c", examples=0, **kw)  # back to the default: the metrics of best.pt are not reused for last.pt
    assert validated[0] == ("c/none-s0/weights/last.pt", "val")
    assert os.path.getsize(weights / "last.pt") > 0

    held_out = tmp_path / "with-test.yaml"  # the same data with its val images as a held-out test split
    spec = yaml.safe_load(data.read_text())
    held_out.write_text(yaml.safe_dump({**spec, "path": str(data.parent), "test": spec["val"]}))
    validated.clear()
    out2 = compare(name="t", examples=0, **{**kw, "data": str(held_out)})
    assert validated[0] == ("t/none-s0/weights/best.pt", "test")  # val may pick the epoch: test scores it
    assert json.loads((out2 / "none-s0" / "metrics.json").read_text())["scored"] == "best.pt on test"
    assert (
        "`best.pt` (its epoch picked on the validation images) on the held-out test split"
        in (out2 / "table.md").read_text()
    )

    # a record keeps how it was scored: a comparison scoring otherwise does not pool with it
    with pytest.raises(SettingsError, match=r"was scored on last.pt on val, this comparison scores best.pt on val"):
        compare(name="r2", examples=0, records=str(records), score="best", **kw)
