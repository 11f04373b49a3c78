"""The dialogue task and `ptrun chat`, on tiny config-built Llamas with the real SmolLM2 tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import REPO, write
from ptrun import DataError, PtrunError
from ptrun.plugins.dialogue import TASK, detokenize, distinct_n, normalize_tokens, token_f1
from ptrun.plugins.dialogue.chat import interactive

DEMO = REPO / "plugins" / "demo" / "dialogue"


def _jsonl(path, rows):
    return write(path, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def _msgs(*turns):
    return [{"role": "user" if k % 2 == 0 else "assistant", "content": t} for k, t in enumerate(turns)]


@pytest.fixture
def cli_with_commands(cli):
    """The `cli` fixture with the plugins' extra commands (`ptrun chat`) added, as main() does."""
    from ptrun import registry
    from ptrun.cli import cli as group

    list(registry.call_each("ptrun_commands", cli=group))
    return cli


# --------------------------------------------------------------------------- readers


def test_jsonl_reader_builds_history_response_persona_and_system(tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [
        {"id": "a", "persona": ["I like tea.", "I live by the sea."], "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Tea?"}, {"role": "user", "content": "Or coffee?"},
            {"role": "assistant", "content": "Tea, please."},
            {"role": "user", "content": "Bye"}]},
        {"messages": _msgs("Ping", "Pong"), "system": "You answer pings."},
    ])
    first, second = TASK.read(path)
    assert first.id == "a" and second.id == "d-2"
    # consecutive user turns merge; the trailing user turn (no answer to score) is dropped
    assert first.fields["history"] == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tea?\nOr coffee?"}]
    assert first.fields["response"] == "Tea, please."
    assert first.fields["messages"] == first.fields["history"] + [{"role": "assistant", "content": "Tea, please."}]
    assert first.meta["dropped_turns"] == 1
    assert first.fields["system"] == "Be brief." and first.fields["persona"] == "I like tea. I live by the sea."
    assert second.fields["system"] == "You answer pings." and second.fields["persona"] == ""
    assert TASK.reference(second) == "Pong"


def test_dailydialog_reader_splits_turns_and_joins_punctuation(tmp_path, capsys):
    path = write(tmp_path / "dialogues_test.txt",
                 "Hey man , you wanna go ? __eou__ Where ? __eou__ The park . I ’ m going at 5 . __eou__\n"
                 "\n"
                 "It costs $ 20 ( tax included ) . __eou__ That ' s fine ! __eou__\n")
    first, second = TASK.read(path)
    assert (first.id, first.line, second.id, second.line) == ("dialogues_test-1", 1, "dialogues_test-3", 3)
    # three turns: user, assistant, user; the last user turn has no answer and is dropped
    assert first.fields["history"] == [{"role": "user", "content": "Hey man, you wanna go?"}]
    assert first.fields["response"] == "Where?"
    assert second.fields["history"] == [{"role": "user", "content": "It costs $20 (tax included)."}]
    assert second.fields["response"] == "That's fine!"
    assert f"note: 1 dialogue(s) in {path} end with user turns" in capsys.readouterr().err
    assert detokenize("the students ’ books , I ’ Ve read them ...") == "the students ’ books, I’Ve read them..."


def test_unlabelled_dialogue_ending_with_the_user_is_a_prompt(tmp_path):
    path = _jsonl(tmp_path / "p.jsonl", [{"messages": _msgs("Hi", "Hello!", "How are you?")},
                                         {"messages": _msgs("Just a question")}])
    open_one, no_answer = TASK.read(path, labeled=False)
    assert not open_one.labeled and open_one.fields["response"] is None
    assert [t["content"] for t in open_one.fields["history"]] == ["Hi", "Hello!", "How are you?"]
    assert not no_answer.labeled and len(no_answer.fields["history"]) == 1


