"""Dialogue: multi-turn conversations, fine-tuning a causal LM on the assistant turns, and
``ptrun chat`` (:mod:`ptrun.plugins.dialogue.chat`).

Data, one dialogue per example:

* JSONL (``.jsonl``): ``{"id": ..., "messages": [{"role": "user", "content": "Hi"}, ...],
  "persona": ..., "system": ...}``; roles are ``system``, ``user`` and ``assistant``; ``id``,
  ``persona`` (a string or a list of sentences) and ``system`` are optional. ``turns`` (a list
  of strings alternating user/assistant, starting with the user) may replace ``messages``.
* DailyDialog text (``.txt``, format ``dailydialog``): one dialogue per line, turns separated
  by ``__eou__``, alternating user/assistant starting with the user. The tokenised punctuation
  of the original files is joined back (``I ’ m fine , thanks .`` reads ``I’m fine, thanks.``).
  The corpus keeps its splits in folders (``train/dialogues_train.txt``...) beside act and
  emotion label files; ``--data DIR`` finds the dialogue files and says which it skipped.

Rules (documented, never silent skips): system messages must open the dialogue and become its
``system`` text; consecutive turns of one role are merged into one turn (chat templates expect
the roles to alternate); the reference ``response`` is the last assistant turn, and user turns
after it are dropped (a DailyDialog line with an odd number of turns ends with the user). A
labelled dialogue without any assistant turn is an error naming its file and line. Read
unlabelled (``--predict``), a dialogue that ends with the user is the prompt for a response.

Fine-tuning trains on every assistant turn (chat layout) and evaluation reports the perplexity
of the held-out assistant turns, token F1 of the generated last response against the reference,
distinct-1/2 and response lengths.
"""

from __future__ import annotations

import re

from ptrun import DataError, Example, LabelMap, Record, Task, TemplateError, echo, example_id
from ptrun.plugins import demo_dir
from ptrun.plugins.dialogue.dailydialog import pick_dialogue_file
from ptrun.plugins.dialogue.metrics import dialogue_metrics

ROLES = ("system", "user", "assistant")
#: A plain-text model that goes on after its answer starts the next turn with this label
#: (the speaker label of the dialogue templates); the response ends there.
NEXT_TURN = re.compile(r"\n\s*User:")


def _persona_text(value, fail) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(v.strip() for v in value if v.strip())
    fail(f"'persona' must be a string or a list of strings, not {type(value).__name__}", None)


def _messages_of(record: Record, fail) -> tuple[list[dict], list[str]]:
    """(user/assistant turns, system texts) of a record, validated."""
    if "messages" in record.fields:
        raw = record.fields["messages"]
        if not isinstance(raw, list) or not raw:
            fail("'messages' must be a non-empty list of {\"role\", \"content\"} objects",
                 'Write e.g. "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}].')
    elif "turns" in record.fields:
        texts = record.fields["turns"]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            fail("'turns' must be a non-empty list of strings (user first, then alternating)", None)
        raw = [{"role": ROLES[1 + k % 2], "content": t} for k, t in enumerate(texts)]
    else:
        present = ", ".join(sorted(record.fields)) or "none"
        fail(f"missing the conversation: expected a 'messages' list (fields present: {present})",
             'Each line needs "messages": [{"role": "user"|"assistant"|"system", "content": "..."}, ...].')
    turns: list[dict] = []
    system: list[str] = []
    for k, message in enumerate(raw, 1):
        if not isinstance(message, dict):
            fail(f"message {k} is a {type(message).__name__}, not a {{\"role\", \"content\"}} object", None)
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            fail(f"message {k} has role {role!r}; the roles are {', '.join(ROLES)}",
                 "Rename the role (e.g. human -> user, bot -> assistant).")
        if not isinstance(content, str) or not content.strip():
            fail(f"message {k} ({role}) has no text: 'content' must be a non-empty string", None)
        content = content.strip()
        if role == "system":
            if turns:
                fail(f"message {k} is a system message after the conversation started",
                     "Put system messages first, or use the `system` field.")
            system.append(content)
        elif turns and turns[-1]["role"] == role:
            turns[-1] = {"role": role, "content": turns[-1]["content"] + "\n" + content}
        else:
            turns.append({"role": role, "content": content})
    return turns, system


