"""Sentiment classification: TSV/CSV/JSONL text + label, encoder sequence classification."""

from __future__ import annotations

from ptrun import TextClassificationTask, hookimpl
from ptrun.plugins import demo_dir


class SentimentTask(TextClassificationTask):
    name = "sentiment"
    description = "Sentiment classification of short texts (encoder head, or prompting a causal LM)"
    label_fields = ("label", "sentiment", "labels")
    default_template = "sentiment/review"
    default_model = "minilm"
    default_lr = 5e-5
    default_epochs = 3.0

    def demo_data(self):
        return demo_dir("sentiment")


TASK = SentimentTask()


@hookimpl
def ptrun_tasks():
    return [TASK]