@pytest.mark.parametrize(
    "name, text, line, message",
    [
        ("d.jsonl", '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}\n'
                    '{"messages": [{"role": "user", "content": "Anyone there?"}]}\n', 2, "no assistant turn"),
        ("d.jsonl", '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}\n'
                    '{"messages": [{"role": "user", "content": "Hi"}\n', 2, "invalid JSON"),
        ("d.jsonl", '\n{"messages": [{"role": "human", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}\n',
         2, "role 'human'"),
        ("d.jsonl", '{"messages": [{"role": "user", "content": "Hi"}, {"role": "system", "content": "Be nice"}, '
                    '{"role": "assistant", "content": "Yo"}]}\n', 1, "system message after"),
        ("d.jsonl", '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  "}]}\n',
         1, "has no text"),
        ("d.jsonl", '{"text": "Hi"}\n', 1, "expected a 'messages' list"),
        ("dialogues_train.txt", "A . __eou__ B . __eou__\nOnly one turn here . __eou__\n", 2, "no assistant turn"),
        ("dialogues_act_train.txt", "3 4 2 1\n", 1, "no __eou__"),
        ("dialogues_train.txt", "A . __eou__  __eou__ B . __eou__\n", 1, "turn 2 of the dialogue is empty"),
    ],
)
def test_bad_dialogues_name_the_file_and_line(tmp_path, name, text, line, message):
    path = write(tmp_path / name, text)
    with pytest.raises(DataError) as info:
        TASK.read(path)
    assert f"{path}:{line}: " in str(info.value) and message in str(info.value)


def test_bad_dialogue_through_the_cli_is_one_clean_error(cli, tiny_llama, tmp_path):
    path = _jsonl(tmp_path / "train.jsonl", [{"messages": _msgs("Hi", "Yo")}, {"messages": _msgs("Anyone?")}])
    result = cli("dialogue", "--train", path, "--model", tiny_llama, "--output-dir", tmp_path / "run")
    assert result.exit_code == 1
    assert f"{path}:2: the dialogue has no assistant turn" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- features


@pytest.fixture(scope="module")
def predictor(tiny_llama):
    """``predictor(chat)``: the tiny Llama loaded for the dialogue task through :func:`ptrun.load`
    with the dialogue/chat template, in the chat layout (True) or as plain text (False)."""
    import ptrun

    loaded = {}

    def make(chat):
        if chat not in loaded:
            loaded[chat] = ptrun.load(str(tiny_llama), "dialogue", template="dialogue/chat", chat=chat, device="cpu")
        return loaded[chat]

    return make


def _encode(p, example):
    """The training feature of ``example`` as text: (the tokens the loss covers, all its tokens)."""
    from ptrun.backends.layout import IGNORE

    feature = p.backend.training_features([example], [p.renderer.render(example)], p.tokenizer, p.label_map)[0]
    trained = p.tokenizer.decode([t for t, l in zip(feature["input_ids"], feature["labels"]) if l != IGNORE])
    return trained, p.tokenizer.decode(feature["input_ids"])


def test_chat_features_train_every_assistant_turn_and_nothing_else(predictor, tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [{"messages": _msgs("Hi there", "Hello friend", "How are you?", "Fine, thanks")}])
    example = TASK.read(path)[0]
    p = predictor(True)
    trained, full = _encode(p, example)
    assert trained == "Hello friend<|im_end|>\nFine, thanks<|im_end|>\n"
    assert "You are a helpful assistant. Reply briefly." in full  # the template's system block
    # Predicting: the prompt ends with the history and the assistant's generation prompt.
    fitted = p.backend.fit(p.tokenizer, example, p.renderer.render(example, target=False), reserve=8)
    assert [m["role"] for m in fitted.messages] == ["system", "user", "assistant", "user"]
    assert fitted.text.endswith("How are you?<|im_end|>\n<|im_start|>assistant\n")
    assert fitted.ids == p.tokenizer(fitted.text, add_special_tokens=False)["input_ids"]


def test_plain_text_features_train_the_final_response(predictor, tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [{"messages": _msgs("Hi there", "Hello friend", "How are you?", "Fine, thanks")}])
    trained, full = _encode(predictor(False), TASK.read(path)[0])
    assert trained == " Fine, thanks<|im_end|>"
    assert "User: Hi there\nAssistant: Hello friend\nUser: How are you?\nAssistant: Fine, thanks" in full


