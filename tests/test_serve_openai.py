"""The OpenAI-compatible endpoints of ``ptrun serve`` over a real socket, called with the
official ``openai`` client and with httpx: chat (the run's own layout, the tokenizer's chat
template for a zero-shot model), streaming, seeded sampling, stops, completions with echo and
logprobs, errors, a bounded load test, ``--workers 2``, and a merged run in plain transformers.

One server holds a LoRA dialogue run of a tiny Llama (``dlg``) and the tiny Llama zero-shot with
the sentiment task (``lm``). The tiny Llama here has larger initial weights than conftest's, so
that its greedy text varies (conftest's writes newlines only) and the equality checks mean
something.
"""

from __future__ import annotations

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
import torch

from conftest import smollm2_tokenizer_files
from test_serve import Server, _cli, _error

SYSTEM = "You are a helpful assistant. Reply briefly."  # dialogue/chat's system text
HELLO = [{"role": "user", "content": "Hi! How was your weekend?"}]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide Llama with the real SmolLM2 tokenizer, weights drawn with std 0.2."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = smollm2_tokenizer_files(tmp_path_factory.mktemp("lively-llama"))
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2, initializer_range=0.2)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def dialogue_run(tmp_path_factory, tiny_llama) -> Path:
    run = tmp_path_factory.mktemp("dlg") / "dlg"
    _cli("dialogue", "--model", tiny_llama, "--method", "lora", "--epochs", 1, "--limit-train", 8, "--limit-eval", 2,
         "--batch-size", 4, "-o", run)
    return run


@pytest.fixture(scope="module")
def lm_server(dialogue_run, tiny_llama, tmp_path_factory):
    server = Server([dialogue_run, "--model", f"lm={tiny_llama}", "--task", "sentiment", "--max-wait-ms", 20],
                    tmp_path_factory.mktemp("lm") / "server.log")
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(lm_server):
    with openai.OpenAI(base_url=lm_server.url + "/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def hf(tiny_llama):
    """The tiny Llama and its tokenizer in plain transformers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(tiny_llama)).eval(), AutoTokenizer.from_pretrained(str(tiny_llama))


def _greedy(hf, ids: list[int], n: int) -> str:
    """transformers' own greedy continuation of ``ids`` (n tokens at most, to an end token)."""
    model, tok = hf
    with torch.inference_mode():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=[2],
                             pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, len(ids):], skip_special_tokens=True)


# -- chat -----------------------------------------------------------------------------------
def test_chat_in_the_runs_own_layout_answers_as_ptrun_predicts(client, dialogue_run):
    import ptrun

    expected = ptrun.load(str(dialogue_run)).predict([{"messages": HELLO}])[0]
    reply = client.chat.completions.create(model="dlg", messages=HELLO, temperature=0)
    assert reply.object == "chat.completion" and reply.model == "dlg"
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == expected["generated"]  # the run's template, layout and max tokens (48)
    assert choice.finish_reason in ("stop", "length")
    # The prompt is the one ptrun itself fits (dialogue/chat's system text, then the turns).
    from ptrun.plugins.dialogue.chat import ChatSession

    prompt = ChatSession(str(dialogue_run)).prompt_ids(HELLO)
    assert reply.usage.prompt_tokens == len(prompt)
    assert reply.usage.completion_tokens == 48 if choice.finish_reason == "length" else reply.usage.completion_tokens <= 48
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    # A system message becomes the dialogue's system text, as in the task's data.
    talk = [{"role": "system", "content": "You are a pirate."}, *HELLO]
    expected = ptrun.load(str(dialogue_run)).predict([{"messages": talk}])[0]
    reply = client.chat.completions.create(model="dlg", messages=talk, temperature=0, max_tokens=12)
    assert reply.choices[0].message.content and expected["generated"].startswith(reply.choices[0].message.content)
    assert reply.usage.prompt_tokens == len(ChatSession(str(dialogue_run), system="You are a pirate.").prompt_ids(HELLO))


