"""`yolokd demo` end to end at the smallest size: teacher, three students, the table."""

from __future__ import annotations

import re

from yolokd.demo import METHODS, run_demo


def test_demo_writes_the_comparison_table(tmp_path, capsys):
    table = run_demo(out=str(tmp_path / "demo"), teacher_epochs=1, epochs=1, imgsz=64, batch=8)
    text = table.read_text()
    rows = re.findall(r"^\| (teacher \(YOLOv8s\)|student \w+) \| (\d\.\d{3}) \| (\d\.\d{3}) \|$", text, re.M)
    assert [r[0] for r in rows] == ["teacher (YOLOv8s)", *(f"student {m}" for m in METHODS)]
    assert all(0.0 <= float(v) <= 1.0 for r in rows for v in r[1:])
    assert text.strip() in capsys.readouterr().out  # the same table is printed
    for m in METHODS:
        assert (tmp_path / "demo" / f"student-{m}" / "weights" / "best.pt").is_file()
