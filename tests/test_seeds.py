"""The few-shot protocol: --k-per-class draws, --seeds runs and their summary."""

from __future__ import annotations

import json
import statistics

import pytest

from conftest import read_metrics, write


def _examples(task_name, path):
    from ptrun import registry

    task = registry.get_task(task_name)
    return task, task.read(path)


def test_k_per_class_draws_k_of_each_label_seeded(tmp_path):
    from ptrun.run.seeds import draw_k_per_class

    path = write(tmp_path / "train.tsv", "text\tlabel\n" + "".join(
        f"text {i}\t{'positive' if i % 3 else 'negative'}\n" for i in range(30)))
    task, examples = _examples("sentiment", path)
    drawn = draw_k_per_class(task, examples, 4, seed=13)
    labels = [ex.fields["label"] for ex in drawn]
    assert labels.count("positive") == 4 and labels.count("negative") == 4
    assert [ex.id for ex in draw_k_per_class(task, examples, 4, seed=13)] == [ex.id for ex in drawn]
    assert [ex.id for ex in draw_k_per_class(task, examples, 4, seed=21)] != [ex.id for ex in drawn]
    ids = [ex.id for ex in examples]
    assert [ids.index(ex.id) for ex in drawn] == sorted(ids.index(ex.id) for ex in drawn)  # file order kept


def test_k_per_class_larger_than_a_label_is_a_clear_error(cli, tiny_encoder, tmp_path):
    train = write(tmp_path / "train.tsv", "text\tlabel\n" + "good\tpositive\n" * 5 + "bad\tnegative\n" * 2)
    result = cli("sentiment", "--train", train, "--model", tiny_encoder, "--k-per-class", "3",
                 "--output-dir", tmp_path / "run")
    assert result.exit_code == 1
    assert "--k-per-class 3" in result.output and "'negative' has 2" in result.output and str(train) in result.output
    assert not (tmp_path / "run").exists()


def test_k_per_class_refuses_examples_with_several_labels(cli, tiny_encoder, ner_files, tmp_path):
    result = cli("ner", "--train", ner_files["train"], "--model", tiny_encoder, "--k-per-class", "2",
                 "--output-dir", tmp_path / "run")
    assert result.exit_code == 1 and "one label per example" in result.output and "--limit-train" in result.output


def test_seeds_run_once_per_seed_and_summarise(cli, tiny_encoder, tmp_path):
    rows = "".join(f"{w} film number {i}\t{lab}\n" for i in range(8) for w, lab in (("wonderful", "positive"), ("dull", "negative")))
    train = write(tmp_path / "train.tsv", "text\tlabel\n" + rows)
    test = write(tmp_path / "test.tsv", "text\tlabel\n" + "wonderful\tpositive\ndull\tnegative\n" * 3)
    out = tmp_path / "fewshot"
    result = cli("sentiment", "--train", train, "--validation", test, "--test", test, "--model", tiny_encoder,
                 "--k-per-class", "3", "--seeds", "13,21,42", "--epochs", "1", "--batch-size", "2", "--lr", "5e-3",
                 "--output-dir", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [13, 21, 42] and summary["main_metric"] == "accuracy"
    per_seed = {}
    for seed in (13, 21, 42):
        run = out / f"seed-{seed}"
        config = json.loads((run / "config.json").read_text())
        assert config["status"] == "complete" and config["config"]["seed"] == seed and config["examples"]["train"] == 6
        assert config["config"]["seeds"] == []
        per_seed[seed] = read_metrics(run)
    draws = {seed: json.dumps(per_seed[seed]["train"]["train_loss"]) for seed in per_seed}
    assert len(set(draws.values())) == 3  # each seed trained on its own draw and order
    for split in ("validation", "test"):
        for key in ("accuracy", "macro_f1"):
            values = [per_seed[s][split][key] for s in (13, 21, 42)]
            stats = summary["metrics"][split][key]
            assert stats["values"] == values
            assert stats["mean"] == pytest.approx(statistics.fmean(values))
            assert stats["std"] == pytest.approx(statistics.stdev(values))
    assert summary["metrics"]["train"]["train_loss"]["values"] == [per_seed[s]["train"]["train_loss"] for s in (13, 21, 42)]
    acc = summary["metrics"]["test"]["accuracy"]
    assert f"{acc['mean']:.4f} ± {acc['std']:.4f}" in result.output
    assert (out / "seeds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seeds_folder_is_not_clobbered(cli, tiny_encoder, sentiment_files, tmp_path):
    out = tmp_path / "fewshot"
    write(out / "notes.txt", "mine")
    args = ["sentiment", "--train", sentiment_files["train"], "--model", tiny_encoder, "--seeds", "1,2", "--output-dir", out]
    result = cli(*args)
    assert result.exit_code == 1 and "already exists" in result.output
    result = cli(*args, "--overwrite")
    assert result.exit_code == 1 and "does not look like a ptrun --seeds folder" in result.output
    assert (out / "notes.txt").read_text() == "mine"
    result = cli("sentiment", "--seeds", "1,x", "--output-dir", out)
    assert result.exit_code == 2 and "'x' is not an integer seed" in result.output


def test_run_seeds_is_a_function_returning_the_summary(tiny_encoder, sentiment_files, tmp_path):
    from ptrun.config import RunConfig
    from ptrun.run.seeds import run_seeds

    cfg = RunConfig(task="sentiment", model=str(tiny_encoder), train=str(sentiment_files["train"]),
                    validation=str(sentiment_files["dev"]), max_steps=2, batch_size=4, output_dir=str(tmp_path / "s"))
    summary = run_seeds(cfg, [5, 6])
    assert summary == json.loads((tmp_path / "s" / "summary.json").read_text())
    assert set(summary["metrics"]) == {"validation", "train"}
    assert len(summary["metrics"]["validation"]["accuracy"]["values"]) == 2
