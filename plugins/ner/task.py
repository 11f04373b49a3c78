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

from ptrun import DataError, Example, Record, Task, TemplateError, echo, example_id
from ptrun.plugins import demo_dir
from ptrun.plugins.ner.context import NEXT_MARK, PREV_MARK, fit_context, link_documents, word_segments
from ptrun.plugins.ner.conll import entities_of, entity_types, seqeval_metrics, tag_label_map, to_iob2
from ptrun.plugins.ner.generative import ENTITY_NAMES, parse_entities

#: Stands in for the sentence while rendering, so the tokens' position in the prompt is known
#: exactly (a private-use character no tokenizer input contains).
SENTENCE_MARK = "\ue000"
SOFT_PROMPT_METHODS = ("prompt-tuning", "prefix-tuning", "p-tuning")


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
        "prev_text": "the previous sentence of the same document (-DOCSTART- documents; empty at its start); "
                     "encoders trim it from its start to fit --max-length, and never tag it",
        "next_text": "the next sentence of the same document (empty at its end); encoders trim it from its end",
    }
    formats = {".txt": "conll", ".conll": "conll", ".iob": "conll", ".bio": "conll"}
    encoder_head = "AutoModelForTokenClassification"
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
        fields = {"tokens": tokens, "tags": to_iob2(tags) if has_tags else [], "doc": record.fields.get("doc"),
                  # Neighbours given with the input (ptrun.load); read() links a file's own.
                  "prev_tokens": list(record.fields.get("prev_tokens") or []),
                  "next_tokens": list(record.fields.get("next_tokens") or [])}
        return Example(example_id(record), fields, record.path, record.line, labeled=has_tags)

    def read(self, path, fmt=None, labeled=True):
        examples = super().read(path, fmt, labeled)
        link_documents(examples)
        return examples

    def labels_of(self, example):
        return example.fields["tags"]

    def label_map(self, labels, prompt):
        return tag_label_map(labels)

    def metrics(self, predictions, references, label_map):
        return seqeval_metrics(predictions, references)

    def unsupported(self, method, kind):
        if kind == "encoder" and method in SOFT_PROMPT_METHODS:
            return (f"task '{self.name}' cannot use soft prompts on an encoder: they add virtual tokens "
                    "that token classification cannot label (use lora or adalora)")
        return super().unsupported(method, kind)

    def reference(self, example):
        return example.fields["tags"] or None

    def context(self, example, label_map):
        types = entity_types(label_map)
        tokens, tags = list(example.fields["tokens"]), list(example.fields["tags"])
        return {
            "sentence": SENTENCE_MARK,
            "text": " ".join(tokens),
            "tokens": tokens,
            "tags": tags,
            "entities": entities_of(tokens, tags),
            "entity_types": [ENTITY_NAMES.get(t, t.lower()) for t in types],
            "types": [{"type": t, "name": ENTITY_NAMES.get(t, t.lower())} for t in types],
            "prev_text": PREV_MARK if example.fields.get("prev_tokens") else "",
            "next_text": NEXT_MARK if example.fields.get("next_tokens") else "",
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
        linked = Example("probe", {"tokens": ["Xyzzy"], "tags": ["O"], "prev_tokens": ["A"], "next_tokens": ["B"]})
        linked_text = prompt.render(self.context(linked, None) | base).input
        for mark, name in ((PREV_MARK, "prev_text"), (NEXT_MARK, "next_text")):
            if linked_text.count(mark) > 1:
                raise TemplateError(
                    f"an NER template may output {{{{ {name} }}}} at most once in its prompt (found {linked_text.count(mark)} times)",
                    path=prompt.path, hint="Show each neighbouring sentence once.")
        if text.count(SENTENCE_MARK) != 1:
            raise TemplateError(
                f"an NER template must output {{{{ sentence }}}} exactly once in its prompt (found "
                f"{text.count(SENTENCE_MARK)} times), so ptrun knows which tokens carry tags",
                path=prompt.path,
                hint="Use `ptrun render ner --template ...` to see what it produces"
                + (" (a demonstration's d.sentence counts too: use d.text)." if base["demos"] else "."),
            )

    def display(self, example, text: str) -> str:
        for mark, text_of in self._texts(example).items():
            text = text.replace(mark, text_of)
        return text

    @staticmethod
    def _texts(example) -> dict[str, str]:
        f = example.fields
        return {SENTENCE_MARK: " ".join(f["tokens"]), PREV_MARK: " ".join(f.get("prev_tokens") or []),
                NEXT_MARK: " ".join(f.get("next_tokens") or [])}

    # -- causal language models -----------------------------------------------------
    def lm_messages(self, example, rendered, chat):
        """The default messages, with an encoder template's marks (a template with no
        ``model_kinds``) replaced by the sentence and its neighbours, as a causal LM must read them."""
        messages = super().lm_messages(example, rendered, chat)
        return [{**m, "content": self.display(example, m["content"])} for m in messages]

    def parse_generation(self, example, text, label_map):
        return parse_entities(example.fields["tokens"], text, label_map)

    # -- model ----------------------------------------------------------------------

    def encode(self, examples, rendered, tokenizer, label_map, max_length):
        label2id = label_map.label2id
        pieces = []  # per example: (words before the sentence, the sentence's tokens, words after)
        fitted = self._fit_neighbours(examples, rendered, tokenizer, max_length)
        for ex, r, segments in zip(examples, rendered, fitted):
            if segments is None:
                prefix, suffix = ("", "") if r is None else r.input.split(SENTENCE_MARK, 1)
                pieces.append((prefix.split(), ex.fields["tokens"], suffix.split()))
                continue
            at = next(i for i, (role, _w) in enumerate(segments) if role == SENTENCE_MARK)
            pieces.append(([w for _r, ws in segments[:at] for w in ws], ex.fields["tokens"],
                           [w for _r, ws in segments[at + 1 :] for w in ws]))
        batch = tokenizer(
            [p + t + s for p, t, s in pieces],
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
        )
        features = []
        for i, (prefix, tokens, _suffix) in enumerate(pieces):
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
                # Only the sentence's own first sub-tokens carry tags; the template's words and
                # the neighbouring sentences are context (-100).
                labels = [-100] * len(word_ids)
                for j, pos in enumerate(starts):
                    if pos >= 0:
                        labels[pos] = label2id[tags[j]]
                feature["labels"] = labels
            features.append(feature)
        return features

    def _fit_neighbours(self, examples, rendered, tokenizer, max_length) -> list:
        """Per example, the prompt as ``(role, words)`` segments with the neighbouring sentences
        trimmed to fit ``max_length``; None for a prompt that shows no neighbour."""
        out: list = [None] * len(examples)
        todo = [i for i, r in enumerate(rendered) if r is not None and (PREV_MARK in r.input or NEXT_MARK in r.input)]
        if not todo:
            return out
        segs = {}
        for i in todo:
            f = examples[i].fields
            segs[i] = word_segments(rendered[i].input, {SENTENCE_MARK: f["tokens"], PREV_MARK: f.get("prev_tokens") or [],
                                                        NEXT_MARK: f.get("next_tokens") or []})
        words = [[w for _r, ws in segs[i] for w in ws] for i in todo]
        full = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        special = tokenizer.num_special_tokens_to_add()
        for row, i in enumerate(todo):
            lengths = [0] * len(words[row])
            for w in full.word_ids(row):
                if w is not None:
                    lengths[w] += 1
            out[i] = fit_context(segs[i], lengths, max_length, special)
        return out

    def collator(self, tokenizer):
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(tokenizer)

    def predict(self, model, tokenizer, examples, features, label_map, batch_size):
        from ptrun.backends.device import forward_batches

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
            echo(
                f"warning: {truncated} sentence(s) were longer than --max-length; their last tokens "
                "were predicted as O. Raise --max-length to tag them."
            )
        return predictions

    def prediction_record(self, example, prediction, reference, **shown):
        return super().prediction_record(example, prediction, reference, tokens=example.fields["tokens"], **shown)


TASK = NerTask()