class DialogueTask(Task):
    name = "dialogue"
    description = "Multi-turn dialogue (JSONL messages, DailyDialog text): fine-tune a causal LM on the assistant turns"
    variables = {
        "messages": "the dialogue's turns, each {role, content} (role user or assistant), up to and "
        "including the reference response",
        "history": "the turns before the reference response, each {role, content}",
        "response": "the reference response: the last assistant turn (empty when predicting)",
        "persona": "the persona text of the dialogue (empty if the data gives none)",
        "system": "the dialogue's own system text (empty if the data gives none)",
    }
    formats = {".jsonl": "jsonl", ".json": "json", ".txt": "dailydialog"}
    default_template = "dialogue/chat"
    default_templates = {"causal-lm": "dialogue/chat"}
    default_model = "smollm2"
    model_kinds = ("causal-lm",)
    # Token F1 measures what the model says; perplexity (also reported, lower is better) is the
    # steadier signal for small models but scores the references, not the model's answers.
    main_metric = "token_f1"
    peft_task_type = "CAUSAL_LM"
    #: DailyDialog responses average 14 tokens; 48 leaves room for a few sentences.
    max_new_tokens = 48
    lm_perplexity = True
    default_epochs = 1.0
    default_lr = 5e-5

    def demo_data(self):
        return demo_dir("dialogue")

    # -- data ---------------------------------------------------------------------------
    def read(self, path, fmt=None, labeled=True):
        examples = super().read(path, fmt, labeled)
        dropped = sum(1 for ex in examples if ex.meta.get("dropped_turns"))
        if dropped:
            echo(f"note: {dropped} dialogue(s) in {path} end with user turns after the last assistant turn; "
                 "those turns are dropped (the reference response is the last assistant turn).")
        return examples

    def split_file(self, folder, split, files):
        return pick_dialogue_file(folder, split, files)

    def label_map(self, labels, prompt):
        return LabelMap(labels=[], kind="text")  # free text: predicted by generating

    def metrics(self, predictions, references, label_map):
        return dialogue_metrics(predictions, references)

    def from_record(self, record: Record, labeled: bool = True) -> Example:
        def fail(message, hint):
            raise DataError(message, path=record.path, line=record.line, hint=hint)

        turns, system_messages = _messages_of(record, fail)
        system = record.fields.get("system")
        if system is not None and not isinstance(system, str):
            fail(f"'system' must be a string, not {type(system).__name__}", None)
        if system and system_messages:
            fail("the dialogue has both a 'system' field and system messages", "Keep one of them.")
        system = (system or "\n".join(system_messages)).strip()
        persona = _persona_text(record.fields.get("persona"), fail)
        last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=None)
        meta = {}
        if last is None and labeled:
            fail(
                "the dialogue has no assistant turn, so there is no response to train on or score",
                "Add an assistant turn (in DailyDialog text every second turn is the assistant's, so a "
                "dialogue needs at least two), or pass the file with --predict to generate responses.",
            )
        if last is not None and (labeled or last == len(turns) - 1):
            # The reference is the last assistant turn; user turns after it have no answer to score.
            meta["dropped_turns"] = len(turns) - 1 - last
            turns = turns[: last + 1]
            history, response = turns[:-1], turns[-1]["content"]
        else:
            history, response = turns, None
        fields = {"messages": turns, "history": history, "response": response, "persona": persona, "system": system}
        return Example(example_id(record), fields, record.path, record.line, labeled=response is not None, meta=meta)

    def check_prompt(self, prompt):
        """A dialogue template must show the conversation in its prompt (what a plain-text model
        reads) and the response in its target block (what is trained and scored)."""
        history = [{"role": "user", "content": "Plugh"}]
        probe = {"messages": history + [{"role": "assistant", "content": "Xyzzy"}], "history": history,
                 "response": "Xyzzy", "persona": "", "system": "", "labels": [], "label_words": [],
                 "task": self.name, "demos": []}
        rendered = prompt.render(probe)
        if rendered.target is None or "Xyzzy" not in rendered.target:
            raise TemplateError(
                "a dialogue template needs a target block that writes the response ({{ response }})",
                path=prompt.path,
                hint="Add {% block target %} {{ response }}{% endblock %} (see templates/dialogue/_layout.j2).",
            )
        if "Plugh" not in rendered.input:
            raise TemplateError(
                "this dialogue template's prompt block never shows the conversation ({{ history }}), so a "
                "model without a chat template (--no-chat) could not see what it answers",
                path=prompt.path,
                hint="Extend dialogue/_layout.j2, or write the turns of `history` in the prompt block.",
            )

    def reference(self, example):
        return example.fields["response"]

    def context(self, example, label_map):
        return {**example.fields, "response": example.fields["response"] or ""}

    def prediction_record(self, example, prediction, reference, **shown):
        users = [t["content"] for t in example.fields["history"] if t["role"] == "user"]
        return super().prediction_record(example, prediction, reference, user=users[-1] if users else "", **shown)

    # -- causal language models -----------------------------------------------------
    def lm_messages(self, example, rendered, chat):
        """Chat layout: the template's system text, the history turns, then the rendered target
        as the final assistant turn; every assistant turn is trained. Plain text: the template's
        system text, its prompt (the transcript) and target, so only the last response is trained."""
        if not chat:
            return super().lm_messages(example, rendered, chat)
        messages = [{"role": "system", "content": rendered.system}] if rendered.system else []
        messages += [{"role": t["role"], "content": t["content"]} for t in example.fields["history"]]
        if rendered.target is not None:
            messages.append({"role": "assistant", "content": rendered.target.strip()})
        return messages

    def chat_fields(self, messages):
        """A conversation is a dialogue: its system messages become the ``system`` text."""
        return {"messages": messages}

    def chat_stops(self, chat):
        """A plain-text transcript goes on with the next speaker label; the response ends there."""
        return [] if chat else ["\nUser:"]

    def parse_generation(self, example, text, label_map):
        """The response text, cut where a plain-text model starts the next user turn; an empty
        response is no prediction and counts as ``empty_generations``."""
        text = NEXT_TURN.split(text, 1)[0].strip()
        if not text:
            return None, {"empty_generations": 1}
        return text, {}


TASK = DialogueTask()
