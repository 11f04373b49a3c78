"""Options refused before anything is written, files written with the user's umask, and
messages that point the right way."""

from __future__ import annotations

import os
import stat

import pytest

from conftest import write


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--lr", "-1", "--lr -1.0: must be a finite number above 0"),
        ("--lr", "nan", "--lr nan: must be a finite number above 0"),
        ("--epochs", "inf", "--epochs inf: must be a finite number above 0"),
        ("--epochs", "0", "--eval-only"),
        ("--max-length", "100000", "more than the 128 positions"),
    ],
)
def test_bad_numbers_are_refused_before_the_run_folder(cli, tiny_encoder, tmp_path, option, value, message):
    out = tmp_path / "run"
    result = cli("sentiment", "--model", tiny_encoder, option, value, "--output-dir", out)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_run_files_follow_the_umask(cli, tiny_encoder, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--limit-eval", 4, "--output-dir", out)
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    for name in ("config.json", "metrics.json", "label_map.json", "report.md", "predictions/test.jsonl"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_an_output_dir_that_is_a_file_is_called_a_file(cli, tiny_encoder, tmp_path):
    target = write(tmp_path / "taken", "not a folder")
    result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--output-dir", target)
    assert result.exit_code == 1 and "is a file, not a folder" in result.output
    assert target.read_text() == "not a folder"


@pytest.mark.parametrize("line, state", [('{"text": null, "label": "positive"}', "null"), ('{"text": "", "label": "positive"}', "empty")])
def test_a_null_or_empty_text_is_called_that(tmp_path, line, state):
    import ptrun
    from ptrun import registry

    path = write(tmp_path / "d.jsonl", line + "\n")
    with pytest.raises(ptrun.DataError) as info:
        registry.get_task("sentiment").read(path)
    assert str(info.value).startswith(f"{path}:1: the text is {state} (field 'text')")
