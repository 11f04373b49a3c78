"""ptrun's built-in task plugins. Each module registers through the ``ptrun`` entry-point group,
exactly as a third-party plugin would, and depends only on ptrun's public API."""

from importlib.resources import files
from pathlib import Path


def builtin_template_dir() -> Path:
    """The ``templates/`` folder shipped with ptrun (installed as ``ptrun.templates``)."""
    return Path(str(files("ptrun.templates")))


def demo_dir(task: str) -> Path:
    return Path(str(files("ptrun.plugins"))) / "demo" / task
