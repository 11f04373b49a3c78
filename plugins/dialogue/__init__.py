"""The built-in dialogue task plugin: conversations (JSONL, DailyDialog), fine-tuning a causal LM
on the assistant turns, dialogue metrics, and ``ptrun chat``."""

from __future__ import annotations

from ptrun import hookimpl
from ptrun.plugins.dialogue.dailydialog import detokenize, read_dailydialog  # noqa: F401
from ptrun.plugins.dialogue.metrics import distinct_n, normalize_tokens, token_f1  # noqa: F401
from ptrun.plugins.dialogue.task import TASK, DialogueTask  # noqa: F401


@hookimpl
def ptrun_tasks():
    return [TASK]


@hookimpl
def ptrun_readers():
    return {"dailydialog": read_dailydialog}


@hookimpl
def ptrun_commands(cli):
    from ptrun.plugins.dialogue.chat import chat_command

    cli.add_command(chat_command)
