"""Datasets yolokd can write: a small generated one for tests and the demo."""
