"""Question answering: SQuAD JSON / flat JSONL, extractive answers from an encoder span head.

The model reads ``question [SEP] context`` and scores every context token as the answer's
start and end. Contexts longer than ``--max-length`` are cut into overlapping windows (the
Hugging Face sliding window); the best span over all windows of a question is its answer.
A template rewrites only the question side, so offsets still map back into the context.
Answers are scored with SQuAD exact match and F1 (:mod:`ptrun.textmetrics`).

SQuAD 2.0 data works too: questions with ``is_impossible`` (or an empty answer list) train the
model to point at [CLS], and a model that saw such questions may answer "" (no answer).

The encoder-specific steps live in the ``*_spans`` methods; ``load``, ``encode``, ``collator``
and ``predict`` delegate to them, so another kind of model (a causal LM generating the answer)
can be added by overriding those four and widening ``model_kinds``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ptrun import DataError, Example, LabelMap, PtrunError, Task, TemplateError, hookimpl
from ptrun.data import Record, read_records
from ptrun.plugins import builtin_template_dir, demo_dir

#: Stands in for the context while checking a template (a private-use character).
CONTEXT_MARK = "\ue001"
#: Label-map entries: whether training saw answerable and/or unanswerable questions. A model
#: only predicts "no answer" when its label map has UNANSWERABLE.
ANSWERABLE, UNANSWERABLE = "answerable", "unanswerable"
#: What the span head reads; everything else in a feature is bookkeeping.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SPAN_LABELS = ("start_positions", "end_positions")

_ID_KEY = re.compile(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


# --------------------------------------------------------------------------- reading


def _id_lines(text: str) -> dict[str, int]:
    """Question id -> line of its ``"id"`` key in the file text (first occurrence)."""
    lines: dict[str, int] = {}
    line, pos = 1, 0
    for match in _ID_KEY.finditer(text):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        try:
            key = json.loads(f'"{match.group(1)}"')
        except json.JSONDecodeError:
            continue
        lines.setdefault(key, line)
    return lines


def is_squad(obj) -> bool:
    """True for the SQuAD nesting: ``{"data": [{"paragraphs": [...]}, ...]}``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        return False
    return not obj["data"] or (isinstance(obj["data"][0], dict) and "paragraphs" in obj["data"][0])


def _load_json(path: Path):
    if not path.is_file():
        raise DataError("no such data file", path=path, hint="Check the path you passed.")
    text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise DataError(
            f"invalid JSON ({exc.msg} at column {exc.colno})",
            path=path,
            line=exc.lineno,
            hint="Fix the file so that it parses (SQuAD JSON, or use JSONL with one object per line).",
        ) from None


def squad_records(obj, text: str, path: Path) -> list[Record]:
    """Flatten parsed SQuAD JSON into one record per question, located at its ``"id"`` line."""
    if not is_squad(obj):
        raise DataError(
            'expected SQuAD JSON: an object whose "data" list holds articles with "paragraphs"',
            path=path,
            hint="Use the SQuAD layout, or JSONL with id, context, question and answers on each line.",
        )
    id_lines = _id_lines(text)
    records: list[Record] = []
    for a, article in enumerate(obj["data"], 1):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DataError(
                f'article {a} of "data" is not an object with a "paragraphs" list',
                path=path,
                line=records[-1].line if records else None,
                hint='Each item of "data" must be {"title": ..., "paragraphs": [...]}.',
            )
        title = str(article.get("title") or "")
        for p, paragraph in enumerate(article["paragraphs"], 1):
            where = f"article {a} ({title!r}), paragraph {p}" if title else f"article {a}, paragraph {p}"
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            ids = [str(q.get("id")) for q in qas or [] if isinstance(q, dict) and q.get("id") is not None]
            line = next((id_lines[i] for i in ids if i in id_lines), records[-1].line if records else None)
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise DataError(
                    f'{where} has no "context" string',
                    path=path,
                    line=line,
                    hint='Each paragraph must be {"context": "...", "qas": [...]}.',
                )
            if not isinstance(qas, list):
                raise DataError(
                    f'{where} has no "qas" list of questions',
                    path=path,
                    line=line,
                    hint='Add "qas": [{"id", "question", "answers"}, ...] to the paragraph.',
                )
            for q, qa in enumerate(qas, 1):
                if not isinstance(qa, dict) or qa.get("id") in (None, ""):
                    raise DataError(
                        f'{where}, question {q} has no "id" (SQuAD questions are named by their id)',
                        path=path,
                        line=line,
                        hint='Give every question a unique "id".',
                    )
                qid = str(qa["id"])
                line = id_lines.get(qid, line)
                fields = {"id": qid, "title": title, "context": paragraph["context"]}
                fields.update({k: qa[k] for k in ("question", "answers", "is_impossible") if k in qa})
                records.append(Record(fields, str(path), line))
    if not records:
        raise DataError("the file holds no questions", path=path, hint="Check that it is the right file.")
    return records


