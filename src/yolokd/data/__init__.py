"""Datasets yolokd can write: the real tree-crown data (``trees``), any Pascal-VOC set tiled to YOLO (``voc``),
empty YOLO layouts from the paper's task templates (``templates``), small generated images for tests
(``synthetic``), a real pretrained detector to fine-tune as a teacher (``pretrained``), the k-fold splits
of ``compare folds=`` (``folds``), unlabeled frames from camera videos or image folders (``frames``), and the
images of ``unlabeled=`` (``unlabeled``)."""
