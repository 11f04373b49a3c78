"""The built-in NER task plugin: CoNLL files, encoder tagging or generated entity lists, seqeval."""

from __future__ import annotations

from ptrun import hookimpl
from ptrun.plugins.ner.conll import iter_conll, read_conll, to_iob2  # noqa: F401  (the plugin's public helpers)
from ptrun.plugins.ner.task import SENTENCE_MARK, TASK, NerTask  # noqa: F401


@hookimpl
def ptrun_tasks():
    return [TASK]


@hookimpl
def ptrun_readers():
    return {"conll": iter_conll}  # a generator: `ptrun predict` streams it
