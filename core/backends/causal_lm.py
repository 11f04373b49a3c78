"""The causal-LM backend: any task on a causal language model.

The task only says how an example reads as chat messages (:meth:`ptrun.Task.lm_messages`) and
how a generation maps back to a prediction (:meth:`ptrun.Task.parse_generation`); classification
tasks are predicted by scoring their answer choices (LM-BFF style) unless ``--inference
generate`` is asked for. Examples are fitted into the context by dropping demonstrations, then
by truncating on the side the template marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ptrun.backends import kernels, loading
from ptrun.backends.base import Backend
from ptrun.backends.layout import IGNORE, Layout, encode_segments
from ptrun.errors import PtrunError

#: Content-free inputs for contextual calibration (Zhao et al. 2021, "Calibrate before use").
CONTENT_FREE = ("N/A", "[MASK]", "")


@dataclass
class Fitted:
    """An example's prompt after fitting it into the model's context."""

    messages: list
    demos: int = 0
    truncated: bool = False
    #: The prompt's token ids and text (without a target), as measured while fitting.
    ids: list | None = None
    text: str | None = None


@dataclass
class SplitNotes:
    """What happened while predicting one split (reported in metrics.json)."""

    dropped_demos: int = 0
    truncated: int = 0
    unparseable: int = 0
    counts: dict = field(default_factory=dict)


class CausalLMBackend(Backend):
    """The model side of a task run on a causal LM; ``renderer`` renders its examples (with
    fewer demonstrations, or relabelled to score each answer choice)."""

    kind = "causal-lm"
    takes_demonstrations = True
    next_token_loss = True

    def __init__(self, task, cfg, renderer, echo=lambda message: None):
        super().__init__(task, cfg, renderer, echo)
        self.layout: Layout | None = None
        self.limit = 0
        self.notes: dict[str, dict] = {}
        self.split_notes = SplitNotes()
        self.inference_used: str | None = None
        self._warned_split = False

    @property
    def prompt(self):
        return self.renderer.prompt if self.renderer is not None else None

    # -- model ----------------------------------------------------------------------
    def load(self, model_path, label_map, *, trained):
        model, tokenizer = loading.load_causal(model_path)
        # --chat/--no-chat, else the template's own `chat:` (completion-style prompts say false).
        chat = self.cfg.chat if self.cfg.chat is not None else (self.prompt.meta.get("chat") if self.prompt else None)
        self.layout = Layout.for_tokenizer(tokenizer, chat)
        context = loading.context_size(model, tokenizer)
        self.limit = min(self.cfg.max_length, context) if self.cfg.max_length else min(context, 2048)
        return model, tokenizer

    def run_notes(self) -> dict:
        return {"chat_format": self.layout.chat if self.layout else None, "inference": self.inference_used}

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

    def _measure(self, tokenizer, messages) -> tuple[list[int], str]:
        """Token ids and text of ``messages`` laid out (ending with the answer prompt)."""
        text = "".join(t for t, _ in self.layout.segments(tokenizer, messages))
        return tokenizer(text, add_special_tokens=self.layout.add_special_tokens())["input_ids"], text

    def _length(self, tokenizer, messages) -> int:
        return len(self._measure(tokenizer, messages)[0])

    def fit(self, tokenizer, example, rendered, reserve: int) -> Fitted:
        """The example's messages with as many demonstrations as fit in ``limit - reserve``
        tokens; then truncated on the side the template marks, or refused."""
        budget = self.limit - reserve
        with_target = rendered.target is not None
        for k in range(rendered.demos, -1, -1):
            r = rendered if k == rendered.demos else self.renderer.render(example, k, target=with_target)
            messages = self.messages(example, r)
            ids, text = self._measure(tokenizer, messages)
            if len(ids) <= budget:
                return Fitted(messages, k, ids=ids, text=text)
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
        messages = self._truncate(tokenizer, example, messages, budget, side)
        ids, text = self._measure(tokenizer, messages)
        return Fitted(messages, 0, True, ids, text)

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

    def training_features(self, examples, rendered, tokenizer, label_map):
        """Features of examples with a target: the loss covers the target only."""
        self._require_template(rendered)
        features = []
        for ex, r in zip(examples, rendered):
            fitted = self.fit(tokenizer, ex, r, reserve=0)
            feature = encode_segments(tokenizer, self.layout.segments(tokenizer, fitted.messages), self.layout)
            if all(l == IGNORE for l in feature["labels"]):
                raise ex.error(
                    f"example {ex.id} has an empty target, so there is nothing to train on",
                    hint="Fix the example or the template's target block.",
                )
            features.append(feature)
        return features

    def _require_template(self, rendered):
        if any(r is None for r in rendered):
            raise PtrunError(
                f"Task '{self.task.name}' on a causal LM needs a template (the model reads its prompt).",
                hint="Pass --template (see `ptrun templates`); --template none only works with encoders.",
            )

    def collator(self, tokenizer):
        from transformers import DataCollatorForSeq2Seq

        pad = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, padding=True)

        def collate(items):
            return pad([{k: f[k] for k in ("input_ids", "attention_mask", "labels") if k in f} for f in items])

        return collate

    # -- prediction -----------------------------------------------------------------
    def predict(self, model, tokenizer, examples, rendered, label_map, batch_size):
        import torch

        self._require_template(rendered)
        model.eval()
        self.split_notes = SplitNotes()
        self.notes = {}
        with torch.inference_mode():
            if self.inference(label_map) == "score":
                preds = self._predict_by_scoring(model, tokenizer, examples, rendered, label_map, batch_size)
            else:
                preds = self._predict_by_generating(model, tokenizer, examples, rendered, label_map, batch_size)
        return preds

    def split_metrics(self, model, tokenizer, examples, rendered, label_map, batch_size) -> dict:
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
        if self.task.lm_perplexity:
            labeled = [(ex, r) for ex, r in zip(examples, rendered) if ex.labeled and r.target is not None]
            if labeled:
                feats = self.training_features([e for e, _ in labeled], [r for _, r in labeled], tokenizer, label_map)
                out.update(kernels.target_perplexity(model, feats, self.collator(tokenizer), batch_size))
        return out

    def prediction_record(self, example, prediction, reference):
        record = self.task.prediction_record(example, prediction, reference)
        record.update(self.notes.get(example.id, {}))
        return record

    def fit_prompt(self, tokenizer, example, rendered, reserve: int) -> Fitted:
        """The prompt the model answers for ``example`` (its target left out), fitted into the
        context with ``reserve`` tokens left for the answer."""
        r = rendered if rendered.target is None else rendered.without_target()
        return self.fit(tokenizer, example, r, reserve)

    def _fit_for_prediction(self, tokenizer, example, rendered, reserve):
        """:meth:`fit_prompt`, counting what fitting dropped into the split's notes."""
        fitted = self.fit_prompt(tokenizer, example, rendered, reserve)
        self.split_notes.dropped_demos += fitted.demos < rendered.demos
        self.split_notes.truncated += fitted.truncated
        if fitted.truncated:
            kept = sum(m["role"] != "system" for m in fitted.messages)
            whole = sum(m["role"] != "system" for m in self.messages(example, rendered.without_target()))
            self.notes.setdefault(example.id, {}).update(truncated=True, dropped_turns=whole - kept)
        return fitted

    # scoring answer choices
    def choice_texts(self, example, label_map) -> list[str]:
        """The target each label would have for ``example``: the template's target block
        rendered with that label (so "It was great." scores the whole verbalized answer)."""
        texts = []
        for label in label_map.labels:
            target = self.renderer.render_target(self.task.relabel(example, label))
            text = target if target is not None else label_map.word(label)
            text = text.strip() if self.layout.chat else text
            if not text.strip():
                raise PtrunError(f"The answer choice of label '{label}' renders empty; scoring needs text for every label.")
            texts.append(text)
        return texts

    def _score_rows(self, model, tokenizer, items, label_map, batch_size, desc):
        """Per-choice (sum, count) of log-probabilities for (example, fitted) pairs."""
        from ptrun.log import progress

        prepared = []
        for ex, fitted, choices in items:
            prefix_text = fitted.text
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
        if not kernels.uses_soft_prompt(model):
            # System text, instruction and demonstrations are usually the same for every
            # example: run them once for the whole split.
            common = kernels.common_prefix([p[0] for p in prepared])
            if common >= 8:
                shared = kernels.prefix_cache(model, prepared[0][0][:common])
                prepared = [(p[0][common:], *p[1:]) for p in prepared]
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i][0]))
        results: list = [None] * len(prepared)
        with progress(len(order), desc) as bar:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                args = (
                    model,
                    [prepared[i][0] for i in chunk],
                    [prepared[i][1] for i in chunk],
                    [prepared[i][2] for i in chunk],
                    tokenizer.pad_token_id,
                )
                if kernels.uses_soft_prompt(model):
                    sums, counts = kernels.score_full(*args)
                else:
                    sums, counts = kernels.score_continuations(*args, shared=shared)
                for row, i in enumerate(chunk):
                    results[i] = (sums[row].tolist(), counts[row].tolist())
                bar.update(len(chunk))
        return results

    def _warn_split(self, tokenizer, choices, label_map):
        """Say once which answers split into several tokens, and where."""
        if self._warned_split:
            return
        self._warned_split = True
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
        choices = [self.choice_texts(ex, label_map) for ex in examples]  # each rendered once
        reserve = max(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in choices[0]) if examples else 0
        items = [(ex, self._fit_for_prediction(tokenizer, ex, r, reserve), c) for ex, r, c in zip(examples, rendered, choices)]
        rows = self._score_rows(model, tokenizer, items, label_map, batch_size, "score")
        bias = self._calibration(model, tokenizer, examples, label_map, batch_size, reserve) if self.cfg.calibrate else None
        preds = []
        for ex, (sums, counts) in zip(examples, rows):
            logp = self._choice_logprobs(sums, counts)
            if bias is not None:
                logp = logp - bias
            best = int(logp.argmax())
            preds.append(label_map.labels[best])
            self.notes[ex.id] = {**self.notes.get(ex.id, {}), "scores": {l: round(float(v), 4) for l, v in zip(label_map.labels, logp)}}
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
            r = self.renderer.render(ex, target=False)
            items.append((ex, self.fit(tokenizer, ex, r, reserve), self.choice_texts(ex, label_map)))
        rows = self._score_rows(model, tokenizer, items, label_map, batch_size, "calibrate")
        probs = torch.stack([self._choice_logprobs(s, c).exp() for s, c in rows]).mean(0)
        self.calibration = {l: round(float(p), 4) for l, p in zip(label_map.labels, probs)}
        self.split_notes.counts["content_free_probabilities"] = self.calibration
        return probs.log()

    # generating
    def _predict_by_generating(self, model, tokenizer, examples, rendered, label_map, batch_size):
        from ptrun.log import progress

        self.inference_used = "generate"
        max_new = self.cfg.max_new_tokens or self.task.max_new_tokens
        stop = kernels.stop_token_ids(tokenizer, model)
        prompts = []
        for ex, r in zip(examples, rendered):
            prompts.append(self._fit_for_prediction(tokenizer, ex, r, max_new).ids)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        texts: list = [None] * len(prompts)
        with progress(len(order), "generate") as bar:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                out = kernels.generate_texts(model, tokenizer, [prompts[i] for i in chunk], max_new, stop)
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
            self.notes[ex.id] = {**self.notes.get(ex.id, {}), "generated": text, **notes}
            preds.append(prediction)
        return preds
