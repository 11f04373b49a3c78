"""Dialogue: multi-turn conversations, fine-tuning a causal LM on the assistant turns, and
``ptrun chat``.

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
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import click

from ptrun import DataError, Example, LabelMap, PtrunError, Task, TemplateError, hookimpl
from ptrun.data import Record, read_records
from ptrun.plugins import builtin_template_dir, demo_dir

ROLES = ("system", "user", "assistant")
EOU = "__eou__"
#: Formats by extension (``.txt`` means CoNLL elsewhere in ptrun; here it is DailyDialog).
FORMATS = {".jsonl": "jsonl", ".json": "json", ".txt": "dailydialog"}
#: A plain-text model that goes on after its answer starts the next turn with this label
#: (the speaker label of the dialogue templates); the response ends there.
NEXT_TURN = re.compile(r"\n\s*User:")


# --------------------------------------------------------------------------- reading


def detokenize(text: str) -> str:
    """Join DailyDialog's tokenised punctuation: ``I ’ m fine , thanks .`` -> ``I’m fine, thanks.``"""
    text = " ".join(text.split())
    text = re.sub(r"(\w) ([’']) (s|t|m|d|ll|re|ve)\b", r"\1\2\3", text, flags=re.I)  # contractions only
    text = re.sub(r" ([.,?!;:%)]+)(?= |$)", r"\1", text)
    text = re.sub(r"\( ", "(", text)
    return re.sub(r"([$£¥]) (?=\d)", r"\1", text)