def test_chat_on_a_plain_text_dialogue_layout_stops_at_the_next_speaker(dialogue_run):
    """--no-chat: the dialogue task lays the conversation out as its transcript and ends the
    response where the model starts the user's next turn (Task.chat_stops)."""
    from ptrun.deploy.decoding import GenJob
    from ptrun.deploy.served import ServedModel

    served = ServedModel("d", str(dialogue_run), None, None, "cpu", {"chat": False},
                         dict(max_batch_size=4, max_wait_ms=0, max_queue=8))
    served.load()
    try:
        ids, stops = served.lm.chat_prompt(HELLO, 8)
        text = served.lm.tokenizer.decode(ids)
        assert text.startswith(SYSTEM) and text.endswith("User: Hi! How was your weekend?\nAssistant:")
        assert stops == ["\nUser:"]
        job = GenJob(ids, max_tokens=40, temperature=0, stop=stops)
        served.lm.submit([job]).result(60)
        free = GenJob(ids, max_tokens=40, temperature=0)
        served.lm.submit([free]).result(60)
        assert "\nUser:" not in job.text and free.text.startswith(job.text)
        assert job.finish_reason == "stop" if "\nUser:" in free.text else job.text == free.text
    finally:
        served.close()


def test_chat_on_a_zero_shot_model_uses_the_tokenizers_chat_template(client, hf):
    messages = [{"role": "system", "content": "Be terse."}, *HELLO]
    reply = client.chat.completions.create(model="lm", messages=messages, temperature=0, max_tokens=12)
    ids = hf[1].apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert reply.usage.prompt_tokens == len(ids)
    assert reply.choices[0].message.content == _greedy(hf, ids, 12)


