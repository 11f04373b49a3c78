"""Files as users have them: BOMs, CRLF, UTF-16/32, Latin-1, binary, long lines; one run folder
written by one process at a time; files written with the user's umask."""

from __future__ import annotations

import codecs
import os
import stat
import subprocess
import sys
import time

import pytest

import ptrun
from ptrun import registry

TSV = "text\tlabel\nfine film\tpositive\nbad film\tnegative\n"
CONLL = "Anna B-PER\nlives O\n\nOslo B-LOC\n"
JSONL = '{"text": "fine film", "label": "positive"}\n{"text": "bad film", "label": "negative"}\n'
DIALOG = "Hi , how are you ? __eou__ Fine , thanks . __eou__\n"
SQUAD = '{"data": [{"title": "T", "paragraphs": [{"context": "Oslo is big.", "qas": [{"id": "q1", "question": "What?", "answers": [{"text": "Oslo", "answer_start": 0}]}]}]}]}'

# (task, file name, text, what the task's records must hold)
CASES = [
    ("sentiment", "d.tsv", TSV, lambda exs: [e.fields["text"] for e in exs] == ["fine film", "bad film"]),
    ("sentiment", "d.csv", TSV.replace("\t", ","), lambda exs: [e.fields["text"] for e in exs] == ["fine film", "bad film"]),
    ("sentiment", "d.jsonl", JSONL, lambda exs: exs[1].fields["text"] == "bad film"),
    ("sentiment", "d.json", "[" + JSONL.strip().replace("\n", ",\n") + "]", lambda exs: exs[0].fields["text"] == "fine film"),
    ("ner", "d.txt", CONLL, lambda exs: [e.fields["tokens"] for e in exs] == [["Anna", "lives"], ["Oslo"]]),
    ("dialogue", "d.txt", DIALOG, lambda exs: len(exs) == 1),
    ("qa", "d.json", SQUAD, lambda exs: exs[0].fields["context"] == "Oslo is big."),
]


def _read(task, path):
    return registry.get_task(task).read(path)


@pytest.mark.parametrize("task, name, text, check", CASES, ids=[c[1] + "-" + c[0] for c in CASES])
@pytest.mark.parametrize(
    "encoding, bom, newline",
    [("utf-8", b"", "\n"), ("utf-8", codecs.BOM_UTF8, "\r\n"), ("utf-16-le", codecs.BOM_UTF16_LE, "\r\n"),
     ("utf-16-be", codecs.BOM_UTF16_BE, "\n"), ("utf-32-le", codecs.BOM_UTF32_LE, "\n"), ("utf-32-be", codecs.BOM_UTF32_BE, "\r\n")],
    ids=["utf8", "utf8-bom-crlf", "utf16le-crlf", "utf16be", "utf32le", "utf32be-crlf"],
)
def test_every_reader_reads_utf8_and_bom_declared_encodings(tmp_path, task, name, text, check, encoding, bom, newline):
    path = tmp_path / name
    path.write_bytes(bom + text.replace("\n", newline).encode(encoding))
    examples = _read(task, path)
    assert check(examples), [e.fields for e in examples]
    assert all("\r" not in str(v) for e in examples for v in e.fields.values())


@pytest.mark.parametrize("task, name, text", [(t, n, x) for t, n, x, _ in CASES], ids=[c[1] + "-" + c[0] for c in CASES])
def test_latin1_is_refused_with_line_offset_and_iconv(tmp_path, task, name, text):
    lines = text.split("\n")
    # The bad byte goes into the second line (the JSON documents are one line: their first).
    where = 1 if len(lines) > 2 else 0
    lines[where] = lines[where][:1] + "\xe9" + lines[where][1:]  # é in Latin-1: one byte, 0xe9
    data = "\n".join(lines).encode("latin-1")
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ptrun.DataError) as info:
        _read(task, path)
    message = str(info.value)
    offset = data.index(b"\xe9")
    assert message.startswith(f"{path}:{where + 1}: the file is not UTF-8: byte 0xe9"), message
    assert f"byte offset {offset}" in message and "iconv -f latin1 -t utf-8" in message


