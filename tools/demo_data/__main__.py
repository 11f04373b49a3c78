"""Regenerate all four built-in demo datasets (plugins/demo/{ner,sentiment,qa,dialogue}/).

Usage::

    python3 tools/demo_data            # or: cd tools && python3 -m demo_data

Each dataset alone: ``python3 tools/demo_data/<name>.py``. The example plugin's intent data:
``python3 examples/ptrun-intent/tools/make_data.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python3 tools/demo_data`: make the `demo_data` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo_data import common, dialogue, ner, qa, sentiment  # noqa: E402

DATASETS = [ner, sentiment, qa, dialogue]


def main() -> None:
    paths: list[Path] = []
    for module in DATASETS:
        paths += module.main([])
        print()
    total = sum(p.stat().st_size for p in paths)
    assert total < common.MAX_TOTAL_BYTES, (total, common.MAX_TOTAL_BYTES)
    print("all built-in demo data: {} files, {} bytes (budget {})".format(
        len(paths), total, common.MAX_TOTAL_BYTES))


if __name__ == "__main__":
    main()