def test_long_conversation_drops_its_oldest_exchanges_first(predictor, tmp_path):
    turns = [f"user turn {i} " + "word " * 20 if i % 2 == 0 else f"assistant turn {i} " + "word " * 20 for i in range(8)]
    path = _jsonl(tmp_path / "d.jsonl", [{"messages": _msgs(*turns, "How are you?", "Fine")}])
    example = TASK.read(path)[0]
    p = predictor(True)
    b, tok = p.backend, p.tokenizer
    rendered = p.renderer.render(example, target=False)
    whole = b.fit(tok, example, rendered, reserve=0)
    assert not whole.truncated and len(whole.messages) == 10  # system + 8 turns + the last user turn
    full = len(whole.ids)
    limit, b.limit = b.limit, full - 30  # room for all but one exchange (each is about 50 tokens)
    try:
        fitted = b.fit(tok, example, rendered, reserve=0)
    finally:
        b.limit = limit
    assert fitted.truncated and len(fitted.ids) <= full - 30
    roles = [m["role"] for m in fitted.messages]
    assert roles[:2] == ["system", "user"] and roles[-1] == "user" and len(roles) == 8
    assert fitted.messages[1]["content"].startswith("user turn 2 ")  # exchange 0/1 went, whole
    assert fitted.messages[-1]["content"] == "How are you?"


def test_persona_template_puts_the_persona_in_the_system_text(tmp_path):
    from ptrun import LabelMap
    from ptrun.prompts.templates import load_prompt
    from ptrun.prompts.render import render_all

    path = _jsonl(tmp_path / "d.jsonl", [{"persona": "I am a pirate.", "messages": _msgs("Hi", "Ahoy")},
                                         {"messages": _msgs("Hi", "Hello")}])
    with_persona, without = render_all(TASK, load_prompt("dialogue/persona"), TASK.read(path), LabelMap([], kind="text"))
    assert "I am a pirate." in with_persona.system and without.system == "You are a helpful assistant. Reply briefly."


# --------------------------------------------------------------------------- metrics


def test_token_f1_and_distinct_on_known_inputs():
    assert token_f1("The cat sat.", "the cat sat on the mat") == pytest.approx(2 / 3)
    assert token_f1("I’m fine", "I ' m fine .") == 1.0  # punctuation splits, whatever the apostrophe
    assert token_f1(None, "anything") == 0.0 and token_f1("...", "anything") == 0.0
    assert normalize_tokens("Hello, World!") == ["hello", "world"]
    assert distinct_n(["a b a", "a b", None], 1) == pytest.approx(2 / 5)
    assert distinct_n(["a b a", "a b", None], 2) == pytest.approx(2 / 3)
    assert distinct_n([None, ""], 2) == 0.0


def test_parse_generation_cuts_the_next_turn_and_counts_empty_answers():
    assert TASK.parse_generation(None, "  Sure thing.\nUser: and more", None) == ("Sure thing.", {})
    assert TASK.parse_generation(None, " \n ", None) == (None, {"empty_generations": 1})


