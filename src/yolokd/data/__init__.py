"""Datasets yolokd can write: the real tree-crown data (``trees``), any Pascal-VOC set tiled to YOLO (``voc``),
empty YOLO layouts from the paper's task templates (``templates``), and small generated images for tests
(``synthetic``)."""
