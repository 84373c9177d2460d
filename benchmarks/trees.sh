#!/usr/bin/env bash
# The real-data benchmark of issues 3 and 4, CPU-sized: YOLOv8s teacher -> YOLOv8n students on the
# tree-crown tiles at 320 px, 3 seeds, the four methods plus the attention variants shared, shared_norm and teacher.
# Usage: bash benchmarks/trees.sh [WORKDIR]   (about 100 min on 2 CPU cores, teacher included; re-run to resume)
# The report is copied to benchmarks/results/trees_cpu/.
source "$(dirname "$0")/_common.sh"

$Y data trees out="$W/trees"
if [ ! -f "$W/teacher-v8s/weights/best.pt" ]; then
  $Y train model=yolov8s.yaml data="$W/trees/data.yaml" kd_method=none epochs=150 seed=0 workers=2 \
    "${RECIPE[@]}" project="$W" name=teacher-v8s exist_ok=True
fi
$Y compare data="$W/trees/data.yaml" teacher="$W/teacher-v8s/weights/best.pt" student=yolov8n.yaml \
  methods=none,cwd,cwd_attn,native,cwd_attn:shared,cwd_attn:shared_norm,cwd_attn:teacher \
  seeds=3 epochs=40 recipe=paper imgsz=320 batch=8 nbs=8 plots=False examples_conf=0.1 \
  project="$W" name=trees-v8s-v8n
report trees-v8s-v8n benchmarks/results/trees_cpu