@pytest.mark.parametrize("task, name", [("sentiment", "d.tsv"), ("sentiment", "d.jsonl"), ("ner", "d.txt"),
                                        ("dialogue", "d.txt"), ("qa", "d.json")])
def test_binary_files_are_refused(tmp_path, task, name):
    path = tmp_path / name
    path.write_bytes(b"text\tlabel\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ptrun.DataError) as info:
        _read(task, path)
    assert "binary file" in str(info.value) and str(path) in str(info.value) and "byte offset 19" in str(info.value)


def test_utf16_without_bom_is_called_binary_with_the_fix(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_bytes(TSV.encode("utf-16-le"))
    with pytest.raises(ptrun.DataError) as info:
        _read("sentiment", path)
    assert f"{path}:1: this is a binary file" in str(info.value) and "byte-order mark" in str(info.value)


@pytest.mark.parametrize("name", ["d.tsv", "d.csv", "d.jsonl", "d.txt"])
def test_a_line_longer_than_the_limit_is_refused_by_file_and_line(tmp_path, name):
    task = "ner" if name.endswith(".txt") else "sentiment"
    long_text = "word " * 250_000  # 1.25 MB, over the 1 MiB line limit
    body = {
        "d.tsv": f"text\tlabel\nok\tpositive\n{long_text}\tpositive\n",
        "d.csv": f"text,label\nok,positive\n{long_text},positive\n",
        "d.jsonl": '{"text": "ok", "label": "positive"}\n\n{"text": "' + long_text + '", "label": "positive"}\n',
        "d.txt": "Anna B-PER\n\n" + long_text.replace(" ", "_") + " O\n",
    }[name]
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ptrun.DataError) as info:
        _read(task, path)
    assert str(info.value).startswith(f"{path}:3: the line is longer than 1,048,576 bytes"), str(info.value)


def test_a_csv_field_over_the_csv_modules_default_limit_is_read(tmp_path):
    path = tmp_path / "d.csv"
    text = "x" * 200_000  # the csv module's own limit is 131,072 characters
    path.write_text(f'text,label\n"{text}",positive\n', encoding="utf-8")
    assert _read("sentiment", path)[0].fields["text"] == text


def test_a_csv_error_names_the_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\nok,positive\n"a"b\r"c,positive\n', encoding="utf-8")
    with pytest.raises(ptrun.DataError) as info:
        _read("sentiment", path)
    assert str(info.value).startswith(f"{path}:3: this line cannot be read as CSV"), str(info.value)


def test_a_folder_is_not_a_data_file(tmp_path):
    with pytest.raises(ptrun.DataError) as info:
        ptrun.read_text(tmp_path)
    assert "is a folder" in str(info.value) or "folder, not a data file" in str(info.value)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_run_files_follow_the_umask(cli, tiny_encoder, tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        out = tmp_path / "run"
        result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--limit-eval", 2, "--output-dir", out)
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    for name in ("config.json", "metrics.json", "label_map.json", "report.md", "predictions/test.jsonl"):
        assert stat.S_IMODE((out / name).stat().st_mode) == mode, name


HOLD = """
import sys, time
from ptrun.run import folder
folder.prepare(sys.argv[1], overwrite=False)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_process_writing_the_same_run_folder_is_refused(cli, tiny_encoder, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--limit-eval", 2, "--output-dir", out, "--overwrite")
        assert result.exit_code == 1
        assert f"Another ptrun process (pid {holder.pid}) is writing the run folder {out}" in result.output
        assert (out / ".lock").is_file() and not (out / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder died: its lock went with it, and the leftover .lock file blocks nothing.
    time.sleep(0.1)
    result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--limit-eval", 2, "--output-dir", out)
    assert result.exit_code == 0, result.output
    assert (out / "config.json").is_file()
