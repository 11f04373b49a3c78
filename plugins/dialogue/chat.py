"""``ptrun chat``: talk to a causal LM through the dialogue task, on :func:`ptrun.load`.

The predictor brings the model, the run's chat layout and template; a conversation is one
unlabelled dialogue whose last turn is the user's, and the response is its prediction. When
the conversation no longer fits the context, the template's ``truncate: left`` drops its
oldest exchanges first.
"""

from __future__ import annotations

import sys

import click

import ptrun
from ptrun import PtrunError


class ChatSession:
    """A loaded causal LM answering conversations in the dialogue task's layout."""

    def __init__(self, model_ref: str, system: str | None = None, max_new_tokens: int = 128,
                 chat: bool | None = None, template: str | None = None, echo=None):
        resolved = ptrun.resolve_model(model_ref)
        if resolved.kind != "causal-lm":
            raise PtrunError(
                f"ptrun chat needs a causal language model; --model {model_ref} is an {resolved.kind} "
                "(it classifies or tags text, it cannot write a response).",
                hint="Use a causal LM: an alias such as smollm2, a causal-LM folder, or a run folder of one.",
            )
        run = resolved.run_config or {}
        # A dialogue run's own template (its system text); any other run or model gets the default.
        if template is None and run.get("task") != "dialogue":
            template = "dialogue/chat"
        options = {"max_new_tokens": max_new_tokens, "inference": "generate"}
        if chat is not None:
            options["chat"] = chat
        task = None if run.get("task") == "dialogue" else "dialogue"
        if run and run.get("task") != "dialogue":
            # Another task's run of a causal LM: its model, talked to through the dialogue task.
            model_ref = str(resolved.path) if run.get("method") in (None, "full") else model_ref
        self.predictor = ptrun.load(model_ref, task, template=template, **options)
        self.system = system
        self.name = model_ref
        self.echo = echo or (lambda message: None)

    # What the predictor runs, for a look inside.
    @property
    def model(self):
        return self.predictor.model

    @property
    def tokenizer(self):
        return self.predictor.tokenizer

    @property
    def prompt(self):
        return self.predictor.prompt

    @property
    def layout(self):
        return self.predictor.backend.layout

    @property
    def limit(self) -> int:
        """Tokens the prompt and the response may take together (the model's context)."""
        return self.predictor.backend.limit

    @limit.setter
    def limit(self, value: int) -> None:
        self.predictor.backend.limit = value

    def _fields(self, history):
        fields = {"messages": history}
        if self.system is not None:
            fields["system"] = self.system
        return fields

    def prompt_ids(self, history: list[dict]) -> list[int]:
        """The token ids the model reads for ``history`` (fitted into the context)."""
        p = self.predictor
        (example,) = p.examples([self._fields(history)])
        fitted = p.backend.fit_prompt(p.tokenizer, example, p.renderer.render(example), self.max_new_tokens)
        return fitted.ids

    @property
    def max_new_tokens(self) -> int:
        return self.predictor.cfg.max_new_tokens

    def reply(self, history: list[dict]) -> str:
        """The model's response to the conversation ``history`` (ending with the user's turn)."""
        record = self.predictor.predict([self._fields(history)])[0]
        if record.get("dropped_turns"):
            self.echo(f"(the {record['dropped_turns']} oldest turn(s) no longer fit the context and were left out)")
        return record["prediction"] or ""


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


