"""Named-entity recognition: CoNLL column files, encoder token classification, seqeval metrics.

The template wraps the sentence in instruction text; only the sentence's own tokens carry
labels (first sub-token of each word). Templates mark where the sentence goes with
``{{ sentence }}``, which must appear exactly once in the prompt.
"""

from __future__ import annotations

from pathlib import Path

from ptrun import DataError, Example, LabelMap, Task, TemplateError, hookimpl
from ptrun.data import Record
from ptrun.plugins import builtin_template_dir, demo_dir

#: Stands in for the sentence while rendering, so the tokens' position in the prompt is known
#: exactly (a private-use character no tokenizer input contains).
SENTENCE_MARK = "\ue000"
ENTITY_NAMES = {"PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous"}


def _check_tag(tag: str, path, line: int) -> str:
    if tag == "O":
        return tag
    prefix, _, etype = tag.partition("-")
    if prefix in ("B", "I") and etype:
        return tag
    raise DataError(
        f"'{tag}' is not a BIO tag (expected O, B-TYPE or I-TYPE), so entities cannot be scored",
        path=path,
        line=line,
        hint="Fix the tag; ptrun reads IOB1 and IOB2 tag columns.",
    )


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 -> IOB2: an ``I-X`` that does not continue an ``X`` entity starts one."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            prev = out[i - 1] if i else "O"
            if prev == "O" or prev[2:] != tag[2:]:
                tag = "B-" + tag[2:]
        out.append(tag)
    return out


def read_conll(path: Path) -> list[Record]:
    """Sentences of a CoNLL column file: token first, tag last, blank lines between sentences."""
    records: list[Record] = []
    tokens: list[str] = []
    tags: list[str | None] = []
    start = 0

    def flush():
        if tokens:
            records.append(Record({"tokens": list(tokens), "tags": list(tags)}, str(path), start))
            tokens.clear()
            tags.clear()

    with open(path, encoding="utf-8-sig") as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                flush()
                continue
            columns = line.split()
            if columns[0] == "-DOCSTART-":
                flush()
                continue
            if not tokens:
                start = line_no
            tokens.append(columns[0])
            if len(columns) == 1:
                tags.append(None)
            else:
                tags.append(_check_tag(columns[-1], path, line_no))
        flush()
    return records


