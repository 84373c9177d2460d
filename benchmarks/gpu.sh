#!/usr/bin/env bash
# yolokd where users train: the checks that need a CUDA GPU, in one run of at most 8 minutes on a lent H100/H200.
#
#   bash benchmarks/gpu.sh prepare        here, with PyPI: .gpu/whl (Ultralytics and what the GPU machine lacks, for
#                                         its Python 3.12) and .gpu/trees (the tree tiles); .gpu/ is git-ignored
#   bash benchmarks/gpu.sh run [OUT]      there (the device tool, carry .gpu): installs the wheels without network,
#                                         runs the tests marked cuda, then benchmarks/gpu_check.py -> OUT/gpu.md
#   DEVICE=cpu SMALL=1 DATA=d.yaml bash benchmarks/gpu.sh run OUT     the CPU dry run (tests/test_gpu_script.py)
#
# The GPU machine has torch 2.11 (in yolokd's range) and no network; yolokd runs from src/ uninstalled.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-run}
OUT=${2:-${OUT:-runs/gpu}}
DEVICE=${DEVICE:-0}
PY=${PYTHON:-python3}
WHEELS="ultralytics==8.4.190 ultralytics-thop==2.2.3 ultralytics-platform==0.1.99 polars==0.20.31"  # polars 1.x: 33+ MB

if [ "$cmd" = prepare ]; then
  mkdir -p .gpu/whl
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  # shellcheck disable=SC2086
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl $WHEELS
  test -f .gpu/trees/data.yaml || .venv/bin/python -c "from yolokd.data.trees import make_trees; make_trees('.gpu/trees')"
  du -sh .gpu
  exit 0
fi
[ "$cmd" = run ] || { echo "usage: bash benchmarks/gpu.sh prepare | run [OUT]" >&2; exit 2; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 PYTHONUNBUFFERED=1  # the GPU machine has no network; nothing downloads
export YOLO_CONFIG_DIR=${YOLO_CONFIG_DIR:-$OUT/yolo-config}
if ! $PY -c "import ultralytics" 2>/dev/null; then
  [ -d .gpu/whl ] || { echo "gpu.sh: Ultralytics is missing and there is no .gpu/whl: run 'bash benchmarks/gpu.sh prepare' here first" >&2; exit 1; }
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/yolokd-site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/yolokd-site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
$PY -c "import torch, ultralytics, yolokd; print('torch', torch.__version__, '| ultralytics', ultralytics.__version__, \
'| yolokd', yolokd.__version__, '| cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0))" | tee "$OUT/versions.txt"

if [ "$DEVICE" != cpu ]; then  # the tests marked cuda, on this GPU (skipped on a machine without one)
  YOLOKD_DEVICE=$DEVICE timeout 240 $PY -m pytest -q -m cuda -p no:cacheprovider tests 2>&1 | tee "$OUT/cuda-tests.log" || true
else
  echo "cuda tests: not run (DEVICE=cpu)" | tee "$OUT/cuda-tests.log"
fi
$PY benchmarks/gpu_check.py --device "$DEVICE" --data "${DATA:-.gpu/trees/data.yaml}" --out "$OUT" $([ "${SMALL:-0}" = 1 ] && echo --small)
