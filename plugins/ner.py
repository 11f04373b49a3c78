"""Named-entity recognition: CoNLL column files, seqeval metrics, and two ways to tag.

Encoders: the template wraps the sentence in instruction text; only the sentence's own tokens
carry labels (first sub-token of each word). Encoder templates mark where the sentence goes
with ``{{ sentence }}``, which must appear exactly once in the prompt.

Causal LMs (generative NER): the template shows the sentence as ``{{ text }}`` and its target
lists the entities one per line as ``TYPE: text`` (``none`` when there are none). A generation
is parsed back onto the sentence's tokens as IOB2 tags (:meth:`NerTask.parse_generation`), so
both kinds of model are scored the same way, with seqeval.
"""

from __future__ import annotations

import re
from pathlib import Path

from ptrun import DataError, Example, LabelMap, Task, TemplateError, hookimpl
from ptrun.data import Record
from ptrun.plugins import builtin_template_dir, demo_dir

#: Stands in for the sentence while rendering, so the tokens' position in the prompt is known
#: exactly (a private-use character no tokenizer input contains).
SENTENCE_MARK = "\ue000"
ENTITY_NAMES = {"PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous"}
#: Other spellings a model may write for a type (besides the code and its name, in any case).
TYPE_ALIASES = {"organisation": "ORG", "misc": "MISC", "per": "PER", "people": "PER"}
#: What a generation says when a sentence has no entities (compared lower-cased, without a final period).
NO_ENTITIES = {"none", "no entities", "no entity", "n/a", "nothing"}
#: Counts every parsed generation reports (summed over a split into metrics.json).
GENERATION_COUNTS = (
    "predicted_entities",
    "invented_entities",
    "unknown_types",
    "malformed_lines",
    "overlapping_entities",
    "empty_generations",
)
_BULLET = re.compile(r"^(?:[-*\u2022]|\d+[.)])\s+")
_QUOTES = "\"'`\u201c\u201d\u2018\u2019"


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


def entities_of(tokens: list[str], tags: list[str]) -> list[dict]:
    """The entities IOB2 ``tags`` mark on ``tokens``, in order: ``{"type": "PER", "text": "John Smith"}``."""
    entities: list[dict] = []
    current: list[str] = []
    etype = None
    for token, tag in zip(tokens, tags):
        if tag.startswith("I-") and current and tag[2:] == etype:
            current.append(token)
            continue
        if current:
            entities.append({"type": etype, "text": " ".join(current)})
        current, etype = ([token], tag[2:]) if tag != "O" else ([], None)
    if current:
        entities.append({"type": etype, "text": " ".join(current)})
    return entities


def _find_span(tokens: list[str], span: str, used: list[bool]) -> tuple[int, int] | str:
    """Where the text ``span`` occurs in ``tokens``: the first occurrence whose tokens are not
    ``used``, trying an exact token match, then a case-insensitive one, then one that ignores
    spacing ("Smith's" for the tokens ``Smith 's``). Each try takes the span without a final
    punctuation mark ("Paris." at the end of a sentence) before the span as written. Returns
    ``(start, end)``, or ``"overlap"`` when every occurrence overlaps an entity placed earlier,
    or ``"missing"``."""
    variants = [span.split()]
    if span[-1:] in ".,;:!?" and span[:-1].strip():
        variants.insert(0, span[:-1].split())
    n = len(tokens)
    lowered = [t.lower() for t in tokens]
    overlap = False

    def token_matches(words, fold):
        probe = [w.lower() for w in words] if fold else words
        seq = lowered if fold else tokens
        k = len(words)
        for i in range(n - k + 1):
            if seq[i : i + k] == probe:
                yield i, i + k

    def spacing_matches(words):
        joined = "".join(words).lower()
        for i in range(n):
            acc = ""
            for j in range(i, n):
                acc += lowered[j]
                if acc == joined:
                    yield i, j + 1
                if not joined.startswith(acc):
                    break

    for attempt in ("exact", "fold", "spacing"):
        for words in variants:
            if not words:
                continue
            found = spacing_matches(words) if attempt == "spacing" else token_matches(words, attempt == "fold")
            for start, end in found:
                if not any(used[start:end]):
                    return start, end
                overlap = True
    return "overlap" if overlap else "missing"


