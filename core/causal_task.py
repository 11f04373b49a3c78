"""Running any task on a causal language model.

:class:`CausalLMBackend` stands in for a task's encoder methods (load, encode, collator,
predict) when ``--model`` is a causal LM. The task only says how an example reads as chat
messages (:meth:`ptrun.Task.lm_messages`) and how a generation maps back to a prediction
(:meth:`ptrun.Task.parse_generation`); classification tasks are predicted by scoring their
answer choices (LM-BFF style) unless ``--inference generate`` is asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ptrun import causal
from ptrun.errors import PtrunError

INFERENCE = ("auto", "score", "generate")
#: Content-free inputs for contextual calibration (Zhao et al. 2021, "Calibrate before use").
CONTENT_FREE = ("N/A", "[MASK]", "")


@dataclass
class Fitted:
    """An example's prompt after fitting it into the model's context."""

    messages: list
    demos: int = 0
    truncated: bool = False


@dataclass
class SplitNotes:
    """What happened while predicting one split (reported in metrics.json)."""

    dropped_demos: int = 0
    truncated: int = 0
    unparseable: int = 0
    counts: dict = field(default_factory=dict)


class CausalLMBackend:
    """The model side of a task run on a causal LM.

    ``render(example, demos)`` renders an example through the run's template with the
    first ``demos`` demonstrations (the runner supplies it), so the backend can drop
    demonstrations that do not fit, render every answer choice, and build content-free inputs.
    """

    peft_task_type = "CAUSAL_LM"

    def __init__(self, task, cfg, prompt, render, echo=lambda message: None):
        self.task = task
        self.cfg = cfg
        self.prompt = prompt
        self.render = render
        self.echo = echo
        self.layout: causal.Layout | None = None
        self.limit = 0
        self.notes: dict[str, dict] = {}
        self.split_notes = SplitNotes()
        self._warned_split: set[str] = set()

    def __getattr__(self, name):  # name, labels, ... of the task
        return getattr(self.task, name)

    # -- model ----------------------------------------------------------------------
    def load(self, model_path, label_map, *, trained):
        model, tokenizer = causal.load_model(model_path)
        # --chat/--no-chat, else the template's own `chat:` (completion-style prompts say false).
        chat = self.cfg.chat if self.cfg.chat is not None else (self.prompt.meta.get("chat") if self.prompt else None)
        self.layout = causal.Layout.for_tokenizer(tokenizer, chat)
        context = causal.context_size(model, tokenizer)
        self.limit = min(self.cfg.max_length, context) if self.cfg.max_length else min(context, 2048)
        return model, tokenizer

    def inference(self, label_map) -> str:
        mode = self.cfg.inference or "auto"
        can_score = self.task.scores_choices and label_map.kind == "classes"
        if mode == "auto":
            return "score" if can_score else "generate"
        if mode == "score" and not can_score:
            raise PtrunError(
                f"--inference score ranks answer choices; task '{self.task.name}' has none.",
                hint="Use --inference generate.",
            )
        return mode

    # -- features -------------------------------------------------------------------
    def messages(self, example, rendered) -> list[dict]:
        return self.task.lm_messages(example, rendered, self.layout.chat)

    def _length(self, tokenizer, messages, generation_prompt=True) -> int:
        segments = self.layout.segments(tokenizer, messages, generation_prompt)
        return len(causal.encode_segments(tokenizer, segments, self.layout)["input_ids"])

    def fit(self, tokenizer, example, rendered, reserve: int) -> Fitted:
        """The example's messages with as many demonstrations as fit in ``limit - reserve``
        tokens; then truncated on the side the template marks, or refused."""
        budget = self.limit - reserve
        with_target = rendered.target is not None
        for k in range(getattr(rendered, "demos", 0), -1, -1):
            r = rendered if k == getattr(rendered, "demos", 0) else rendered.with_demos(k)
            messages = self.messages(example, r)
            if self._length(tokenizer, messages) <= budget:
                return Fitted(messages, k)
        side = self.prompt.meta.get("truncate") if self.prompt is not None else None
        if side not in ("left", "right"):
            n = self._length(tokenizer, messages)
            raise example.error(
                f"the prompt{' and target' if with_target else ''} of example {example.id} is {n} tokens"
                f"{f' (with {reserve} reserved for the answer)' if reserve else ''}, more than the "
                f"{self.limit} this run allows",
                hint="Raise --max-length (up to the model's context), shorten the example, or mark "
                "the template with `truncate: left` or `truncate: right` in its header.",
            )
        return Fitted(self._truncate(tokenizer, example, messages, budget, side), 0, True)

    def _truncate(self, tokenizer, example, messages, budget, side):
        if side == "left":
            messages = self._drop_oldest_turns(tokenizer, messages, budget)
        user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        for _ in range(4):
            excess = self._length(tokenizer, messages) - budget
            if excess <= 0:
                return messages
            ids = tokenizer(messages[user]["content"], add_special_tokens=False)["input_ids"]
            if excess >= len(ids):
                break
            kept = ids[excess:] if side == "left" else ids[: len(ids) - excess]
            messages = [dict(m) for m in messages]
            messages[user]["content"] = tokenizer.decode(kept)
        raise example.error(
            f"even truncated, the prompt of example {example.id} does not fit in {self.limit} tokens",
            hint="Raise --max-length or shorten the template's fixed text.",
        )

    def _drop_oldest_turns(self, tokenizer, messages, budget):
        """Left truncation of a conversation: whole user/assistant exchanges go first, oldest
        first (the system turn and the last user turn stay), before any text is cut."""
        head = [m for m in messages[:1] if m["role"] == "system"]
        turns = messages[len(head) :]
        while self._length(tokenizer, head + turns) > budget:
            later_user = [i for i, m in enumerate(turns) if m["role"] == "user" and i > 0]
            if not later_user:
                break
            turns = turns[later_user[0] :]
        return head + turns

    def encode(self, examples, rendered, tokenizer, label_map, max_length):
        """Training features for examples with a target: the loss covers the target only."""
        features = []
        for ex, r in zip(examples, rendered):
            if r is None:
                raise PtrunError(
                    f"Task '{self.task.name}' on a causal LM needs a template (the model reads its prompt).",
                    hint="Pass --template (see `ptrun templates`); --template none only works with encoders.",
                )
            if r.target is None or not ex.labeled:
                features.append({"input_ids": [], "example": ex, "rendered": r})
                continue
            fitted = self.fit(tokenizer, ex, r, reserve=0)
            feature = causal.encode_segments(tokenizer, self.layout.segments(tokenizer, fitted.messages), self.layout)
            if all(l == causal.IGNORE for l in feature["labels"]):
                raise ex.error(
                    f"example {ex.id} has an empty target, so there is nothing to train on",
                    hint="Fix the example or the template's target block.",
                )
            feature.update(example=ex, rendered=r)
            features.append(feature)
        return features

    def collator(self, tokenizer):
        from transformers import DataCollatorForSeq2Seq

        pad = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=causal.IGNORE, padding=True)

        def collate(items):
            return pad([{k: f[k] for k in ("input_ids", "attention_mask", "labels") if k in f} for f in items])

        return collate

    # -- prediction -----------------------------------------------------------------
    def predict(self, model, tokenizer, examples, features, label_map, batch_size):
        import torch

        model.eval()
        self.split_notes = SplitNotes()
        self.notes = {}
        rendered = [f["rendered"] for f in features]
        with torch.inference_mode():
            if self.inference(label_map) == "score":
                preds = self._predict_by_scoring(model, tokenizer, examples, rendered, label_map, batch_size)
            else:
                preds = self._predict_by_generating(model, tokenizer, examples, rendered, label_map, batch_size)
        return preds

    def split_metrics(self) -> dict:
        notes = self.split_notes
        out = {"inference": self.inference_used, "chat_format": self.layout.chat}
        if self.cfg.shots:
            out["shots"] = self.cfg.shots
            out["examples_with_fewer_shots"] = notes.dropped_demos
        if notes.truncated:
            out["truncated_prompts"] = notes.truncated
        if self.inference_used == "generate":
            out["unparseable"] = notes.unparseable
        if self.cfg.calibrate:
            out["calibrated"] = True
        out.update(notes.counts)
        return out

    def prediction_record(self, example, prediction, reference):
        record = self.task.prediction_record(example, prediction, reference)
        record.update(self.notes.get(example.id, {}))
        return record

    def _prompt_ids(self, tokenizer, fitted: Fitted) -> tuple[list[int], str]:
        prompt_messages = [m for m in fitted.messages if m is not fitted.messages[-1] or m["role"] != "assistant"]
        text = "".join(t for t, _ in self.layout.segments(tokenizer, prompt_messages))
        ids = tokenizer(text, add_special_tokens=self.layout.add_special_tokens())["input_ids"]
        return ids, text

    def _fit_for_prediction(self, tokenizer, example, rendered, reserve):
        r = rendered
        if r.target is not None:  # predict from the prompt alone
            r = _without_target(r)
        fitted = self.fit(tokenizer, example, r, reserve)
        self.split_notes.dropped_demos += fitted.demos < getattr(r, "demos", 0)
        self.split_notes.truncated += fitted.truncated
        return fitted

    # scoring answer choices
    def choice_texts(self, example, label_map) -> list[str]:
        """The target each label would have for ``example``: the template's target block
        rendered with that label (so "It was great." scores the whole verbalized answer)."""
        texts = []
        for label in label_map.labels:
            r = self.render(self.task.relabel(example, label), 0)
            text = r.target if r.target is not None else label_map.word(label)
            text = text.strip() if self.layout.chat else text
            if not text.strip():
                raise PtrunError(f"The answer choice of label '{label}' renders empty; scoring needs text for every label.")
            texts.append(text)
        return texts

    def _score_rows(self, model, tokenizer, items, label_map, batch_size, desc):
        """Per-choice (sum, count) of log-probabilities for (example, fitted) pairs."""
        from tqdm.auto import tqdm

        prepared = []
        for ex, fitted in items:
            prefix_ids, prefix_text = self._prompt_ids(tokenizer, fitted)
            choices = self.choice_texts(ex, label_map)
            full = [tokenizer(prefix_text + c, add_special_tokens=self.layout.add_special_tokens(), return_offsets_mapping=True) for c in choices]
            # Score every token that covers answer text, including one that straddles the boundary.
            scored = [[e > len(prefix_text) for _s, e in f["offset_mapping"]] for f in full]
            # Share the longest common run of prompt tokens; everything after it is per choice.
            shared = 0
            while all(shared < len(f["input_ids"]) and not m[shared] for f, m in zip(full, scored)) and all(
                f["input_ids"][shared] == full[0]["input_ids"][shared] for f in full
            ):
                shared += 1
            shared = max(1, min(shared, min(len(f["input_ids"]) for f in full) - 1))
            conts = [f["input_ids"][shared:] for f in full]
            masks = [m[shared:] for m in scored]
            prepared.append((full[0]["input_ids"][:shared], conts, masks, choices))
            self._warn_split(tokenizer, choices, label_map)
        shared = None
        if not causal.uses_soft_prompt(model):
            # System text, instruction and demonstrations are usually the same for every
            # example: run them once for the whole split.
            common = _common_prefix([p[0] for p in prepared])
            if common >= 8:
                shared = causal.prefix_cache(model, prepared[0][0][:common])
                prepared = [(p[0][common:], *p[1:]) for p in prepared]
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i][0]))
        results: list = [None] * len(prepared)
        with tqdm(total=len(order), desc=desc, unit="ex", leave=False, disable=None) as bar:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                args = (
                    model,
                    [prepared[i][0] for i in chunk],
                    [prepared[i][1] for i in chunk],
                    [prepared[i][2] for i in chunk],
                    tokenizer.pad_token_id,
                )
                if causal.uses_soft_prompt(model):
                    sums, counts = causal.score_full(*args)
                else:
                    sums, counts = causal.score_continuations(*args, shared=shared)
                for row, i in enumerate(chunk):
                    results[i] = (sums[row].tolist(), counts[row].tolist())
                bar.update(len(chunk))
        return results

    def _warn_split(self, tokenizer, choices, label_map):
        """Say once which answers split into several tokens, and where."""
        if self._warned_split:
            return
        self._warned_split.add("done")
        split = []
        for text in choices:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(ids) > 1:
                split.append(f"{text.strip()!r} -> " + "|".join(tokenizer.decode([i]) for i in ids))
        if split:
            how = "mean" if self.cfg.length_norm else "sum"
            self.echo(
                f"note: {len(split)} of {len(choices)} answers are several tokens and are scored whole "
                f"({how} of their token log-probabilities): " + "; ".join(split)
            )

    def _choice_logprobs(self, sums, counts):
        import torch

        sums, counts = torch.tensor(sums), torch.tensor(counts).clamp(min=1)
        scores = sums / counts if self.cfg.length_norm else sums
        return torch.log_softmax(scores, dim=-1)

    def _predict_by_scoring(self, model, tokenizer, examples, rendered, label_map, batch_size):
        self.inference_used = "score"
        reserve = max(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in self.choice_texts(examples[0], label_map)) if examples else 0
        items = [(ex, self._fit_for_prediction(tokenizer, ex, r, reserve)) for ex, r in zip(examples, rendered)]
        rows = self._score_rows(model, tokenizer, items, label_map, batch_size, "score")
        bias = self._calibration(model, tokenizer, examples, label_map, batch_size, reserve) if self.cfg.calibrate else None
        preds = []
        for ex, (sums, counts) in zip(examples, rows):
            logp = self._choice_logprobs(sums, counts)
            if bias is not None:
                logp = logp - bias
            best = int(logp.argmax())
            preds.append(label_map.labels[best])
            self.notes[ex.id] = {"scores": {l: round(float(v), 4) for l, v in zip(label_map.labels, logp)}}
        return preds

    def _calibration(self, model, tokenizer, examples, label_map, batch_size, reserve):
        """Log-probabilities of the choices for content-free inputs (averaged in probability)."""
        import torch

        probe = examples[0]
        items = []
        for filler in CONTENT_FREE:
            ex = self.task.content_free(probe, filler)
            if ex is None:
                raise PtrunError(f"--calibrate: task '{self.task.name}' cannot build a content-free input.")
            r = self.render(ex, self.cfg.shots)
            items.append((ex, self.fit(tokenizer, ex, r, reserve)))
        rows = self._score_rows(model, tokenizer, items, label_map, batch_size, "calibrate")
        probs = torch.stack([self._choice_logprobs(s, c).exp() for s, c in rows]).mean(0)
        self.calibration = {l: round(float(p), 4) for l, p in zip(label_map.labels, probs)}
        self.split_notes.counts["content_free_probabilities"] = self.calibration
        return probs.log()

    # generating
    def _predict_by_generating(self, model, tokenizer, examples, rendered, label_map, batch_size):
        from tqdm.auto import tqdm

        self.inference_used = "generate"
        max_new = self.cfg.max_new_tokens or self.task.max_new_tokens
        stop = causal.stop_token_ids(tokenizer, model)
        prompts = []
        for ex, r in zip(examples, rendered):
            fitted = self._fit_for_prediction(tokenizer, ex, r, max_new)
            prompts.append(self._prompt_ids(tokenizer, fitted)[0])
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        texts: list = [None] * len(prompts)
        with tqdm(total=len(order), desc="generate", unit="ex", leave=False, disable=None) as bar:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                out = causal.generate_texts(model, tokenizer, [prompts[i] for i in chunk], max_new, stop)
                for i, text in zip(chunk, out):
                    texts[i] = text
                bar.update(len(chunk))
        preds = []
        for ex, text in zip(examples, texts):
            prediction, notes = self.task.parse_generation(ex, text, label_map)
            if prediction is None:
                self.split_notes.unparseable += 1
            for key, value in notes.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.split_notes.counts[key] = self.split_notes.counts.get(key, 0) + value
            self.notes[ex.id] = {"generated": text, **notes}
            preds.append(prediction)
        return preds

    # -- reference perplexity -------------------------------------------------------
    def target_perplexity(self, model, tokenizer, features, batch_size) -> dict:
        """Perplexity of the reference targets under the model (teacher forcing)."""
        import torch

        from ptrun.infer import batches

        items = [f for f in features if f.get("labels")]
        if not items:
            return {}
        total_nll, total_tokens = 0.0, 0
        dev = causal._model_device(model)
        model.eval()
        with torch.inference_mode():
            for _chunk, batch in batches(items, self.collator(tokenizer), batch_size, "perplexity"):
                batch = {k: v.to(dev) for k, v in batch.items()}
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
                logits = logits[:, logits.size(1) - batch["input_ids"].size(1) :]  # soft-prompt positions
                labels = batch["labels"][:, 1:]
                nll = torch.nn.functional.cross_entropy(
                    logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=causal.IGNORE, reduction="sum"
                )
                total_nll += float(nll)
                total_tokens += int((labels != causal.IGNORE).sum())
        return {"perplexity": math.exp(total_nll / max(1, total_tokens)), "reference_tokens": total_tokens}


def _common_prefix(seqs: list[list[int]]) -> int:
    """Length of the token prefix all ``seqs`` share, leaving each at least one token of its own."""
    if not seqs:
        return 0
    first, n = seqs[0], min(len(s) for s in seqs) - 1
    for s in seqs[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
    return max(0, n)


def _without_target(rendered):
    import copy

    r = copy.copy(rendered)
    r.target = None
    return r
