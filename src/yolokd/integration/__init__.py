"""The Ultralytics integration: every call into Ultralytics internals that yolokd makes lives in this package
(the supported releases are :mod:`yolokd._compat`'s).

    trainer.py    DistillationTrainer: Ultralytics' DetectionTrainer, its overrides short and delegating
    models.py     the Detect head, loading and running the frozen teacher, the student's predictions, fit checks
    optim.py      the distiller's param groups in Ultralytics' optimizer
    run_files.py  atomic checkpoints, the distiller's state beside last.pt, results.csv's columns
    weights.py    bare weights names (yolov8l.pt) found or downloaded as Ultralytics does
    api.py        ``yolokd.distill``, the Python entry point
"""