class NerTask(Task):
    name = "ner"
    description = (
        "Named-entity recognition (CoNLL columns): an encoder token-classification head, or a causal LM "
        "generating the entity list"
    )
    variables = {
        "sentence": "encoders: the sentence (where its tokens go in the prompt; use it exactly once)",
        "text": "the sentence's tokens joined by spaces (what a causal LM reads)",
        "tokens": "the sentence's tokens (list)",
        "entities": "gold entities in order, each {type: 'PER', text: 'John Smith'} (empty when predicting)",
        "entity_types": "readable names of the entity types, e.g. person, location",
        "types": "the entity types of the tag set, each {type: 'PER', name: 'person'}",
        "tags": "gold tags (list; empty when predicting)",
    }
    extensions = (".txt", ".conll", ".iob", ".bio")
    default_template = "ner/default"
    default_templates = {"causal-lm": "ner/generative"}
    model_kinds = ("encoder", "causal-lm")
    #: Room for the entity list of a long sentence ("TYPE: text" is 3-6 tokens per entity).
    max_new_tokens = 64
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
        tokens, tags = list(example.fields["tokens"]), list(example.fields["tags"])
        return {
            "sentence": SENTENCE_MARK,
            "text": " ".join(tokens),
            "tokens": tokens,
            "tags": tags,
            "entities": entities_of(tokens, tags),
            "entity_types": [ENTITY_NAMES.get(t, t.lower()) for t in types],
            "types": [{"type": t, "name": ENTITY_NAMES.get(t, t.lower())} for t in types],
        }

    def check_prompt(self, prompt):
        kinds = prompt.model_kinds
        probe = Example("probe", {"tokens": ["Xyzzy"], "tags": ["O"]})
        base = {"labels": [], "label_words": [], "task": self.name, "demos": []}
        if not kinds or "causal-lm" in kinds:
            # A demonstration too, so that a template which writes a demo's `sentence` is caught:
            # on a causal LM that would show the wrong sentence.
            demo = self.context(Example("demo", {"tokens": ["Plugh"], "tags": ["O"]}), None)
            base["demos"] = [{**demo, "input": "", "target": "none"}]
        text = prompt.render(self.context(probe, None) | base).input
        if kinds and "encoder" not in kinds:
            if SENTENCE_MARK in text:
                raise TemplateError(
                    "a causal-LM NER template shows the sentence with {{ text }} (or {{ tokens }}); "
                    "{{ sentence }} only marks where an encoder's tagged tokens go",
                    path=prompt.path,
                    hint="Replace {{ sentence }} with {{ text }} (and d.sentence with d.text in demonstrations).",
                )
            if "Xyzzy" not in text:
                raise TemplateError(
                    "this causal-LM NER template never shows the sentence in its prompt, so the model "
                    "cannot know what to tag",
                    path=prompt.path,
                    hint="Add {{ text }} to the prompt block; `ptrun render ner --template ...` shows the result.",
                )
            return
        if text.count(SENTENCE_MARK) != 1:
            raise TemplateError(
                f"an NER template must output {{{{ sentence }}}} exactly once in its prompt (found "
                f"{text.count(SENTENCE_MARK)} times), so ptrun knows which tokens carry tags",
                path=prompt.path,
                hint="Use `ptrun render ner --template ...` to see what it produces"
                + (" (a demonstration's d.sentence counts too: use d.text)." if base["demos"] else "."),
            )

    def display(self, example, text: str) -> str:
        return text.replace(SENTENCE_MARK, " ".join(example.fields["tokens"]))

    # -- causal language models -----------------------------------------------------
    def lm_messages(self, example, rendered, chat):
        """The default messages, with an encoder template's sentence mark (a template with no
        ``model_kinds``) replaced by the sentence, as a causal LM must read it."""
        messages = super().lm_messages(example, rendered, chat)
        text = " ".join(example.fields["tokens"])
        return [{**m, "content": m["content"].replace(SENTENCE_MARK, text)} for m in messages]

    def parse_generation(self, example, text, label_map):
        """IOB2 tags for the entity lines ``TYPE: text`` of a generation, and what was dropped.

        Each entity's text is looked up in the sentence's tokens, left to right, taking the first
        occurrence that no earlier entity covers (exact, then case-insensitive, then ignoring
        spaces). Text that is not in the sentence is dropped and counted (``invented_entities``),
        as are unknown types, lines that are not ``TYPE: text`` (``malformed_lines``) and
        entities whose every occurrence is taken (``overlapping_entities``). ``none`` means no
        entities. An empty generation predicts all ``O`` and counts as ``empty_generations``
        (not as unparseable: seqeval needs a tag per token). Types may be written as the code
        (``PER``) or the readable name (``person``), in any case. Parsing stops at the first blank
        line after an answer, where a plain-text model goes on to write the next example.

        Tags are IOB2, the scheme the CoNLL reader converts every file to.
        """
        tokens = list(example.fields["tokens"])
        tags = ["O"] * len(tokens)
        used = [False] * len(tokens)
        counts = dict.fromkeys(GENERATION_COUNTS, 0)
        dropped: list[dict] = []
        if not text.strip():
            counts["empty_generations"] = 1
            return tags, {**counts, "dropped": dropped}
        lookup = self._type_lookup(label_map)

        def place(code: str, span: str) -> str:
            found = _find_span(tokens, span, used)
            if isinstance(found, tuple):
                start, end = found
                tags[start : end] = [f"B-{code}"] + [f"I-{code}"] * (end - start - 1)
                used[start : end] = [True] * (end - start)
                counts["predicted_entities"] += 1
            return found if isinstance(found, str) else "placed"

        answered = False
        for raw in text.splitlines():
            line = _BULLET.sub("", raw.strip()).replace("**", "").strip()
            if not line:
                if answered:
                    break
                continue
            if line.rstrip(".").strip().lower() in NO_ENTITIES:
                answered = True
                continue
            etype, sep, span = line.partition(":")
            etype, span = etype.strip(), span.strip()
            if len(span) > 1 and span[0] in _QUOTES and span[-1] in _QUOTES:
                span = span[1:-1].strip()
            if not sep or not etype or not span:
                counts["malformed_lines"] += 1
                dropped.append({"line": line, "reason": "not TYPE: text"})
                continue
            answered = True
            if span.rstrip(".").strip().lower() in NO_ENTITIES:
                continue  # "PER: none"
            code = lookup.get(etype.lower())
            if code is None:
                counts["unknown_types"] += 1
                dropped.append({"line": line, "reason": "unknown type"})
                continue
            result = place(code, span)
            if result == "missing" and "," in span:
                # "PER: Anna, Tom": several entities on one line; each part stands on its own.
                parts = [p.strip() for p in span.split(",") if p.strip()]
                results = [(p, place(code, p)) for p in parts]
                failed = [(p, r) for p, r in results if r != "placed"]
            else:
                failed = [(span, result)] if result != "placed" else []
            for part, reason in failed:
                key = "invented_entities" if reason == "missing" else "overlapping_entities"
                counts[key] += 1
                dropped.append({
                    "line": f"{etype}: {part}",
                    "reason": "not in the sentence" if reason == "missing" else "its text is already tagged",
                })
        return tags, {**counts, "dropped": dropped}

    @staticmethod
    def _type_lookup(label_map) -> dict[str, str]:
        """Lower-cased spellings of each entity type (code, readable name, aliases) -> code."""
        types = label_map.entity_types if label_map is not None else []
        lookup = {}
        for code in types:
            lookup[code.lower()] = code
            lookup[ENTITY_NAMES.get(code, code).lower()] = code
        for alias, code in TYPE_ALIASES.items():
            if code in types:
                lookup.setdefault(alias, code)
        return lookup

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