def read_squad(path) -> list[Record]:
    """The ``squad`` reader: SQuAD v1.1/v2.0 JSON, one record per question."""
    path = Path(path)
    obj, text = _load_json(path)
    return squad_records(obj, text, path)


def read_qa_json(path) -> list[Record]:
    """A ``.json`` file for QA: the SQuAD nesting if it has one, else a flat list of questions."""
    path = Path(path)
    obj, text = _load_json(path)
    if is_squad(obj):
        return squad_records(obj, text, path)
    return read_records(path, "json")


def _answers(record: Record, fail) -> list[tuple[str, int]] | None:
    """(text, answer_start) pairs from either answer layout; None when there is no answers key."""
    raw = record.fields.get("answers")
    if raw is None:
        return None
    layout_hint = 'Write answers as [{"text": ..., "answer_start": N}] or {"text": [...], "answer_start": [...]}.'
    if isinstance(raw, dict):
        texts, starts = raw.get("text"), raw.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            fail('"answers" must hold "text" and "answer_start" lists of the same length', layout_hint)
        raw = [{"text": t, "answer_start": s} for t, s in zip(texts, starts)]
    if not isinstance(raw, list):
        fail(f'"answers" must be a list, not {type(raw).__name__}', layout_hint)
    pairs = []
    for k, answer in enumerate(raw, 1):
        text = answer.get("text") if isinstance(answer, dict) else None
        start = answer.get("answer_start") if isinstance(answer, dict) else None
        if not isinstance(text, str) or not text:
            fail(f'answer {k} has no "text" (a non-empty string)', layout_hint)
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            fail(f'answer {k} has no "answer_start" (a character offset into the context)', layout_hint)
        pairs.append((text, start))
    return pairs


def _check_offsets(context: str, pairs: list[tuple[str, int]], fail) -> None:
    for k, (text, start) in enumerate(pairs, 1):
        found = context[start : start + len(text)]
        if found == text:
            continue
        where = [m.start() for m in re.finditer(re.escape(text), context)][:5]
        hint = (
            f"The text occurs at offset(s) {', '.join(map(str, where))}; set answer_start to the right one."
            if where
            else "The text does not occur in the context at all; fix the answer text or the context."
        )
        fail(
            f"answer {k} {text!r} does not match the context at answer_start {start} "
            f"(the context there reads {found!r})",
            hint,
        )


# --------------------------------------------------------------------------- span decoding


def span_positions(offsets: list, start_char: int, end_char: int) -> tuple[int, int]:
    """Token positions of the answer's first and last token in one window, or (0, 0) (the
    [CLS] token) when the answer is not wholly inside the window's context tokens."""
    context = [i for i, o in enumerate(offsets) if o is not None]
    if not context or offsets[context[0]][0] > start_char or offsets[context[-1]][1] < end_char:
        return 0, 0
    first, last = context[0], context[-1]
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


def best_answer(context: str, windows, *, n_best: int = 20, max_answer_tokens: int = 30, allow_null: bool = False) -> str:
    """The answer text of one question from its windows' ``(start_logits, end_logits, offsets)``.

    The ``n_best`` top starts and ends of each window are paired; a span must lie inside the
    context (offsets not None), end at or after its start and span at most ``max_answer_tokens``
    tokens. The highest start+end logit over all windows wins. With ``allow_null`` the answer is
    "" when the [CLS] score (its lowest over the windows) beats every span, as for SQuAD 2.0.
    """
    import numpy as np

    best = None  # (score, start_char, end_char)
    null = None
    for start_logits, end_logits, offsets in windows:
        start_logits = np.asarray(start_logits, dtype=np.float64)
        end_logits = np.asarray(end_logits, dtype=np.float64)
        n = min(len(offsets), len(start_logits))
        null_score = float(start_logits[0] + end_logits[0])
        null = null_score if null is None else min(null, null_score)
        starts = np.argsort(-start_logits[:n], kind="stable")[:n_best]
        ends = np.argsort(-end_logits[:n], kind="stable")[:n_best]
        for s in starts:
            if offsets[s] is None:
                continue
            for e in ends:
                if offsets[e] is None or e < s or e - s + 1 > max_answer_tokens:
                    continue
                score = float(start_logits[s] + end_logits[e])
                if best is None or score > best[0]:
                    best = (score, offsets[s][0], offsets[e][1])
    if best is None or (allow_null and null is not None and null > best[0]):
        return ""
    return context[best[1] : best[2]]


