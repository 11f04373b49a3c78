"""Loading models offline: one loader per model kind (encoder with its task's head, causal LM),
a trained peft run rebuilt as its base plus the adapter, and the GGUF conversion cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path

from ptrun.errors import PtrunError

CACHE_ENV = "PTRUN_CACHE"


# --------------------------------------------------------------------------- transformers folders


def load_tokenizer(path: Path, *, pad_with_eos: bool = False):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not load a tokenizer from {path}: {exc}") from None
    if pad_with_eos and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _from_pretrained(cls, path: Path, what: str, **kwargs):
    import transformers

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "some weights were newly initialised" is expected for a fresh head
            transformers.logging.set_verbosity_error()
            return cls.from_pretrained(str(path), local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not load {what} from {path}: {exc}") from None
    finally:
        transformers.logging.set_verbosity_warning()


def load_encoder(path: Path, task, label_map, *, trained: bool):
    """``(model, tokenizer)``: ``task.encoder_head`` (an ``AutoModelFor...`` class) from ``path``.

    A base model gets a fresh head configured by ``task.head_config(label_map)``; a ptrun-trained
    model keeps its own head, whose labels must match the label map saved with it.
    """
    import transformers

    if not task.encoder_head:
        raise PtrunError(f"Task '{task.name}' does not run on encoder models.")
    cls = getattr(transformers, task.encoder_head)
    kwargs = {} if trained else dict(task.head_config(label_map), ignore_mismatched_sizes=True)
    model = _from_pretrained(cls, path, "a model", **kwargs)
    if trained and "id2label" in task.head_config(label_map):
        found = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if found != label_map.labels:
            raise PtrunError(
                f"The model in {path} was trained with labels {found}, but the run's label map has {label_map.labels}."
            )
    return model, load_tokenizer(path)


def load_causal(path: Path):
    """``(model, tokenizer)`` for a causal LM folder; a tokenizer without a pad token pads with EOS."""
    import transformers

    model = _from_pretrained(transformers.AutoModelForCausalLM, path, "a causal language model")
    tokenizer = load_tokenizer(path, pad_with_eos=True)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def context_size(model, tokenizer) -> int:
    """The longest sequence the model takes (positions), bounded by the tokenizer's own limit."""
    limit = getattr(model.config, "max_position_embeddings", None) or 2048
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if tok_limit and tok_limit < 1_000_000:
        limit = min(limit, tok_limit)
    return int(limit)


def load_for_run(backend, resolved, label_map):
    """The model of ``--model``: a base model (fresh head), a run's full model, or a peft run
    rebuilt as its base model with the adapter attached (the one place that does this)."""
    from ptrun.training.methods import is_adapter_dir, load_adapter

    if resolved.run_dir is not None and is_adapter_dir(resolved.path):
        model, tokenizer = backend.load(Path(resolved.run_config["base_model_path"]), label_map, trained=False)
        return load_adapter(model, resolved.path), tokenizer
    return backend.load(resolved.path, label_map, trained=resolved.run_dir is not None)


# --------------------------------------------------------------------------- GGUF files


def cache_root() -> Path:
    """Where converted models are kept: ``$PTRUN_CACHE``, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ptrun"


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def gguf_digest(gguf: Path) -> str:
    """The file's SHA-256, hashed once per (path, size, mtime): the result is kept beside the
    cache, so an unchanged file is never read again just to find its converted folder."""
    stat = gguf.stat()
    stamp = {"path": str(gguf.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    note = cache_root() / "digests" / (hashlib.sha256(stamp["path"].encode()).hexdigest()[:24] + ".json")
    try:
        known = json.loads(note.read_text(encoding="utf-8"))
        if {k: known.get(k) for k in stamp} == stamp and known.get("sha256"):
            return known["sha256"]
    except (OSError, ValueError):
        pass
    digest = file_sha256(gguf)
    try:
        note.parent.mkdir(parents=True, exist_ok=True)
        tmp = note.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**stamp, "sha256": digest}), encoding="utf-8")
        os.replace(tmp, note)
    except OSError:
        pass  # a read-only cache only costs the hash next time
    return digest


def converted_gguf(gguf: Path, echo=None) -> Path:
    """A transformers model folder (safetensors) converted from ``gguf``, cached by file hash.

    De-quantizing a GGUF file through transformers takes tens of seconds; the converted folder
    loads in about a second. The cache key is the GGUF file's SHA-256, so a changed file is
    converted again, and the folder appears atomically (a killed conversion leaves nothing).
    """
    gguf = Path(gguf)
    if not gguf.is_file():
        raise PtrunError(f"GGUF model file {gguf} does not exist.")
    target = cache_root() / "models" / f"{gguf.stem}-{gguf_digest(gguf)[:16]}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if echo:
        echo(f"Converting {gguf.name} to a transformers model (once; cached in {target})...")
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except ImportError as exc:
        raise PtrunError(f"Loading {gguf.name} needs the gguf package: {exc}", hint="pip install gguf") from None
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not read the GGUF model {gguf}: {exc}") from None
    # The weights are de-quantized to float32 already; saved without the GGUF marker they load
    # as an ordinary model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():  # another process may have won the race
            raise
    if echo:
        echo(f"Converted in {time.perf_counter() - start:.0f} s.")
    return target

