"""Reading the shared datasets through ``ptrun.open_text`` vs the plain ``open()`` the readers
used before (UTF-8 with BOM, universal newlines): records and seconds, best of N.

    python bench/reading_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

from ptrun import registry

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FILES = [("sentiment", "sst2/train.tsv"), ("ner", "conll2003/train.txt"), ("qa", "squad_v1.1/dev-v1.1.json"),
         ("dialogue", "dailydialog/train/dialogues_train.txt")]


class _PlainOpen:
    """What the readers opened before: the text file as Python decodes it, no checks."""

    def __init__(self, path, **_):
        self.f = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115

    def __enter__(self):
        return self.f

    def __exit__(self, *exc):
        self.f.close()


def best(task, path, repeat) -> tuple[int, float]:
    times, n = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        n = len(registry.get_task(task).read(path))
        times.append(time.perf_counter() - start)
    return n, min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| file | MB | records | open_text s | plain open s | ratio |\n|---|---|---|---|---|---|")
    for task, name in FILES:
        path = DATA / name
        n, checked = best(task, path, args.repeat)
        targets = ["ptrun.data.readers.open_text", "ptrun.plugins.ner.conll.open_text",
                   "ptrun.plugins.dialogue.dailydialog.open_text"]
        with mock.patch("ptrun.plugins.qa.squad.read_text", lambda p: Path(p).read_text(encoding="utf-8-sig")):
            patches = [mock.patch(t, _PlainOpen) for t in targets]
            for p in patches:
                p.start()
            try:
                n2, plain = best(task, path, args.repeat)
            finally:
                for p in patches:
                    p.stop()
        assert n == n2, (name, n, n2)
        print(f"| {name} | {path.stat().st_size / 1e6:.1f} | {n:,} | {checked:.3f} | {plain:.3f} | {checked / plain:.2f}x |")


if __name__ == "__main__":
    main()
