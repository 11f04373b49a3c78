"""Config files: ``ptrun TASK --config FILE``, ``--print-config``, run-folder replay, from_mapping."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import read_metrics, write


def _printed(result) -> dict:
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.output)


def test_config_file_sets_options_and_the_command_line_overrides_it(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "run.yaml", "epochs: 2\nbatch-size: 4\nlora_r: 4\nlr: 5e-5\ntemplate-dir: [tpl]\n"
                   "group_by_length: false\nseeds: [13, 21]\n")
    printed = _printed(cli("sentiment", "--config", config, "--print-config"))
    assert printed["epochs"] == 2 and printed["batch_size"] == 4 and printed["lora_r"] == 4
    assert printed["lr"] == 5e-5 and printed["template_dirs"] == ["tpl"] and printed["group_by_length"] is False
    assert printed["seeds"] == [13, 21] and printed["task"] == "sentiment"
    # Given on the command line wins, even when it spells out the default (16): ParameterSource, not value.
    printed = _printed(cli("sentiment", "--config", config, "--batch-size", "16", "--lora-r", "9", "--print-config"))
    assert printed["batch_size"] == 16 and printed["lora_r"] == 9 and printed["epochs"] == 2
    assert list(tmp_path.iterdir()) == [config]  # --print-config creates nothing


def test_print_config_is_resolved_and_reads_back(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = cli("ner", "--method", "lora", "--print-config")
    values = _printed(printed)
    assert values["epochs"] == 3 and values["lr"] == 2e-3  # the task's epochs, LoRA's learning rate
    assert values["model"] == "minilm"
    saved = write(tmp_path / "resolved.yaml", printed.output)
    assert cli("ner", "--config", saved, "--print-config").output == printed.output


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ("epochs: 2\n\nbatchsize: 4\n", ".yaml", [":3: batchsize: unknown option", "Did you mean 'batch_size'"]),
        ("epochs: two\n", ".yml", [":1: epochs: expected a number, got \"two\""]),
        ("epochs: 1\nbatch_size: 2.5\n", ".yaml", [":2: batch_size: expected a whole number"]),
        ("method: lorax\n", ".yaml", [":1: method: 'lorax' is not one of 'full'"]),
        ("warmup-ratio: 1.5\n", ".yaml", [":1: warmup-ratio: 1.5 is not in the range 0<=x<1"]),
        ("load_best: yes please\n", ".yaml", [":1: load_best: expected true or false"]),
        ("epochs: [2\n", ".yaml", [":2: not valid YAML"]),
        ("epochs: 1\nepochs: 2\n", ".yaml", [":2: epochs: given twice (also on line 1)"]),
        ("task: ner\n", ".yaml", [":1: task: this configuration is for task 'ner'"]),
        ('{\n  "epochs": 1,\n  "lora-r": 0\n}\n', ".json", [":3: lora-r: 0 is not in the range x>=1"]),
        ('{\n  "epochs": 1,\n}\n', ".json", [":3: not valid JSON"]),
        ("- epochs\n", ".yaml", [":1: a config file is a mapping"]),
    ],
)
def test_bad_config_files_name_the_file_line_and_key(cli, tmp_path, text, suffix, expected):
    config = write(tmp_path / f"bad{suffix}", text)
    result = cli("sentiment", "--config", config, "--output-dir", tmp_path / "run")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "Internal error" not in result.output
    located, *rest = expected
    assert f"Error: {config}{located}" in result.output, result.output  # file:line: key: problem
    assert all(part in result.output for part in rest), result.output
    assert not (tmp_path / "run").exists()


def test_a_run_folders_config_replays_the_run(cli, tiny_encoder, sentiment_files, tmp_path):
    first = tmp_path / "first"
    result = cli("sentiment", "--train", sentiment_files["train"], "--validation", sentiment_files["dev"],
                 "--test", sentiment_files["test"], "--model", tiny_encoder, "--epochs", "2", "--lr", "2e-3",
                 "--batch-size", "4", "--weight-decay", "0.01", "--warmup-steps", "1", "--seed", "7",
                 "--output-dir", first)
    assert result.exit_code == 0, result.output
    again = tmp_path / "again"
    result = cli("sentiment", "--config", first / "config.json", "--output-dir", again)
    assert result.exit_code == 0, result.output
    replayed = json.loads((again / "config.json").read_text())["config"]
    original = json.loads((first / "config.json").read_text())["config"]
    assert {k: v for k, v in replayed.items() if k != "output_dir"} == {k: v for k, v in original.items() if k != "output_dir"}
    for split in ("validation", "test"):
        assert read_metrics(again)[split] == read_metrics(first)[split]
    assert read_metrics(again)["train"]["train_loss"] == read_metrics(first)["train"]["train_loss"]


def test_a_replay_without_output_dir_does_not_touch_the_original(cli, tmp_path, monkeypatch):
    """The run folder's own output_dir/overwrite/resume are not replayed."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "old"
    config = {"ptrun_version": "0.1.0", "task": "sentiment",
              "config": {"task": "sentiment", "output_dir": str(run), "overwrite": True, "resume": True, "epochs": 4.0}}
    write(run / "config.json", json.dumps(config, indent=2))
    values = _printed(cli("sentiment", "--config", run / "config.json", "--print-config"))
    assert values["output_dir"] is None and values["overwrite"] is False and values["resume"] is False
    assert values["epochs"] == 4.0


def test_from_mapping_checks_like_the_command_line():
    from ptrun.config import RunConfig, from_mapping
    from ptrun.errors import PtrunError

    cfg = from_mapping("sentiment", {"lora-r": 4, "epochs": 2, "lr_scheduler": "cosine", "seeds": "1,2"}, source="space.yaml")
    assert isinstance(cfg, RunConfig) and cfg.task == "sentiment"
    assert (cfg.lora_r, cfg.epochs, cfg.lr_scheduler, cfg.seeds) == (4, 2.0, "cosine", (1, 2))
    assert cfg.batch_size == RunConfig().batch_size
    with pytest.raises(PtrunError, match=r"trial 3: lr_scheduler: 'cosin' is not one of"):
        from_mapping("sentiment", {"lr_scheduler": "cosin"}, source="trial 3")
    with pytest.raises(PtrunError, match=r"trial 3: seeds: .*repeat"):
        from_mapping("sentiment", {"seeds": [1, 1]}, source="trial 3")
