"""The built-in QA task plugin: SQuAD files, extractive span heads, generated answers, EM/F1."""

from __future__ import annotations

from ptrun import hookimpl
from ptrun.plugins.qa.spans import best_answer, span_positions  # noqa: F401  (the plugin's public helpers)
from ptrun.plugins.qa.squad import read_qa_json, read_squad
from ptrun.plugins.qa.task import ANSWERABLE, TASK, UNANSWERABLE, QaTask  # noqa: F401


@hookimpl
def ptrun_tasks():
    return [TASK]


@hookimpl
def ptrun_readers():
    # "qa-json": the SQuAD nesting when a .json file has it, else a flat list of questions.
    return {"squad": read_squad, "qa-json": read_qa_json}