class NerTask(Task):
    name = "ner"
    description = "Named-entity recognition (CoNLL columns) with an encoder token-classification head"
    variables = {
        "sentence": "the sentence (where its tokens go in the prompt; use it exactly once)",
        "tokens": "the sentence's tokens (list)",
        "entity_types": "readable names of the entity types, e.g. person, location",
        "tags": "gold tags (list; empty when predicting)",
    }
    extensions = (".txt", ".conll", ".iob", ".bio")
    default_template = "ner/default"
    default_model = "minilm"
    main_metric = "f1"
    peft_task_type = "TOKEN_CLS"
    default_lr = 1e-4
    default_epochs = 3.0

    def demo_data(self):
        return demo_dir("ner")

    def from_record(self, record: Record, labeled: bool = True) -> Example:
        tokens, tags = record.fields["tokens"], record.fields.get("tags")
        has_tags = tags is not None and all(t is not None for t in tags)
        if labeled and not has_tags:
            missing = next(i for i, t in enumerate(tags) if t is None) if tags else 0
            raise DataError(
                f"token '{tokens[missing]}' has no tag column",
                path=record.path,
                line=record.line + missing,
                hint="Each line must be `token ... TAG` (tag in the last column), or pass the file with --predict.",
            )
        if tags is not None and any(t is None for t in tags) and not all(t is None for t in tags):
            missing = next(i for i, t in enumerate(tags) if t is None)
            raise DataError(
                f"token '{tokens[missing]}' has no tag column while the rest of the sentence has tags",
                path=record.path,
                line=record.line + missing,
            )
        fields = {"tokens": tokens, "tags": to_iob2(tags) if has_tags else []}
        stem = Path(record.path).stem
        return Example(f"{stem}-{record.line}", fields, record.path, record.line, labeled=has_tags)

    def labels_of(self, example):
        return example.fields["tags"]

    def reference(self, example):
        return example.fields["tags"] or None

    def context(self, example, label_map):
        types = label_map.entity_types if label_map is not None else []
        return {
            "sentence": SENTENCE_MARK,
            "tokens": list(example.fields["tokens"]),
            "tags": list(example.fields["tags"]),
            "entity_types": [ENTITY_NAMES.get(t, t.lower()) for t in types],
        }

    def check_prompt(self, prompt):
        probe = Example("probe", {"tokens": ["Probe"], "tags": ["O"]})
        marks = prompt.render(self.context(probe, None) | {"labels": [], "label_words": [], "task": self.name}).input
        if marks.count(SENTENCE_MARK) != 1:
            raise TemplateError(
                f"an NER template must output {{{{ sentence }}}} exactly once in its prompt (found "
                f"{marks.count(SENTENCE_MARK)} times), so ptrun knows which tokens carry tags",
                path=prompt.path,
                hint="Use `ptrun render ner --template ...` to see what it produces.",
            )

    def display(self, example, text: str) -> str:
        return text.replace(SENTENCE_MARK, " ".join(example.fields["tokens"]))

    # -- model ----------------------------------------------------------------------
    def load(self, model_path, label_map, *, trained):
        from ptrun.encoders import load_with_head

        return load_with_head("AutoModelForTokenClassification", model_path, label_map, trained=trained)

    def encode(self, examples, rendered, tokenizer, label_map, max_length):
        label2id = label_map.label2id
        words_per_example = []
        for ex, r in zip(examples, rendered):
            prefix, suffix = ("", "") if r is None else r.input.split(SENTENCE_MARK, 1)
            words_per_example.append((prefix.split(), ex.fields["tokens"], suffix.split()))
        batch = tokenizer(
            [p + t + s for p, t, s in words_per_example],
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
        )
        features = []
        for i, (prefix, tokens, _suffix) in enumerate(words_per_example):
            word_ids = batch.word_ids(i)
            first = {}
            for pos, w in enumerate(word_ids):
                if w is not None and w not in first:
                    first[w] = pos
            starts = [first.get(len(prefix) + j, -1) for j in range(len(tokens))]
            feature = {k: batch[k][i] for k in batch.keys()}
            feature["word_starts"] = starts
            tags = examples[i].fields["tags"]
            if tags:
                labels = [-100] * len(word_ids)
                for j, pos in enumerate(starts):
                    if pos >= 0:
                        labels[pos] = label2id[tags[j]]
                feature["labels"] = labels
            features.append(feature)
        return features

    def collator(self, tokenizer):
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(tokenizer)

    def predict(self, model, tokenizer, examples, features, label_map, batch_size):
        from ptrun.infer import forward_batches

        id2label = label_map.id2label
        predictions: list = [None] * len(examples)
        truncated = 0
        for chunk, _batch, logits in forward_batches(model, features, self.collator(tokenizer), batch_size):
            best = logits.argmax(-1).tolist()
            for row, i in enumerate(chunk):
                starts = features[i]["word_starts"]
                truncated += any(p < 0 for p in starts)
                predictions[i] = [id2label[best[row][p]] if p >= 0 else "O" for p in starts]
        if truncated:
            import click

            click.echo(
                f"warning: {truncated} sentence(s) were longer than --max-length; their last tokens "
                "were predicted as O. Raise --max-length to tag them.",
                err=True,
            )
        return predictions

    def prediction_record(self, example, prediction, reference):
        record = {"id": example.id, "tokens": example.fields["tokens"], "prediction": prediction}
        if reference is not None:
            record["reference"] = reference
        return record


TASK = NerTask()


@hookimpl
def ptrun_tasks():
    return [TASK]


@hookimpl
def ptrun_template_dirs():
    return [builtin_template_dir()]


@hookimpl
def ptrun_readers():
    return {"conll": read_conll}


@hookimpl
def ptrun_label_map(task, labels, prompt):
    if task.name == TASK.name:
        return LabelMap.for_tags(labels)
    return None


@hookimpl
def ptrun_metrics(task, predictions, references, label_map):
    if task.name != TASK.name:
        return None
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    try:
        report = classification_report(references, predictions, output_dict=True, zero_division=0)
    except Exception as exc:  # seqeval rejects tag schemes it cannot parse
        raise DataError(f"seqeval cannot score these tags: {exc}") from None
    tokens = sum(len(r) for r in references)
    correct = sum(p == g for pr, rr in zip(predictions, references) for p, g in zip(pr, rr))
    per_type = {
        k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"], "support": int(v["support"])}
        for k, v in report.items()
        if not k.endswith(" avg")
    }
    return {
        "f1": float(f1_score(references, predictions, zero_division=0)),
        "precision": float(precision_score(references, predictions, zero_division=0)),
        "recall": float(recall_score(references, predictions, zero_division=0)),
        "token_accuracy": correct / tokens if tokens else 0.0,
        "per_type_report": per_type,
    }