def test_streaming_chat_sends_the_same_text_then_done(client, lm_server):
    whole = client.chat.completions.create(model="lm", messages=HELLO, temperature=0, max_tokens=16)
    chunks = list(client.chat.completions.create(model="lm", messages=HELLO, temperature=0, max_tokens=16, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1
    # On the wire: server-sent events ending with [DONE].
    with lm_server.client.stream("POST", "/v1/chat/completions",
                                 json={"model": "lm", "messages": HELLO, "max_tokens": 4, "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][6:])["choices"][0]["finish_reason"] == "length"


def test_a_client_that_leaves_a_stream_stops_its_generation(lm_server):
    def generated():
        return sum(lm_server.metric("ptrun_tokens_generated_total").values())

    before = generated()
    body = {"model": "lm", "messages": HELLO, "max_tokens": 400, "temperature": 0, "stream": True}
    with lm_server.client.stream("POST", "/v1/chat/completions", json=body) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")  # the role chunk: generation has started
    time.sleep(2)  # the server notices at its next write and stops the row
    spent = generated() - before
    assert 0 < spent < 400
    time.sleep(1)
    assert generated() - before == spent  # and nothing runs on


def test_seeded_sampling_is_reproducible_alone_or_batched(client):
    def ask(seed, top_p=1.0):
        r = client.chat.completions.create(model="lm", messages=HELLO, temperature=1.5, top_p=top_p, seed=seed, max_tokens=12)
        return r.choices[0].message.content

    alone = ask(7)
    assert ask(7) == alone
    with ThreadPoolExecutor(8) as pool:  # batched with other requests, other seeds
        together = list(pool.map(ask, [7, 8, 9, 10, 7, 11, 12, 7]))
    assert together[0] == together[4] == together[7] == alone
    assert len(set(together)) > 2  # other seeds sample other text
    assert ask(7, top_p=0.5) == ask(7, top_p=0.5)


def test_sampling_follows_temperature_and_top_p():
    import numpy as np

    from ptrun.deploy.decoding import sample

    probs = np.array([0.5, 0.3, 0.15, 0.05])
    grid = (np.arange(4000) + 0.5) / 4000  # evenly spread draws: frequencies are exact up to the grid

    def freq(**kw):
        picks = [sample(np.log(probs).astype(np.float32), u=u, **kw) for u in grid]
        return np.bincount(picks, minlength=4) / len(grid)

    assert freq(temperature=1.0, top_p=1.0) == pytest.approx(probs, abs=1e-3)
    assert freq(temperature=1.0, top_p=0.7) == pytest.approx([0.5 / 0.8, 0.3 / 0.8, 0, 0], abs=1e-3)  # the nucleus
    sharp = probs**2 / (probs**2).sum()  # temperature 0.5 squares the probabilities
    assert freq(temperature=0.5, top_p=1.0) == pytest.approx(sharp, abs=1e-3)
    assert freq(temperature=1.0, top_p=0.4) == pytest.approx([1, 0, 0, 0])


def test_stop_strings_end_the_text_before_them(client):
    full = client.chat.completions.create(model="lm", messages=HELLO, temperature=0, max_tokens=24).choices[0].message.content
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    assert stop.strip(), full
    reply = client.chat.completions.create(model="lm", messages=HELLO, temperature=0, max_tokens=24, stop=[stop, "\x00never"])
    assert reply.choices[0].message.content == full[: full.index(stop)]
    assert reply.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(model="lm", messages=HELLO, temperature=0, max_tokens=24, stop=stop, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == full[: full.index(stop)]


# -- completions ----------------------------------------------------------------------------
def test_completions_echo_logprobs_are_the_models(client, hf):
    model, tok = hf
    prompt = "Review: A moving, wonderful film.\nSentiment:"
    r = client.completions.create(model="lm", prompt=prompt, max_tokens=0, echo=True, logprobs=3)
    assert r.object == "text_completion"
    choice = r.choices[0]
    assert choice.text == prompt and r.usage.completion_tokens == 0
    ids = tok(prompt)["input_ids"]
    with torch.inference_mode():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    lp = choice.logprobs
    assert lp.tokens == [tok.decode([i]) for i in ids]
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert lp.token_logprobs[1:] == pytest.approx([float(logp[j, t]) for j, t in enumerate(ids[1:])], abs=1e-4)
    for j, top in enumerate(lp.top_logprobs[1:]):
        best = logp[j].topk(3)
        assert len(top) == 3 and max(top.values()) == pytest.approx(float(best.values[0]), abs=1e-4)
    assert lp.text_offset == [len("".join(lp.tokens[:k])) for k in range(len(ids))]


def test_completions_of_token_ids_and_lists(client, hf):
    tok = hf[1]
    prompts = [tok("Once upon a time")["input_ids"], tok("The weather today")["input_ids"]]
    r = client.completions.create(model="lm", prompt=prompts, max_tokens=5, temperature=0, logprobs=1)
    assert [c.index for c in r.choices] == [0, 1]
    assert [c.text for c in r.choices] == [_greedy(hf, p, 5) for p in prompts]
    assert all(len(c.logprobs.token_logprobs) == 5 and None not in c.logprobs.token_logprobs for c in r.choices)
    assert r.usage.prompt_tokens == sum(map(len, prompts)) and r.usage.completion_tokens == 10
    one = client.completions.create(model="lm", prompt=prompts[0], max_tokens=5, temperature=0)
    text = client.completions.create(model="lm", prompt="Once upon a time", max_tokens=5, temperature=0, echo=True)
    assert one.choices[0].text == r.choices[0].text and text.choices[0].text == "Once upon a time" + one.choices[0].text
    both = client.completions.create(model="lm", prompt=["Once upon a time", "The weather today"], max_tokens=5, temperature=0)
    assert [c.text for c in both.choices] == [c.text for c in r.choices]


def test_openai_errors_name_the_field(lm_server, client):
    c = lm_server.client

    def post(path, body):
        return c.post(path, json=body)

    chat, comp = "/v1/chat/completions", "/v1/completions"
    _error(post(chat, {"model": "lm"}), 422, "messages")
    _error(post(chat, {"model": "lm", "messages": []}), 422, "messages")
    _error(post(chat, {"model": "lm", "messages": [{"role": "robot", "content": "x"}]}), 422, "messages[0].role")
    _error(post(chat, {"model": "lm", "messages": [{"role": "user", "content": ""}]}), 422, "messages[0].content")
    last = _error(post(chat, {"model": "lm", "messages": HELLO + [{"role": "assistant", "content": "Hi"}]}), 422, "messages[1].role")
    assert "last message must be the user's" in last["message"]
    _error(post(chat, {"model": "lm", "messages": HELLO, "n": 2}), 422, "n")
    _error(post(chat, {"model": "lm", "messages": HELLO, "temperature": 3}), 422, "temperature")
    _error(post(chat, {"model": "lm", "messages": HELLO, "top_p": 0}), 422, "top_p")
    _error(post(chat, {"model": "lm", "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}), 422, "stop")
    _error(post(chat, {"model": "lm", "messages": HELLO, "max_tokens": 0}), 422, "max_tokens")
    _error(post(chat, {"model": "lm", "messages": HELLO, "tools": []}), 422, "tools")
    _error(post(chat, {"model": "nope", "messages": HELLO}), 404, "model")
    _error(post(chat, {"messages": HELLO}), 422, "model")  # two models: say which
    long = _error(post(chat, {"model": "lm", "messages": [{"role": "user", "content": "word " * 600}]}), 422, "messages")
    assert "more than the" in long["message"]
    _error(post(comp, {"model": "lm", "prompt": "x", "max_tokens": 0}), 422, "max_tokens")
    _error(post(comp, {"model": "lm", "prompt": [1, 2, 10**9]}), 422, "prompt")
    _error(post(comp, {"model": "lm", "prompt": ["ok", [1, "x"]]}), 422, "prompt[1]")
    _error(post(comp, {"model": "lm", "prompt": ""}), 422, "prompt")
    _error(post(comp, {"model": "lm", "prompt": "x", "logprobs": 99}), 422, "logprobs")
    _error(post(comp, {"model": "lm"}), 422, "prompt")
    _error(c.post(comp, content=b'{"model": "lm", "prompt": '), 400)
    with pytest.raises(openai.UnprocessableEntityError, match="temperature"):
        client.chat.completions.create(model="lm", messages=HELLO, temperature=-1)
    assert client.chat.completions.create(model="lm", messages=HELLO, max_tokens=2).choices  # still serving


# -- load -----------------------------------------------------------------------------------
def _good_requests() -> list[tuple[str, dict]]:
    words = ["film", "rain", "cats", "music", "trains", "tea", "maps", "snow"]
    out = []
    for i, w in enumerate(words):
        out.append(("/v1/chat/completions", {"model": "lm", "messages": [{"role": "user", "content": f"Tell me about {w}."}],
                                             "temperature": 0, "max_tokens": 3 + i % 3}))
        out.append(("/v1/completions", {"model": "lm", "prompt": f"A story about {w}:", "temperature": 0, "max_tokens": 4,
                                        "logprobs": 1, "echo": i % 2 == 0}))
        out.append(("/v1/chat/completions", {"model": "lm", "messages": [{"role": "user", "content": f"{w}?"}],
                                             "temperature": 1.0, "seed": i, "max_tokens": 4}))
        out.append(("/v1/predict", {"model": "lm", "inputs": [{"text": f"I liked the {w}."}]}))
    return out


BAD = [("/v1/chat/completions", {"model": "lm", "messages": "hi"}),
       ("/v1/completions", {"model": "lm", "prompt": [1, -5]}),
       ("/v1/chat/completions", {"model": "lm", "messages": HELLO, "max_tokens": -1}),
       ("/v1/predict", {"model": "lm", "inputs": [{"txt": "typo"}]})]


def _answer(response) -> dict:
    body = response.json()
    for key in ("id", "created"):
        body.pop(key, None)
    return body


def _same(a, b) -> bool:
    """Equal, log-probabilities to 1e-4 (a row's float sums differ in the last digits when its
    batch is padded differently; the tokens and texts must not)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-4
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_load_500_requests_from_32_clients(lm_server):
    good = _good_requests()
    sequential = []
    for path, body in good:
        r = lm_server.client.post(path, json=body)
        assert r.status_code == 200, r.text
        sequential.append(_answer(r))
    tokens_before = sum(lm_server.metric("ptrun_tokens_generated_total").values())
    rng = random.Random(0)
    plan = [("bad", rng.randrange(len(BAD))) if k % 5 == 4 else ("good", rng.randrange(len(good))) for k in range(500)]
    local = {}

    def call(item):
        kind, i = item
        import threading

        c = local.setdefault(threading.get_ident(), httpx.Client(base_url=lm_server.url, timeout=120))
        path, body = (good if kind == "good" else BAD)[i]
        return c.post(path, json=body)

    start = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(call, plan))
    elapsed = time.monotonic() - start
    for c in local.values():
        c.close()
    generated = 0
    for (kind, i), r in zip(plan, responses):
        if kind == "good":
            assert r.status_code == 200, r.text
            assert _same(_answer(r), sequential[i]), (good[i], r.text, sequential[i])
            generated += r.json().get("usage", {}).get("completion_tokens", 0)
        else:
            _error(r, 422, r.json()["error"]["param"])
    assert sum(1 for k, _ in plan if k == "bad") == 100
    assert sum(lm_server.metric("ptrun_tokens_generated_total").values()) - tokens_before == generated > 0
    batches = lm_server.metric("ptrun_batch_requests_bucket")
    assert batches['{le="1.0",model="lm/generate"}'] < batches['{le="+Inf",model="lm/generate"}']  # batched
    print(f"500 requests from 32 clients in {elapsed:.1f} s")


# -- scale-out ------------------------------------------------------------------------------
def test_two_workers_share_the_port_and_answer_as_one_server(lm_server, tiny_llama, tmp_path):
    inputs = [{"text": f"Review number {i}: quite a good film."} for i in range(24)]
    expected = lm_server.predict(inputs, "lm").json()["predictions"]
    prompts = [f"Story {i}:" for i in range(8)]

    def complete(url, p):
        return httpx.post(url + "/v1/completions", json={"model": "lm", "prompt": p, "max_tokens": 4, "temperature": 0}, timeout=60)

    texts = [complete(lm_server.url, p).json()["choices"][0]["text"] for p in prompts]
    # Without OMP_NUM_THREADS (which this suite sets under xdist) each worker gets half the cores.
    server = Server(["--model", f"lm={tiny_llama}", "--task", "sentiment", "--workers", 2], tmp_path / "server.log",
                    env={"OMP_NUM_THREADS": None})
    try:
        ready, deadline = set(), time.monotonic() + 180
        while len(ready) < 2:  # each connection goes to one worker; wait until both are warm
            assert time.monotonic() < deadline and server.proc.poll() is None, server.log()
            try:
                r = httpx.get(server.url + "/ready", timeout=10)
                if r.status_code == 200:
                    ready.add(r.headers["x-ptrun-worker"])
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        assert server.proc.pid not in {int(p) for p in ready}  # workers, not the supervisor
        cores = len(os.sched_getaffinity(0))
        assert f"2 workers with {max(1, cores // 2)} torch thread(s) each" in server.log()

        def predict(i):  # a fresh connection per request, as from many clients
            return httpx.post(server.url + "/v1/predict", json={"model": "lm", "inputs": [inputs[i]]}, timeout=60)

        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(predict, range(len(inputs))))
            completions = list(pool.map(lambda p: complete(server.url, p), prompts))
        assert [r.json()["predictions"][0] | {"id": None} for r in got] == [e | {"id": None} for e in expected]
        assert [r.json()["choices"][0]["text"] for r in completions] == texts
        assert {r.headers["x-ptrun-worker"] for r in got + completions} == ready  # both answered
        threads = set()
        for _ in range(500):  # each worker says how many torch threads it runs
            r = httpx.get(server.url + "/health", timeout=10)
            threads.add((r.headers["x-ptrun-worker"], r.json()["torch_threads"]))
            if len(threads) == 2:
                break
        assert threads == {(w, max(1, cores // 2)) for w in ready}
        server.proc.terminate()
        assert server.proc.wait(60) == 0, server.log()
    finally:
        server.stop()


def test_a_merged_dialogue_run_loads_in_plain_transformers_with_its_chat_layout(client, dialogue_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ptrun.plugins.dialogue.chat import ChatSession

    _cli("export", dialogue_run, "--merge", "-o", tmp_path / "merged")
    folder = tmp_path / "merged" / "model"
    model, tok = AutoModelForCausalLM.from_pretrained(str(folder)).eval(), AutoTokenizer.from_pretrained(str(folder))
    # What vLLM's OpenAI server would render for these messages (the dialogue template's system text first).
    messages = [{"role": "system", "content": SYSTEM}, *HELLO]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert ids == ChatSession(str(dialogue_run)).prompt_ids(HELLO)
    served = client.chat.completions.create(model="dlg", messages=HELLO, temperature=0, max_tokens=12)
    assert _greedy((model, tok), ids, 12) == served.choices[0].message.content  # the adapter is in the weights