# --------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def trained_run(tiny_llama, tmp_path_factory):
    """A dialogue run of the tiny Llama: 1 epoch on 8 demo dialogues, eval on demo dev and a
    DailyDialog-style test file."""
    from ptrun.cli import cli as group

    tmp = tmp_path_factory.mktemp("dialogue-run")
    test = write(tmp / "dialogues_test.txt", "Hi , how are you ? __eou__ Fine , thanks . __eou__\n"
                 "Is it raining ? __eou__ No , it is sunny . __eou__ Great . __eou__\n")
    out = tmp / "run"
    result = CliRunner().invoke(group, [str(a) for a in (
        "dialogue", "--train", DEMO / "train.jsonl", "--validation", DEMO / "dev.jsonl", "--test", test,
        "--limit-train", 8, "--limit-eval", 4, "--epochs", 1, "--lr", "1e-3", "--batch-size", 4,
        "--max-new-tokens", 6, "--model", tiny_llama, "--output-dir", out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_dialogue_run_writes_metrics_and_predictions(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 2 and metrics["train"]["epochs"] == 1
    for split, n in (("validation", 4), ("test", 2)):
        m = metrics[split]
        assert m["inference"] == "generate" and m["chat_format"] is True
        assert m["perplexity"] > 1 and m["reference_tokens"] > 0
        rows = [json.loads(l) for l in (trained_run / "predictions" / f"{split}.jsonl").read_text().splitlines()]
        assert len(rows) == n
        assert m["token_f1"] == pytest.approx(sum(token_f1(r["prediction"], r["reference"]) for r in rows) / n)
        assert m["distinct_1"] == pytest.approx(distinct_n([r["prediction"] for r in rows], 1))
        assert 0 <= m["distinct_2"] <= 1
        assert m["unparseable"] == m["empty_generations"] == sum(r["prediction"] is None for r in rows)
        assert all("generated" in r and r["user"] for r in rows)
    rows = [json.loads(l) for l in (trained_run / "predictions" / "test.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["dialogues_test-1", "dialogues_test-2"]
    assert [r["reference"] for r in rows] == ["Fine, thanks.", "No, it is sunny."]
    config = json.loads((trained_run / "config.json").read_text())
    assert config["template"] == "dialogue/chat" and config["chat_format"] is True


def test_generated_responses_are_scored_against_the_last_assistant_turn(cli, tiny_llama, tmp_path, monkeypatch):
    from ptrun.backends import kernels as causal

    def fake_generate(model, tokenizer, prompts, max_new_tokens, stop_ids):
        # "raining" gets the right answer plus a plain-text model's next turn; others nothing
        return ["No, it is sunny!\nUser: Good." if "raining" in tokenizer.decode(p) else " \n" for p in prompts]

    monkeypatch.setattr(causal, "generate_texts", fake_generate)
    test = write(tmp_path / "test.txt", "Hi , how are you ? __eou__ Fine , thanks . __eou__\n"
                 "Is it raining ? __eou__ No , it is sunny . __eou__ Great . __eou__\n")
    out = tmp_path / "run"
    result = cli("dialogue", "--test", test, "--eval-only", "--model", tiny_llama, "--output-dir", out)
    assert result.exit_code == 0, result.output
    m = json.loads((out / "metrics.json").read_text())["test"]
    assert m["token_f1"] == 0.5 and m["distinct_1"] == 1.0 and m["distinct_2"] == 1.0
    assert m["empty_generations"] == m["unparseable"] == 1
    assert m["response_length"] == 2.0 and m["reference_length"] == 3.0
    rows = [json.loads(l) for l in (out / "predictions" / "test.jsonl").read_text().splitlines()]
    assert [r["prediction"] for r in rows] == [None, "No, it is sunny!"]
    assert rows[0]["empty_generations"] == 1 and rows[1]["user"] == "Is it raining?"


def test_templates_pass_check_and_render(cli):
    result = cli("check", REPO / "templates" / "dialogue")
    assert result.exit_code == 0 and "0 error(s), 0 warning(s)" in result.output, result.output
    result = cli("render", "dialogue", "-n", "1")
    assert result.exit_code == 0, result.output
    assert "template dialogue/chat" in result.output and "Assistant:" in result.output


def test_templates_that_cannot_serve_dialogue_are_refused(cli, tmp_path):
    no_target = write(tmp_path / "dialogue" / "bare.j2",
                      "{% block prompt %}{% for t in history %}{{ t.content }}\n{% endfor %}{% endblock %}")
    no_history = write(tmp_path / "dialogue" / "blind.j2",
                       "{% block prompt %}Say something.{% endblock %}{% block target %} {{ response }}{% endblock %}")
    for path, message in ((no_target, "needs a target block"), (no_history, "never shows the conversation")):
        result = cli("check", path)
        assert result.exit_code == 1 and message in result.output, result.output


# --------------------------------------------------------------------------- ptrun chat


def _echo_generate(model, tokenizer, prompts, max_new_tokens, stop_ids):
    """A stand-in for ptrun.backends.kernels.generate_texts whose answer depends on the message:
    the last user message's words reversed, on a second line with tabs; blank for "silence"."""
    answers = []
    for ids in prompts:
        text = tokenizer.decode(ids)
        if "<|im_start|>user\n" in text:
            message = text.rsplit("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]
        else:
            message = text.rsplit("User: ", 1)[1].split("\n", 1)[0]
        answers.append(" \n" if message == "silence" else "you said:\n  " + "\t".join(reversed(message.split())) + "  ")
    return answers


def _piped_chat(tiny_llama, messages, patched: bool) -> subprocess.CompletedProcess:
    """``ptrun chat`` in a fresh process with ``messages`` piped in (an empty line between each),
    generating with the model, or with :func:`_echo_generate` when ``patched``."""
    import inspect

    code = "import sys\nfrom ptrun.cli import main\n"
    if patched:
        code += inspect.getsource(_echo_generate)
        code += "from ptrun.backends import kernels\nkernels.generate_texts = _echo_generate\n"
    code += "main(sys.argv[1:])\n"
    return subprocess.run(
        [sys.executable, "-c", code, "chat", "--model", str(tiny_llama), "--max-new-tokens", "4"],
        input="\n\n".join(messages) + "\n", capture_output=True, text=True, timeout=300,
    )


def test_chat_answers_each_piped_line_in_a_fresh_process(tiny_llama, monkeypatch):
    """Every non-empty stdin line gets exactly one stdout line, in order: what ChatSession.reply
    answers to that message alone (whitespace joined into one line; an empty answer is an empty
    line). The random tiny model answers every message alike (often with nothing), so a second
    pass replaces the generation kernel, in both processes, by one that echoes the message."""
    from ptrun.backends import kernels
    from ptrun.plugins.dialogue.chat import ChatSession

    def replies(messages):
        session = ChatSession(str(tiny_llama), max_new_tokens=4)
        return [" ".join(session.reply([{"role": "user", "content": m}]).split()) for m in messages]

    messages = ["Hello there", "What time is it?"]
    proc = _piped_chat(tiny_llama, messages, patched=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == replies(messages)

    messages = ["Hello there", "What time is it?", "silence", "Bye now"]
    proc = _piped_chat(tiny_llama, messages, patched=True)
    assert proc.returncode == 0, proc.stderr
    expected = ["you said: there Hello", "you said: it? is time What", "", "you said: now Bye"]
    assert proc.stdout.splitlines() == expected
    assert "stdin line 5: the model gave an empty response" in proc.stderr  # "silence", after 2 blank lines
    monkeypatch.setattr(kernels, "generate_texts", _echo_generate)
    assert replies(messages) == expected


def test_chat_with_a_run_folder_uses_its_template_and_layout(cli_with_commands, trained_run):
    from ptrun.plugins.dialogue.chat import ChatSession

    result = cli_with_commands("chat", "--model", trained_run, "--max-new-tokens", "3", input="Hi\nBye\n")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2
    session = ChatSession(str(trained_run), max_new_tokens=3)
    assert session.layout.chat is True and session.prompt.name == "dialogue/chat"
    text = session.tokenizer.decode(session.prompt_ids([{"role": "user", "content": "Hi"}]))
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant. Reply briefly.<|im_end|>")
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    session = ChatSession(str(trained_run), system="Be terse.", max_new_tokens=3)
    assert session.tokenizer.decode(session.prompt_ids([{"role": "user", "content": "Hi"}])).startswith(
        "<|im_start|>system\nBe terse.<|im_end|>")


def test_chat_leaves_out_the_oldest_turns_that_no_longer_fit(tiny_llama):
    from ptrun.plugins.dialogue.chat import ChatSession

    notes = []
    session = ChatSession(str(tiny_llama), max_new_tokens=3, echo=notes.append)
    history = _msgs(*[f"turn number {k} " * 5 for k in range(9)])
    session.limit = len(session.prompt_ids(history[-3:])) + 3  # room for the last three turns only
    session.reply(history)
    assert notes == ["(the 6 oldest turn(s) no longer fit the context and were left out)"]
    session.limit = 10
    with pytest.raises(PtrunError, match="does not fit in 10 tokens"):
        session.reply(history[-1:])


def test_chat_with_a_plain_text_lora_run_folder(cli_with_commands, tiny_llama, tmp_path):
    from ptrun.plugins.dialogue.chat import ChatSession

    out = tmp_path / "lora"
    result = cli_with_commands("dialogue", "--train", DEMO / "train.jsonl", "--limit-train", 4, "--epochs", 1, "--no-chat",
                               "--method", "lora", "--batch-size", 4, "--model", tiny_llama, "--output-dir", out)
    assert result.exit_code == 0, result.output
    assert (out / "model" / "adapter_config.json").is_file()
    result = cli_with_commands("chat", "--model", out, "--max-new-tokens", "3", input="Hi\n")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    session = ChatSession(str(out), max_new_tokens=3)  # the adapter on its base model, trained as plain text
    assert session.layout.chat is False and type(session.model).__name__.startswith("Peft")
    text = session.tokenizer.decode(session.prompt_ids(_msgs("Hi", "Hello!", "Bye")))
    assert text == "You are a helpful assistant. Reply briefly.\n\nUser: Hi\nAssistant: Hello!\nUser: Bye\nAssistant:"


def test_chat_refuses_encoders_and_unknown_models(cli_with_commands, tiny_encoder, tmp_path):
    result = cli_with_commands("chat", "--model", tiny_encoder, input="Hi\n")
    assert result.exit_code == 1
    assert "needs a causal language model" in result.output and "is an encoder" in result.output
    result = cli_with_commands("chat", "--model", tmp_path / "nowhere", input="Hi\n")
    assert result.exit_code == 1 and "Unknown model" in result.output


def test_interactive_chat_keeps_history_resets_and_exits():
    class Echo:
        name = "echo"

        def __init__(self):
            self.seen = []

        def reply(self, history):
            self.seen.append([t["content"] for t in history])
            return "" if history[-1]["content"] == "silence" else f"reply {len(history)}"

    session, lines, out, notes = Echo(), iter(["hi", "", "again", "silence", "/reset", "new", "/exit", "never"]), [], []
    interactive(session, read=lambda prompt: next(lines), write=out.append, note=notes.append)
    assert session.seen == [["hi"], ["hi", "reply 1", "again"], ["hi", "reply 1", "again", "reply 3", "silence"], ["new"]]
    assert out == ["bot> reply 1", "bot> reply 3", "bot> reply 1"]
    assert any("empty response" in n for n in notes) and any("new conversation" in n for n in notes)
    assert next(lines) == "never"  # /exit stopped reading

    def eof(prompt):
        raise EOFError

    interactive(Echo(), read=eof, write=out.append, note=notes.append)  # Ctrl-D ends it


def test_chat_on_a_terminal_is_interactive(cli_with_commands, tiny_llama, monkeypatch):
    import builtins

    from ptrun.plugins.dialogue import chat as dialogue

    lines = iter(["Hello", "How are you?", "/exit"])
    monkeypatch.setattr(dialogue, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(builtins, "input", lambda prompt: next(lines))
    result = cli_with_commands("chat", "--model", tiny_llama, "--max-new-tokens", "3")
    assert result.exit_code == 0, result.output
    # the random tiny model may write only whitespace: then the user is told, and no reply line
    assert "/reset" in result.stderr
    assert result.stdout.count("bot> ") + result.stderr.count("empty response") == 2


@pytest.mark.slow
def test_smollm2_answers_a_question(cli_with_commands):
    result = cli_with_commands("chat", "--model", "smollm2", "--max-new-tokens", "24",
                               input="What is the capital of France?\n")
    assert result.exit_code == 0, result.output
    assert "paris" in result.stdout.lower()
