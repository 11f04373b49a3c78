"""A task states which methods it supports: every unsupported task/method pair is refused before
anything is written (no run folder, no model loaded)."""

from __future__ import annotations

import pytest

from ptrun import registry

REFUSED = [
    ("ner", "prompt-tuning"),
    ("ner", "prefix-tuning"),
    ("ner", "p-tuning"),
    ("qa", "prompt-tuning"),
    ("qa", "p-tuning"),
]


@pytest.mark.parametrize("task, method", REFUSED)
def test_unsupported_method_is_refused_before_the_run_folder(cli, tiny_encoder, tmp_path, task, method):
    out = tmp_path / "run"
    result = cli(task, "--model", tiny_encoder, "--method", method, "--output-dir", out)
    assert result.exit_code == 1, result.output
    assert f"--method {method}: task '{task}' cannot use" in result.output
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize("task, method", REFUSED)
def test_the_task_says_why(task, method):
    assert registry.get_task(task).unsupported(method, "encoder")
    assert registry.get_task(task).unsupported(method, "causal-lm") is None  # a causal LM generates


def test_every_other_pair_is_accepted():
    for name, task in registry.tasks().items():
        for kind in task.model_kinds:
            for method in ("full", "lora", "adalora"):
                assert task.unsupported(method, kind) is None, (name, kind, method)


def test_a_task_without_a_peft_type_refuses_peft_methods():
    import ptrun

    class Plain(ptrun.Task):
        name = "plain"

    assert "does not support parameter-efficient methods" in Plain().unsupported("lora", "encoder")
    assert Plain().unsupported("full", "encoder") is None
    assert Plain().unsupported("lora", "causal-lm") is None  # a causal LM's peft type is CAUSAL_LM


def test_shots_on_an_encoder_are_refused_before_the_run_folder(cli, tiny_encoder, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--shots", "2", "--output-dir", out)
    assert result.exit_code == 1 and "--shots" in result.output and "causal language models" in result.output
    assert not out.exists()
