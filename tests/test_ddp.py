"""Multi-GPU pieces, proven on CPU: gradient averaging over 2 gloo processes, settings across the DDP re-launch,
the distiller's initial values and the unlabeled stream in rank processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import TINY

from yolokd.cfg import check_kd_settings
from yolokd.distiller import Distiller, Outputs, build_distiller
from yolokd.distributed import average_gradients

S_CH, T_CH = (8, 16), (16, 16)


def _inputs(rank: int):
    g = torch.Generator().manual_seed(100 + rank)  # every rank sees different data
    s = [torch.randn(2, c, 8 // 2**i, 8 // 2**i, generator=g) for i, c in enumerate(S_CH)]
    t = [torch.randn(2, c, 8 // 2**i, 8 // 2**i, generator=g) for i, c in enumerate(T_CH)]
    a = 8 * 8 + 4 * 4  # anchors; head outputs for the class and box terms (2 classes, reg_max 4)
    heads = [(torch.randn(2, 2, a, generator=g), torch.randn(2, 16, a, generator=g)) for _ in range(2)]
    return Outputs(s, *heads[0]), Outputs(t, *heads[1])


def _distiller() -> Distiller:
    torch.manual_seed(0)  # identical initial weights on every rank, as DDP broadcasts them
    kd = check_kd_settings({"kd_attn_mode": "student", "kd_cls": 1.0, "kd_box": 1.0}, require_teacher=False)
    return build_distiller(kd, S_CH, T_CH, reg_max=4)  # every term: kd_cwd, kd_cls, kd_box


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    d = _distiller()
    d(*_inputs(rank))["kd_loss"].backward()
    average_gradients(list(d.parameters()))
    torch.save({n: p.grad for n, p in d.named_parameters()}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


def _rank_env(rank: int, world: int = 2) -> dict[str, str]:
    """The environment of DDP rank ``rank`` as Ultralytics' launch (torchrun) sets it, read at import time."""
    return {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gradients_of_train_only_modules_are_averaged_across_ranks(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    expected = {}
    for rank in range(2):  # the same computation, single-process, one rank's data at a time
        d = _distiller()
        d(*_inputs(rank))["kd_loss"].backward()
        for n, p in d.named_parameters():
            expected[n] = expected.get(n, 0) + p.grad / 2
    grads = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for n, e in expected.items():
        assert torch.allclose(grads[0][n], e, atol=1e-6) and torch.equal(grads[0][n], grads[1][n])
    single = _distiller()
    single(*_inputs(0))["kd_loss"].backward()
    assert not torch.allclose(
        dict(single.named_parameters())["terms.kd_cwd.adapters.0.weight"].grad,
        grads[0]["terms.kd_cwd.adapters.0.weight"],
    )  # averaging changed something


def test_average_gradients_is_a_noop_without_process_group():
    d = _distiller()
    d(*_inputs(0))["kd_loss"].backward()
    before = {n: p.grad.clone() for n, p in d.named_parameters()}
    average_gradients(list(d.parameters()))
    assert all(torch.equal(before[n], p.grad) for n, p in d.named_parameters())


def test_settings_survive_the_ddp_relaunch(data, teacher, runs):
    """Ultralytics rebuilds DDP workers from type(trainer) and vars(trainer.args) via a cloudpickled file."""
    from ultralytics.utils import DEFAULT_CFG_DICT
    from ultralytics.utils.dist import ddp_cleanup, generate_ddp_file
    from ultralytics.utils.patches import torch_load

    from yolokd import DistillationTrainer

    overrides = dict(
        model="yolov8n.yaml",
        data=str(data),
        teacher=str(teacher),
        kd_method="cwd",
        kd_tau=2.0,
        kd_weight=0.3,
        unlabeled=str(data.parent / "images" / "train"),  # each rank draws its own (test_unlabeled.py's sampler)
        unlabeled_ratio=2.0,
        project=str(runs),
        name="ddp-args",
        **TINY,
    )
    trainer = DistillationTrainer(overrides=overrides)
    file = generate_ddp_file(trainer)
    try:
        state = torch_load(file.replace(".py", ".pt"), map_location="cpu")
        assert state["trainer"] is DistillationTrainer
        cfg = {**DEFAULT_CFG_DICT, "save_dir": ""}
        worker = state["trainer"](cfg=cfg, overrides=state["args"], _callbacks=state["callbacks"])  # as the worker does
    finally:
        ddp_cleanup(trainer, file)
    for key in ("teacher", "kd_method", "kd_tau", "kd_weight", "unlabeled", "unlabeled_ratio"):
        assert getattr(worker.args, key) == getattr(trainer.args, key)
    assert (worker.args.kd_tau, worker.args.kd_weight, worker.args.kd_method) == (2.0, 0.3, "cwd")
    assert worker.args.unlabeled_ratio == 2.0


RANK_CODE = """
import hashlib, os, sys
import torch.distributed as dist
dist.init_process_group("gloo")  # RANK, WORLD_SIZE, MASTER_ADDR/PORT from the environment, as torchrun sets them
import yolokd.integration.trainer as T
broadcast = T.broadcast_from_rank0
for mode in ("off", "on"):  # each trainer seeds itself anew, as a fresh rank process would
    T.broadcast_from_rank0 = (lambda module: None) if mode == "off" else broadcast  # "off": yolokd before the fix
    tr = T.DistillationTrainer(overrides=dict(model="yolov8n.yaml", data=sys.argv[1], teacher=sys.argv[2],
        kd_method="cwd_attn", project=sys.argv[3], name="ddp-init", exist_ok=True, seed=0, device="cpu",
        imgsz=64, batch=4, workers=0, plots=False))
    tr.setup_model()
    tr.set_model_attributes()  # builds the distiller, as _setup_train does before DDP wraps the student
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in tr.distiller.state_dict().values())).hexdigest()
    print("HASH", mode, digest, flush=True)
dist.barrier()  # both ranks' hashes are out before either rank leaves
os._exit(0)  # skip gloo's teardown, which can abort one rank at exit on some torch releases (seen on 2.11)
"""


def _rank_hashes(data, teacher, runs) -> dict[str, list[str]]:
    """Two real processes with RANK 0 and 1 set at start, so Ultralytics seeds them seed + 1 + RANK: for the
    distiller built without the broadcast ("off") and with it ("on"), each rank's hash of its initial values."""
    port, procs = _free_port(), []
    for rank in range(2):
        env = {**_rank_env(rank), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        cmd = [sys.executable, "-c", RANK_CODE, str(data), str(teacher), str(runs)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    hashes = [dict(line.split()[1:] for line in o[0].splitlines() if line.startswith("HASH ")) for o in outs]
    return {mode: [h[mode] for h in hashes] for mode in ("off", "on")}


def test_distiller_starts_identical_on_every_rank(data, teacher, runs):
    """Ultralytics seeds rank r with seed + 1 + r: without the broadcast the adapters start different."""
    hashes = _rank_hashes(data, teacher, runs)
    unsynced, synced = hashes["off"], hashes["on"]
    assert unsynced[0] != unsynced[1]  # the test can see the problem
    assert synced[0] == synced[1] == unsynced[0]  # rank 0's initial values everywhere


STREAM_CODE = """
import json, sys
from pathlib import Path
from ultralytics.cfg import get_cfg
from yolokd.integration.unlabeled import UnlabeledDataset, UnlabeledStream
images = sorted(Path(sys.argv[1]).iterdir())
d = UnlabeledDataset(images, imgsz=64, augment=False, hyp=get_cfg(), batch_size=2, data={"names": {0: "a"}})
s = UnlabeledStream(d, per_step=2, steps=2, seed=0, workers=0, world=2)
s._start(0)
print("DRAWN", json.dumps([Path(f).name for _ in range(2) for f in next(s.batches)["im_file"]]))
"""


def test_ranks_draw_different_unlabeled_images_and_only_rank_0_says_which_is_left_out(data, tmp_path):
    """Each rank process builds the unlabeled pool and its stream from its RANK: the ranks' first pass draws every
    readable image once between them, and only rank 0 says which image is left out (Ultralytics' logger shows
    warnings on rank 0 alone when WORLD_SIZE > 1): with 8 GPUs, one line."""
    pool = tmp_path / "pool"
    shutil.copytree(data.parent / "images" / "train", pool)
    readable = sorted(p.name for p in pool.iterdir())
    (pool / "broken.jpg").write_bytes(b"not a jpeg at all")
    drawn, said = [], []
    for rank in range(2):
        argv = [sys.executable, "-c", STREAM_CODE, str(pool)]
        done = subprocess.run(argv, capture_output=True, text=True, env=_rank_env(rank), timeout=300)
        out = done.stdout + done.stderr
        assert done.returncode == 0, out[-3000:]
        drawn.append(json.loads(out.split("DRAWN ", 1)[1].splitlines()[0]))
        said.append("broken.jpg' is left out: it cannot be read" in out)
    assert said == [True, False]
    assert set(drawn[0]).isdisjoint(drawn[1]) and len(drawn[0]) == 4
    assert sorted(drawn[0] + drawn[1]) == readable  # the pass: each image once
