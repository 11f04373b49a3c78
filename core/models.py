"""Model aliases and resolving ``--model`` to something loadable, without network access."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ptrun.errors import PtrunError


@dataclass
class ModelSpec:
    """A named model: ``locate()`` returns its local directory or file (or raises with an install
    hint) and must be cheap; ``prepare(path)``, when given, turns that into a loadable model
    folder (converting a GGUF file, say) and runs only when the model is used."""

    alias: str
    description: str
    locate: Callable[[], Path]
    kind: str = "encoder"
    prepare: Callable[[Path], Path] | None = None

    def path(self) -> Path:
        where = Path(self.locate())
        return Path(self.prepare(where)) if self.prepare else where


@dataclass
class ResolvedModel:
    name: str
    path: Path
    kind: str
    run_dir: Path | None = None
    run_config: dict | None = None


def package_dir(module: str, install: str) -> Path:
    """The folder of an installed package, found without importing it.

    Some model packages import heavy or unavailable dependencies in their ``__init__``;
    ``find_spec`` locates them without running any of their code.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        raise PtrunError(f"The model package '{module}' is not installed.", hint=f"Install it with: {install}")
    return Path(spec.origin).parent


def kind_of(path: Path) -> str:
    """``encoder`` or ``causal-lm``, read from a model folder's config.json."""
    if path.suffix == ".gguf":
        return "causal-lm"
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return "encoder"
    architectures = " ".join(config.get("architectures") or [])
    if "CausalLM" in architectures or "LMHead" in architectures:
        return "causal-lm"
    if config.get("model_type") in {"llama", "mistral", "gpt2", "qwen2", "phi3", "gemma", "smollm3", "olmo2"}:
        return "causal-lm"
    return "encoder"


def resolve(name: str) -> ResolvedModel:
    """An alias, a ptrun run folder, or a local transformers model folder."""
    from ptrun import registry
    from ptrun.run import folder

    aliases = registry.models()
    if name in aliases:
        spec = aliases[name]
        return ResolvedModel(name, spec.path(), spec.kind)
    path = Path(name).expanduser()
    if path.is_dir():
        if folder.is_run_dir(path):
            config = folder.read_config(path)
            model_path = path / folder.RUN_MODEL_DIR
            return ResolvedModel(name, model_path, config.get("model_kind") or kind_of(model_path), path, config)
        if (path / "config.json").is_file():
            return ResolvedModel(name, path, kind_of(path))
        raise PtrunError(
            f"--model {name}: the directory holds neither a transformers model (config.json) "
            "nor a ptrun run folder (config.json + model/).",
            hint="Point --model at a model folder, a finished run folder, or an alias from `ptrun models`.",
        )
    known = ", ".join(aliases) or "none"
    raise PtrunError(
        f"Unknown model '{name}': not an alias (known aliases: {known}) and not a local directory. "
        "ptrun works offline and does not download models from a hub.",
        hint="Use an alias, a local model folder, or a ptrun run folder.",
    )
