"""The Ultralytics integration: every call into Ultralytics internals that yolokd makes lives in this package
(the supported releases are :mod:`yolokd._compat`'s).

    trainer.py    DistillationMixin (the overrides, short and delegating); DistillationTrainer over DetectionTrainer
    tasks.py      the segment, pose and obb trainers; trainer_for(task)
    models.py     the Detect head and a model's task, the frozen teacher, the student's predictions, fit checks
    optim.py      the distiller's param groups in Ultralytics' optimizer
    run_files.py  atomic checkpoints, the distiller's state beside last.pt, results.csv's columns
    weights.py    bare weights names (yolov8l.pt) found or downloaded as Ultralytics does
    api.py        ``yolokd.distill``, the Python entry point
"""
