"""Shared fixtures: tiny config-built models with the real MiniLM tokenizer, and CLI helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _share_the_cores() -> None:
    """Under pytest-xdist, give each worker (and every process its tests start, which inherit
    the environment) its share of the cores. torch defaults to one thread per core in every
    process, and its OpenMP threads spin while they wait: on two cores, beside a training run with
    two threads, SmolLM2 generation ran 8x slower with two threads than with one."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2 or os.environ.get("OMP_NUM_THREADS"):
        return
    from ptrun.deploy.workers import threads_per_worker  # the rule `ptrun serve --workers` applies

    os.environ["OMP_NUM_THREADS"] = str(threads_per_worker(workers))
    if "torch" in sys.modules:  # imported by another plugin before this file: too late for the variable
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


_share_the_cores()

#: The installed plugins the suite loads: ptrun's own entry points only, so that a third-party
#: plugin installed next to ptrun (examples/ptrun-intent, say) changes no test (as llm's conftest
#: pins its plugins). Processes started by the tests inherit it; a test that wants another
#: plugin sets PTRUN_LOAD_PLUGINS itself (see :func:`load_plugins_env`).
PINNED_PLUGINS = "builtin,dialogue,ner,qa,sentiment"
os.environ.setdefault("PTRUN_LOAD_PLUGINS", PINNED_PLUGINS)


def load_plugins_env(*names: str) -> dict[str, str]:
    """``{"PTRUN_LOAD_PLUGINS": ...}`` allowing ptrun's own plugins plus ``names`` (entry-point
    or distribution names), for ``run_ptrun(env=...)``."""
    return {"PTRUN_LOAD_PLUGINS": ",".join([PINNED_PLUGINS, *names])}


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def minilm_dir() -> Path:
    from ptrun.plugins.builtin import minilm_dir as _minilm

    return _minilm()


def build_tiny_encoder(out: Path, max_position_embeddings: int = 128) -> Path:
    """Save a 2-layer, 32-wide BERT built from a config, with the real MiniLM tokenizer, in ``out``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_position_embeddings,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT built from a config, saved with the real MiniLM tokenizer."""
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def cli():
    """Invoke the ptrun CLI in-process; returns click's Result (exit_code, output)."""
    from ptrun.cli import cli as group

    runner = CliRunner()

    def invoke(*args, **kwargs):
        return runner.invoke(group, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return invoke


def run_ptrun(*args, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    """Run ``python -m ptrun.cli`` in a fresh process (for round trips and import checks)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "ptrun.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def sentiment_files(tmp_path) -> dict[str, Path]:
    """Small sentiment TSV splits written for the test."""
    rows = {
        "train": [("a wonderful, moving film", "positive"), ("dull and far too long", "negative")] * 8,
        "dev": [("wonderful film", "positive"), ("too long and dull", "negative")] * 3,
        "test": [("moving and wonderful", "positive"), ("far too dull", "negative")] * 3,
    }
    paths = {}
    for split, items in rows.items():
        path = tmp_path / f"{split}.tsv"
        path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in items), encoding="utf-8")
        paths[split] = path
    return paths


@pytest.fixture
def ner_files(tmp_path) -> dict[str, Path]:
    """Small CoNLL splits written for the test."""
    sentences = [
        [("Anna", "B-PER"), ("Berg", "I-PER"), ("lives", "O"), ("in", "O"), ("Oslo", "B-LOC"), (".", "O")],
        [("Acme", "B-ORG"), ("Corp", "I-ORG"), ("hired", "O"), ("Tom", "B-PER"), (".", "O")],
        [("It", "O"), ("rained", "O"), ("in", "O"), ("Paris", "B-LOC"), ("today", "O"), (".", "O")],
    ]
    text = "\n".join("".join(f"{tok} {tag}\n" for tok, tag in s) for s in sentences * 4)
    paths = {}
    for split in ("train", "dev", "test"):
        path = tmp_path / f"{split}.txt"
        path.write_text(text, encoding="utf-8")
        paths[split] = path
    return paths


SMOLLM2_TOKENIZER = REPO / "tests" / "fixtures" / "smollm2-tokenizer"


def smollm2_tokenizer_files(out: Path) -> Path:
    """Write the real SmolLM2 tokenizer (stored gzipped in tests/fixtures) into ``out``."""
    import gzip
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    with gzip.open(SMOLLM2_TOKENIZER / "tokenizer.json.gz", "rb") as src, open(out / "tokenizer.json", "wb") as dst:
        shutil.copyfileobj(src, dst)
    for name in ("tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(SMOLLM2_TOKENIZER / name, out / name)
    return out


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide Llama causal LM built from a config, with the real SmolLM2 tokenizer
    (and its chat template)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = smollm2_tokenizer_files(tmp_path_factory.mktemp("tiny-llama"))
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    return out


def read_metrics(run_dir: Path) -> dict:
    """A run folder's metrics.json: ``{"train": ..., "validation": ..., "test": ...}``."""
    import json

    return json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))


def read_rows(run_dir: Path, split: str = "test") -> list[dict]:
    """A run folder's prediction records of ``split`` (predictions/SPLIT.jsonl), in file order."""
    import json

    text = (Path(run_dir) / "predictions" / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def register_plugin():
    """Register in-test plugins for one test: ``register_plugin(obj, name)`` returns the
    :class:`ptrun.registry.PluginInfo`. Afterwards (in a finally) every plugin it registered is
    unregistered, the errors and override notes it caused on other plugins are undone, and the
    registry's caches are cleared."""
    from ptrun import registry

    registry.load_plugins()
    saved = {name: (info.error, list(info.overrides)) for name, info in registry.PLUGINS.items()}
    added: list[str] = []

    def _register(obj, name: str):
        added.append(name)
        return registry.register(obj, name)

    try:
        yield _register
    finally:
        for name in reversed(added):
            registry.unregister(name)
        for name, (error, overrides) in saved.items():
            if name in registry.PLUGINS:
                registry.PLUGINS[name].error = error
                registry.PLUGINS[name].overrides = overrides
        registry.clear()


def install_package(tmp_path_factory, source: Path, module: str) -> Path:
    """pip-install the package at ``source`` into a fresh folder and return it. It is built from
    a copy, so pip's build/ and egg-info never land in the source tree."""
    import shutil

    target = tmp_path_factory.mktemp(f"{source.name}-site")
    copy = tmp_path_factory.mktemp(f"{source.name}-src") / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-input",
         "--disable-pip-version-check", "--target", str(target), str(copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / module / "__init__.py").is_file() or (target / f"{module}.py").is_file()
    return target


def install_example(tmp_path_factory, name: str) -> Path:
    """pip-install ``examples/<name>`` into a fresh folder and return it."""
    return install_package(tmp_path_factory, REPO / "examples" / name, name.replace("-", "_"))


def example_env(site: Path, plugin: str) -> dict:
    """Environment for subprocesses: ``site`` first on PYTHONPATH, and ptrun's own plugins plus
    ``plugin`` allowed (the suite is pinned to ptrun's own)."""
    paths = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths), **load_plugins_env(plugin)}


def pytest_collection_modifyitems(config, items):
    """Run the ``slow`` tests first: under ``-n auto --dist worksteal`` the longest ones (the
    README's commands, several minutes each) start at once and the other workers take the short
    tests, instead of a long test starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