def read_dailydialog(path) -> list[Record]:
    """The ``dailydialog`` reader: one dialogue per line, turns separated by ``__eou__``.

    Records carry ``turns`` (strings, user first). Blank lines are not dialogues.
    """
    path = Path(path)
    records = []
    with open(path, encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            if EOU not in line:
                raise DataError(
                    f"expected DailyDialog text (turns separated by {EOU}) but this line has no {EOU}",
                    path=path,
                    line=line_no,
                    hint="Pass the dialogues_<split>.txt file (not the act or emotion label files), "
                    "or JSONL with a `messages` list per line.",
                )
            pieces = line.rstrip("\n").split(EOU)
            if not pieces[-1].strip():
                pieces.pop()  # each line ends with the separator
            turns = []
            for k, piece in enumerate(pieces, 1):
                if not piece.strip():
                    raise DataError(
                        f"turn {k} of the dialogue is empty (two {EOU} markers with nothing between)",
                        path=path,
                        line=line_no,
                        hint="Remove the extra separator.",
                    )
                turns.append(detokenize(piece))
            records.append(Record({"turns": turns}, str(path), line_no))
    return records


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
    extensions = (".jsonl", ".json", ".txt")
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
        """JSONL/JSON of ``messages`` or DailyDialog text, picked by ``fmt`` or the extension."""
        path = Path(path)
        if fmt is None:
            fmt = FORMATS.get(path.suffix.lower())
            if fmt is None:
                raise DataError(
                    f"cannot tell the format of this dialogue file from its extension '{path.suffix}'",
                    path=path,
                    hint="Use .jsonl (messages) or .txt (DailyDialog), or pass --format jsonl|json|dailydialog.",
                )
        examples = [self.from_record(r, labeled) for r in read_records(path, fmt)]
        dropped = sum(1 for ex in examples if ex.meta.get("dropped_turns"))
        if dropped:
            from ptrun.runner import echo

            echo(f"note: {dropped} dialogue(s) in {path} end with user turns after the last assistant turn; "
                 "those turns are dropped (the reference response is the last assistant turn).")
        return examples

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
        ex_id = record.fields.get("id")
        stem = Path(record.path.split(" ")[0]).stem.lstrip("-")
        fields = {"messages": turns, "history": history, "response": response, "persona": persona, "system": system}
        return Example(str(ex_id) if ex_id not in (None, "") else f"{stem}-{record.line}", fields,
                       record.path, record.line, labeled=response is not None, meta=meta)

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

    def prediction_record(self, example, prediction, reference):
        users = [t["content"] for t in example.fields["history"] if t["role"] == "user"]
        record = {"id": example.id, "user": users[-1] if users else "", "prediction": prediction}
        if reference is not None:
            record["reference"] = reference
        return record

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

    def parse_generation(self, example, text, label_map):
        """The response text, cut where a plain-text model starts the next user turn; an empty
        response is no prediction and counts as ``empty_generations``."""
        text = NEXT_TURN.split(text, 1)[0].strip()
        if not text:
            return None, {"empty_generations": 1}
        return text, {}


TASK = DialogueTask()


# --------------------------------------------------------------------------- metrics


def normalize_tokens(text: str | None) -> list[str]:
    """Lower-cased tokens with punctuation (any Unicode punctuation) turned into spaces, so
    ``I’m`` and ``I ’ m`` give the same tokens."""
    if not text:
        return []
    chars = [" " if unicodedata.category(ch).startswith("P") else ch for ch in text.lower()]
    return "".join(chars).split()


def token_f1(prediction: str | None, reference: str) -> float:
    """F1 over the bags of normalised tokens; no prediction (or no tokens on a side) scores 0."""
    pred, ref = normalize_tokens(prediction), normalize_tokens(reference)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def distinct_n(predictions, n: int) -> float:
    """Distinct n-grams over all predictions / all n-grams (0.0 when there are none)."""
    grams = [tuple(toks[i : i + n]) for toks in map(normalize_tokens, predictions) for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def dialogue_metrics(predictions, references) -> dict:
    """Token F1 (mean), distinct-1/2, mean response and reference length (in tokens), and the
    number of empty generations (predictions that are None)."""
    count = max(1, len(references))
    return {
        "token_f1": sum(token_f1(p, r) for p, r in zip(predictions, references)) / count,
        "distinct_1": distinct_n(predictions, 1),
        "distinct_2": distinct_n(predictions, 2),
        "response_length": sum(len(normalize_tokens(p)) for p in predictions) / count,
        "reference_length": sum(len(normalize_tokens(r)) for r in references) / count,
        "empty_generations": sum(p is None for p in predictions),
    }


# --------------------------------------------------------------------------- ptrun chat


class ChatSession:
    """A causal LM, its layout and a dialogue template, answering conversations."""

    def __init__(self, model_ref: str, system: str | None = None, max_new_tokens: int = 128,
                 chat: bool | None = None, template: str | None = None, echo=None):
        import transformers

        from ptrun import causal, methods, models
        from ptrun.infer import device
        from ptrun.runner import RunConfig, resolve_prompt

        transformers.utils.logging.disable_progress_bar()  # keep the conversation readable
        resolved = models.resolve(model_ref)
        if resolved.kind != "causal-lm":
            raise PtrunError(
                f"ptrun chat needs a causal language model; --model {model_ref} is an {resolved.kind} "
                "(it classifies or tags text, it cannot write a response).",
                hint="Use a causal LM: an alias such as smollm2, a causal-LM folder, or a run folder of one.",
            )
        run = resolved.run_config or {}
        if resolved.run_dir is not None and methods.is_adapter_dir(resolved.path):
            # A LoRA run keeps only its adapter: rebuild the base model, then attach it.
            model, self.tokenizer = causal.load_model(Path(run["base_model_path"]))
            model = methods.load_adapter(model, resolved.path)
        else:
            model, self.tokenizer = causal.load_model(resolved.path)
        if chat is None and resolved.run_dir is not None:
            chat = run.get("chat_format")  # talk to a trained model in the layout it learned
        self.layout = causal.Layout.for_tokenizer(self.tokenizer, chat)
        # A dialogue run's own template (its system text); anything else gets the default.
        own = resolved.run_dir is not None and run.get("task") == TASK.name
        cfg = RunConfig(task=TASK.name, template=template or (None if own else TASK.default_template))
        if own and cfg.template is None and run.get("template") is None:
            cfg.template = TASK.default_template
        self.prompt = resolve_prompt(TASK, cfg, resolved)
        self.system = system
        self.max_new_tokens = max_new_tokens
        self.model = model.to(device()).eval()
        self.stop = causal.stop_token_ids(self.tokenizer, model)
        self.limit = min(causal.context_size(model, self.tokenizer), 2048)
        self.label_map = LabelMap([], kind="text")
        self.name = model_ref
        self.echo = echo or (lambda message: None)

    def prompt_ids(self, history: list[dict]) -> list[int]:
        from ptrun import causal
        from ptrun.runner import render_all

        fields = {"messages": history, "history": history, "response": None, "persona": "", "system": self.system or ""}
        example = Example("chat", fields, labeled=False)
        rendered = render_all(TASK, self.prompt, [example], self.label_map)[0]
        if self.system is not None:
            rendered.system = self.system
        messages = TASK.lm_messages(example, rendered, self.layout.chat)
        text = "".join(t for t, _ in self.layout.segments(self.tokenizer, messages))
        return self.tokenizer(text, add_special_tokens=self.layout.add_special_tokens())["input_ids"]

    def reply(self, history: list[dict]) -> str:
        """The model's response to the conversation ``history`` (ending with the user's turn).

        When the conversation no longer fits the context, its oldest exchanges are left out.
        """
        from ptrun import causal

        budget = self.limit - self.max_new_tokens
        start = 0
        ids = self.prompt_ids(history)
        while len(ids) > budget and start < len(history) - 1:
            start += 2 if len(history) - start > 2 else 1
            ids = self.prompt_ids(history[start:])
        if len(ids) > budget:
            raise PtrunError(
                f"the message is {len(ids)} tokens with the prompt around it; with {self.max_new_tokens} "
                f"reserved for the response, the model's context holds {budget}",
                hint="Shorten the message or lower --max-new-tokens.",
            )
        if start:
            self.echo(f"(the {start} oldest turn(s) no longer fit the context and were left out)")
        text = causal.generate_texts(self.model, self.tokenizer, [ids], self.max_new_tokens, self.stop)[0]
        response, _ = TASK.parse_generation(None, text, self.label_map)
        return response or ""


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def interactive(session: ChatSession, read=None, write=click.echo, note=None) -> None:
    """A conversation on the terminal: history kept, ``/reset`` clears it, ``/exit`` or EOF ends it."""
    read = read or input
    note = note or (lambda message: click.echo(message, err=True))
    note(f"Chatting with {session.name}. /reset starts a new conversation; /exit or Ctrl-D quits.")
    history: list[dict] = []
    while True:
        try:
            line = read("you> ")
        except EOFError:
            write("")
            return
        message = line.strip()
        if not message:
            continue
        if message == "/exit":
            return
        if message == "/reset":
            history = []
            note("(new conversation)")
            continue
        history.append({"role": "user", "content": message})
        try:
            response = session.reply(history)
        except PtrunError as exc:
            history.pop()
            note(f"error: {exc.format()}")
            continue
        if not response:
            history.pop()  # nothing to continue from; the user may rephrase
            note("(the model gave an empty response)")
            continue
        history.append({"role": "assistant", "content": response})
        write(f"bot> {response}")


def piped(session: ChatSession, lines, write=click.echo, note=None) -> None:
    """One response line per non-empty input line, each a fresh single-turn conversation."""
    note = note or (lambda message: click.echo(message, err=True))
    for line_no, line in enumerate(lines, 1):
        message = line.strip()
        if not message:
            continue
        try:
            response = session.reply([{"role": "user", "content": message}])
        except PtrunError as exc:
            raise PtrunError(f"stdin line {line_no}: {exc.message}", hint=exc.hint) from None
        if not response:
            note(f"stdin line {line_no}: the model gave an empty response (an empty line is printed)")
        write(" ".join(response.split()))


@click.command("chat", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "-m", "model_ref", required=True,
              help="A causal LM: an alias (smollm2), a model folder, or a ptrun run folder (full model or LoRA adapter).")
@click.option("--system", help="System text for the model [default: the template's (a dialogue run's own template)].")
@click.option("--max-new-tokens", type=click.IntRange(1), default=128, show_default=True, help="Most tokens per response.")
@click.option("--chat/--no-chat", default=None,
              help="Use the model's chat template [default: when it has one; for a run folder, the layout it was trained in].")
@click.option("--template", "-t", help="Dialogue template that shapes the conversation [default: the run's own, else dialogue/chat].")
def chat_command(model_ref, system, max_new_tokens, chat, template):
    """Talk to a causal language model (greedy decoding).

    \b
    On a terminal: a conversation; the model sees the whole history.
      /reset starts a new conversation, /exit or Ctrl-D quits.
    Otherwise (stdin from a pipe or a file): every non-empty input line is a
    fresh single-turn conversation and gets exactly one line on stdout
    (newlines inside a response become spaces; an empty response is an empty line).
    """
    note = lambda message: click.echo(message, err=True)  # noqa: E731
    session = ChatSession(model_ref, system, max_new_tokens, chat, template, echo=note)
    if _stdin_is_terminal():
        interactive(session, note=note)
    else:
        piped(session, sys.stdin, note=note)


# --------------------------------------------------------------------------- hooks


@hookimpl
def ptrun_tasks():
    return [TASK]


@hookimpl
def ptrun_template_dirs():
    return [builtin_template_dir()]


@hookimpl
def ptrun_readers():
    return {"dailydialog": read_dailydialog}


@hookimpl
def ptrun_label_map(task, labels, prompt):
    if isinstance(task, DialogueTask):
        return LabelMap(labels=[], kind="text")  # free text: predicted by generating
    return None


@hookimpl
def ptrun_metrics(task, predictions, references, label_map):
    if not isinstance(task, DialogueTask):
        return None
    return dialogue_metrics(predictions, references)


@hookimpl
def ptrun_commands(cli):
    cli.add_command(chat_command)