class SpanCollator:
    """Pads the model inputs and span labels; drops bookkeeping (offsets, example index)."""

    keys = MODEL_INPUTS + SPAN_LABELS

    def __init__(self, tokenizer):
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, features):
        return self.pad([{k: f[k] for k in self.keys if k in f} for f in features])


# --------------------------------------------------------------------------- the task


class QaTask(Task):
    name = "qa"
    description = "Question answering (SQuAD JSON or JSONL): extractive with an encoder span head, or generated by a causal LM"
    variables = {
        "question": "the question",
        "context": "the passage the answer comes from (extractive models read it after the prompt)",
        "title": "the article title (may be empty)",
        "answer": "the first gold answer (empty when predicting or unanswerable)",
        "answers": "all gold answer texts (list)",
    }
    extensions = (".json", ".jsonl")
    default_template = "qa/extractive"
    default_templates = {"causal-lm": "qa/generative"}
    default_model = "minilm"
    model_kinds = ("encoder", "causal-lm")
    max_new_tokens = 24
    main_metric = "f1"
    peft_task_type = "QUESTION_ANS"
    # A fresh span head needs larger steps than a classifier head: on the demo data, 2e-4 for
    # 3 epochs reaches F1 ~0.95 where 1e-4 (or 2 epochs) stalls near 0.37.
    default_lr = 2e-4
    default_epochs = 3.0
    #: Sliding window: consecutive windows share max_length // stride_divisor tokens.
    stride_divisor = 4
    #: Longest question side (the rendered template), as a fraction of max_length.
    max_question_fraction = 0.5
    n_best = 20
    max_answer_tokens = 30

    def demo_data(self):
        return demo_dir("qa")

    # -- data ---------------------------------------------------------------------------
    def read(self, path, fmt=None, labeled=True):
        path = Path(path)
        if fmt is None and path.suffix.lower() == ".json":
            fmt = "json"
        if fmt in ("json", "squad"):
            # The generic json reader does not know the SQuAD nesting; these do.
            records = read_squad(path) if fmt == "squad" else read_qa_json(path)
        else:
            records = read_records(path, fmt)
        return [self.from_record(r, labeled) for r in records]

    def from_record(self, record: Record, labeled: bool = True) -> Example:
        f = record.fields
        stem = Path(record.path.split(" ")[0]).stem.lstrip("-")
        qid = str(f["id"]) if f.get("id") not in (None, "") else f"{stem}-{record.line}"

        def fail(message, hint=None):
            raise DataError(f"question '{qid}': {message}", path=record.path, line=record.line, hint=hint)

        for key in ("context", "question"):
            if not isinstance(f.get(key), str) or not f[key].strip():
                present = ", ".join(sorted(f)) or "none"
                fail(f'missing "{key}" (a non-empty string; fields present: {present})',
                     "Each question needs id, context, question and answers.")
        pairs = _answers(record, fail)
        impossible = f.get("is_impossible", False)
        if not isinstance(impossible, bool):
            fail(f'"is_impossible" must be true or false, not {impossible!r}')
        if impossible and pairs:
            fail('"is_impossible" is true but "answers" is not empty',
                 'SQuAD 2.0 keeps the answers of unanswerable questions in "plausible_answers"; empty "answers".')
        if pairs == [] and f.get("is_impossible") is False:
            fail('"answers" is empty but "is_impossible" is false',
                 'Add the answer, or set "is_impossible": true for a question the context cannot answer.')
        if pairs is None and labeled and not impossible:
            fail('missing "answers"',
                 'Add "answers": [{"text": ..., "answer_start": N}], or pass unlabelled questions with --predict.')
        _check_offsets(f["context"], pairs or [], fail)
        # An empty answer list is how SQuAD 2.0 (Hugging Face layout) marks unanswerable questions.
        has_gold = pairs is not None or impossible
        fields = {
            "context": f["context"],
            "question": f["question"].strip(),
            "title": str(f.get("title") or ""),
            "answers": [t for t, _ in pairs or []],
            "answer_starts": [s for _, s in pairs or []],
            "unanswerable": has_gold and not pairs,
        }
        return Example(qid, fields, record.path, record.line, labeled=has_gold)

    def labels_of(self, example):
        if not example.labeled:
            return []
        return [UNANSWERABLE if example.fields["unanswerable"] else ANSWERABLE]

    def reference(self, example):
        return list(example.fields["answers"])

    # -- templates ----------------------------------------------------------------------
    def context(self, example, label_map):
        answers = list(example.fields["answers"])
        return {
            "question": example.fields["question"],
            "context": example.fields["context"],
            "title": example.fields["title"],
            "answer": answers[0] if answers else "",
            "answers": answers,
        }

    def check_prompt(self, prompt):
        if prompt.model_kinds and "encoder" not in prompt.model_kinds:
            return  # a template for generating models may show the context
        probe = Example("probe", {"question": "Probe?", "context": CONTEXT_MARK, "title": "",
                                  "answers": [], "answer_starts": [], "unanswerable": False})
        text = prompt.render(self.context(probe, None) | {"labels": [], "label_words": [], "task": self.name}).input
        if CONTEXT_MARK in text:
            raise TemplateError(
                "an extractive QA template must not output {{ context }}: the encoder reads the context "
                "as a second sequence after the prompt, which is how answers map back to it",
                path=prompt.path,
                hint="Keep only the question side (e.g. `Question: {{ question }}`) in the template.",
            )

    # -- causal LMs: the answer is generated ----------------------------------------------
    def parse_generation(self, example, text, label_map):
        """The first line of the generation, without quotes or a final full stop."""
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        answer = lines[0].strip().strip('"').rstrip(".").strip() if lines else ""
        if not answer:
            return None, {"empty_generations": 1}
        return answer, {}

    # -- model (dispatch; encoder span head below) -------------------------------------
    def load(self, model_path, label_map, *, trained):
        return self.load_spans(model_path, trained=trained)

    def encode(self, examples, rendered, tokenizer, label_map, max_length):
        return self.encode_spans(examples, rendered, tokenizer, max_length)

    def collator(self, tokenizer):
        return SpanCollator(tokenizer)

    def predict(self, model, tokenizer, examples, features, label_map, batch_size):
        allow_null = label_map is not None and UNANSWERABLE in label_map.labels
        return self.predict_spans(model, tokenizer, examples, features, batch_size, allow_null=allow_null)

    def prediction_record(self, example, prediction, reference):
        record = {"id": example.id, "question": example.fields["question"], "prediction": prediction}
        if reference is not None:
            record["reference"] = reference
        return record

    # -- encoder span head --------------------------------------------------------------
    def load_spans(self, model_path, *, trained):
        """``AutoModelForQuestionAnswering``: a fresh two-logit head on a base model."""
        import warnings

        import transformers

        from ptrun.encoders import load_tokenizer

        kwargs = {} if trained else {"num_labels": 2, "ignore_mismatched_sizes": True}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "some weights were newly initialised" is expected
                transformers.logging.set_verbosity_error()
                model = transformers.AutoModelForQuestionAnswering.from_pretrained(
                    str(model_path), local_files_only=True, **kwargs
                )
        except (OSError, ValueError) as exc:
            raise PtrunError(f"Could not load a question-answering model from {model_path}: {exc}") from None
        finally:
            transformers.logging.set_verbosity_warning()
        tokenizer = load_tokenizer(model_path)
        if not tokenizer.is_fast:
            raise PtrunError(
                f"The tokenizer in {model_path} is a slow (Python) tokenizer; extractive QA needs the "
                "character offsets only fast tokenizers report.",
                hint="Save the model with its tokenizer.json (a fast tokenizer).",
            )
        return model, tokenizer

    def window_sizes(self, max_length: int) -> tuple[int, int]:
        """(most question tokens, stride) for ``max_length``; leaves room for some context."""
        question = max(1, int(max_length * self.max_question_fraction))
        room = max_length - question - 3  # [CLS] question [SEP] context [SEP]
        if room < 1:
            raise PtrunError(
                f"--max-length {max_length} leaves no room for the context next to the question.",
                hint="Use --max-length 64 or more for question answering.",
            )
        # The tokenizer refuses a stride that is not smaller than the context room.
        return question, max(0, min(max_length // self.stride_divisor, room - 1))

    def question_texts(self, examples, rendered) -> list[str]:
        """The first sequence: the rendered prompt, or the plain question without a template."""
        return [r.input.strip() if r is not None else ex.fields["question"] for ex, r in zip(examples, rendered)]

    def encode_spans(self, examples, rendered, tokenizer, max_length):
        """Sliding-window features, several per long context, each with its example's index,
        context-only offsets and (for labelled examples) start/end token positions."""
        question_limit, stride = self.window_sizes(max_length)
        questions = _clip(tokenizer, self.question_texts(examples, rendered), question_limit)
        enc = tokenizer(
            questions,
            [ex.fields["context"] for ex in examples],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        features = []
        for i, example_index in enumerate(enc["overflow_to_sample_mapping"]):
            sequence_ids = enc.sequence_ids(i)
            offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], sequence_ids)]
            feature = {k: enc[k][i] for k in MODEL_INPUTS if k in enc}
            feature["example_index"] = example_index
            feature["offset_mapping"] = offsets
            ex = examples[example_index]
            if ex.labeled:
                if ex.fields["answers"]:
                    # Train on the first gold answer, as SQuAD training sets have exactly one.
                    start = ex.fields["answer_starts"][0]
                    end = start + len(ex.fields["answers"][0])
                    positions = span_positions(offsets, start, end)
                else:
                    positions = (0, 0)  # unanswerable: point at [CLS]
                feature["start_positions"], feature["end_positions"] = positions
            features.append(feature)
        return features

    def predict_spans(self, model, tokenizer, examples, features, batch_size, *, allow_null=False):
        """Run the span head over every window, then pick each question's best span."""
        import torch

        from ptrun.infer import batches

        peft_config = getattr(model, "active_peft_config", None)
        if peft_config is not None and peft_config.is_prompt_learning and peft_config.peft_type != "PREFIX_TUNING":
            # Virtual tokens are prepended to the input, so the span labels (and the logits) no
            # longer point at the tokens they were computed for.
            raise PtrunError(
                f"--method {peft_config.peft_type.value.lower().replace('_', '-')} does not work for task "
                f"'{self.name}': soft-prompt tokens shift the token positions that answer spans point at.",
                hint="Use --method full, lora or adalora for question answering.",
            )
        windows: list[list] = [[] for _ in examples]
        model.eval()
        device = next(model.parameters()).device
        with torch.inference_mode():
            for chunk, batch in batches(features, self.collator(tokenizer), batch_size, model_inputs=MODEL_INPUTS):
                out = model(**{k: v.to(device) for k, v in batch.items()})
                starts = out.start_logits.float().cpu().numpy()
                ends = out.end_logits.float().cpu().numpy()
                for row, i in enumerate(chunk):
                    n = len(features[i]["input_ids"])  # the rest of the row is padding
                    windows[features[i]["example_index"]].append(
                        (starts[row, :n], ends[row, :n], features[i]["offset_mapping"])
                    )
        return [
            best_answer(ex.fields["context"], w, n_best=self.n_best, max_answer_tokens=self.max_answer_tokens,
                        allow_null=allow_null)
            for ex, w in zip(examples, windows)
        ]


