"""Loading encoder models (BERT-like) with a task head, offline."""

from __future__ import annotations

import warnings
from pathlib import Path

from ptrun.errors import PtrunError


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not load a tokenizer from {path}: {exc}") from None


def load_with_head(auto_class: str, path: Path, label_map, *, trained: bool):
    """``AutoModelFor<auto_class>`` from ``path`` with the label map's labels.

    A fresh head is initialised for a base model; a ptrun-trained model keeps its own head,
    and its labels must match the label map saved with it.
    """
    import transformers

    cls = getattr(transformers, auto_class)
    kwargs = {}
    if not trained:
        kwargs = dict(
            num_labels=len(label_map),
            id2label=label_map.id2label,
            label2id=label_map.label2id,
            ignore_mismatched_sizes=True,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "some weights were newly initialised" is expected here
            transformers.logging.set_verbosity_error()
            model = cls.from_pretrained(str(path), local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not load a model from {path}: {exc}") from None
    finally:
        transformers.logging.set_verbosity_warning()
    if trained and [model.config.id2label[i] for i in range(model.config.num_labels)] != label_map.labels:
        raise PtrunError(
            f"The model in {path} was trained with labels {list(model.config.id2label.values())}, "
            f"but the run's label map has {label_map.labels}."
        )
    return model, load_tokenizer(path)