def _clip(tokenizer, texts: list[str], limit: int) -> list[str]:
    """Cut texts to ``limit`` tokens (at a token boundary), warning once if any was cut."""
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    out, clipped = [], 0
    for text, ids, offsets in zip(texts, enc["input_ids"], enc["offset_mapping"]):
        if len(ids) > limit:
            text = text[: offsets[limit - 1][1]]
            clipped += 1
        out.append(text)
    if clipped:
        import click

        click.echo(
            f"warning: {clipped} question(s) with their template text were longer than {limit} tokens "
            "(half of --max-length) and were cut. Shorten the template or raise --max-length.",
            err=True,
        )
    return out


TASK = QaTask()


@hookimpl
def ptrun_tasks():
    return [TASK]


@hookimpl
def ptrun_template_dirs():
    return [builtin_template_dir()]


@hookimpl
def ptrun_readers():
    return {"squad": read_squad}


@hookimpl
def ptrun_label_map(task, labels, prompt):
    if isinstance(task, QaTask):
        return LabelMap(labels=list(labels), kind="spans")
    return None


@hookimpl
def ptrun_metrics(task, predictions, references, label_map):
    if not isinstance(task, QaTask):
        return None
    from ptrun.textmetrics import squad_scores

    # An empty or unparseable generation (None) answers nothing.
    return squad_scores([p or "" for p in predictions], [list(r or []) for r in references])
