"""`ptrun predict MODEL FILE -o OUT.jsonl`: streaming prediction of a large file, keyed by id and
line, bad records, --resume after a SIGKILL, two processes under torchrun."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import ptrun
import pytest
from conftest import write
from ptrun.data.reading import iter_records, read_records

#: One torch thread here and in the processes the tests start: on a shared CPU, threads spinning
#: against other jobs' make the tiny model's forward passes 20x slower.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
WORDS = ["a", "wonderful", "moving", "film", "dull", "and", "far", "too", "long", "great", "bad", "boring", "funny", "sad"]


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _without_line(rows):
    return [{k: v for k, v in r.items() if k != "line"} for r in rows]


def _sentences(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(2, 14))) for _ in range(n)]


def _tsv(path, n, ids=True):
    rows = "".join((f"s{i}\t{t}\n" if ids else f"{t}\n") for i, t in enumerate(_sentences(n)))
    return write(path, ("id\ttext\n" if ids else "text\n") + rows)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name or p.name.endswith((".tmp", ".log", ".done")))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _env():
    return dict(os.environ, **ONE_THREAD)


@pytest.fixture(scope="module")
def sentiment_run(tiny_encoder, tmp_path_factory):
    """A sentiment run folder trained for one epoch on the tiny encoder."""
    tmp = tmp_path_factory.mktemp("predict-run")
    train = write(tmp / "train.tsv", "text\tlabel\n" + "".join(
        f"{t}\t{'positive' if i % 2 else 'negative'}\n" for i, t in enumerate(_sentences(24, seed=1))))
    proc = subprocess.run([sys.executable, "-m", "ptrun.cli", "sentiment", "--model", str(tiny_encoder), "--train",
                           str(train), "--epochs", "1", "--output-dir", str(tmp / "run")],
                          capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    return tmp / "run"


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return _tsv(tmp_path_factory.mktemp("predict-data") / "big.tsv", 3000)


# --------------------------------------------------------------------------- reading lazily
def test_line_readers_stream_and_read_records_keeps_its_errors(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "one"}\n\n{"text": "two"}\nnot json\n')
    items = iter_records(path, "jsonl")
    first = next(items)  # yielded before the bad line 4 is read
    assert (first.fields, first.line) == ({"text": "one"}, 1)
    assert next(items).line == 3
    with pytest.raises(ptrun.DataError, match="invalid JSON") as info:
        next(items)
    assert info.value.line == 4
    with pytest.raises(ptrun.DataError, match="invalid JSON"):
        read_records(path, "jsonl")
    skipped = list(iter_records(path, "jsonl", skip_bad=True))
    assert [type(i).__name__ for i in skipped] == ["Record", "Record", "DataError"]
    assert skipped[2].raw == "not json" and skipped[2].line == 4
    assert isinstance(read_records(write(tmp_path / "b.tsv", "text\nfine\n"), "tsv"), list)
    with pytest.raises(ptrun.DataError, match="holds no examples"):
        list(iter_records(write(tmp_path / "c.tsv", "text\n"), "tsv"))
    conll = write(tmp_path / "d.txt", "Anna B-PER\n\nSven X-PER\nBerg O\n\nOslo B-LOC\n")
    got = list(iter_records(conll, "conll", skip_bad=True))
    assert [getattr(i, "line", None) for i in got] == [1, 3, 6]
    assert isinstance(got[1], ptrun.DataError) and got[1].raw == "Sven X-PER\nBerg O"
    assert got[2].fields == {"tokens": ["Oslo"], "tags": ["B-LOC"], "doc": 0}  # doc: the -DOCSTART- document


# --------------------------------------------------------------------------- predictions
def test_predictions_equal_eval_only_predict_jsonl(cli, sentiment_run, tmp_path):
    data = _tsv(tmp_path / "in.tsv", 150)
    ev = tmp_path / "ev"
    assert cli("sentiment", "--model", sentiment_run, "--eval-only", "--predict", data, "--output-dir", ev).exit_code == 0
    out = tmp_path / "out.jsonl"
    result = cli("predict", sentiment_run, data, "-o", out, "--chunk-size", "16", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    rows = _lines(out)
    assert _without_line(rows) == _lines(ev / "predictions" / "predict.jsonl")  # same records, same order
    assert "examples: 150  rejects: 0" in result.stdout and "examples/s:" in result.stdout
    assert _leftovers(tmp_path) == []


def test_output_keyed_by_id_and_source_line(cli, tiny_encoder, tmp_path):
    data = write(tmp_path / "feed.jsonl", '{"id": "a", "text": "great film"}\n\n{"text": "dull"}\n'
                 '{"id": 7, "text": "far too long", "label": "negative"}\n')
    out = tmp_path / "feed.out.jsonl"
    result = cli("predict", tiny_encoder, data, "-o", out, "--task", "sentiment", "--template", "none")
    assert result.exit_code == 0, result.output
    rows = _lines(out)
    assert [(r["id"], r["line"]) for r in rows] == [("a", 1), ("feed-3", 3), ("7", 4)]
    assert list(rows[0])[:2] == ["id", "line"] and rows[0]["text"] == "great film"
    assert all(r["prediction"] in ("negative", "positive") for r in rows)
    assert rows[2]["reference"] == "negative"  # a labelled input keeps its label, as --predict does
    whole = write(tmp_path / "doc.json", json.dumps({"examples": [{"text": "fine"}, {"id": "b", "text": "dull"}]}))
    assert cli("predict", tiny_encoder, whole, "-o", out, "--task", "sentiment", "--template", "none").exit_code == 0
    assert [(r["id"], r["line"]) for r in _lines(out)] == [("doc-1", 1), ("b", 2)]  # JSON: the item number
    result = cli("predict", tiny_encoder, data, "-o", out)
    assert result.exit_code == 1 and "--task" in result.output


def test_conll_input_as_eval_only_predicts(cli, tiny_encoder, ner_files, tmp_path):
    run = tmp_path / "ner-run"
    assert cli("ner", "--model", tiny_encoder, "--train", ner_files["train"], "--epochs", "1",
               "--output-dir", run).exit_code == 0
    sentences = ["Anna lives in Oslo .", "Tom hired Acme Corp", "It rained"]  # tokens only: no tags
    untagged = write(tmp_path / "untagged.txt", "-DOCSTART-\n\n" + "\n\n\n".join(s.replace(" ", "\n") for s in sentences) + "\n")
    ev = tmp_path / "ev"
    result = cli("ner", "--model", run, "--eval-only", "--predict", untagged, "--output-dir", ev)
    assert result.exit_code == 0, result.output
    out = tmp_path / "tags.jsonl"
    result = cli("predict", run, untagged, "-o", out, "--chunk-size", "2")
    assert result.exit_code == 0, result.output
    rows = _lines(out)
    assert [r["line"] for r in rows] == [3, 10, 16]  # each sentence's first line
    assert [len(r["prediction"]) for r in rows] == [5, 4, 2]
    assert _without_line(rows) == _lines(ev / "predictions" / "predict.jsonl")


# --------------------------------------------------------------------------- bad records
def test_bad_line_is_an_error_naming_file_and_line(cli, sentiment_run, tmp_path):
    data = write(tmp_path / "in.tsv", "id\ttext\nx1\tgood film\nx2\tone\ttoo many\nx3\tfine\n")
    out = tmp_path / "out.jsonl"
    result = cli("predict", sentiment_run, data, "-o", out)
    assert result.exit_code == 1
    assert f"{data}:3: expected 2 columns" in result.output and "--skip-bad" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tsv"]  # nothing written
    missing = write(tmp_path / "m.jsonl", '{"text": "ok"}\n{"txt": "typo"}\n')
    result = cli("predict", sentiment_run, missing, "-o", out)
    assert result.exit_code == 1 and f"{missing}:2: missing text" in result.output
    assert not out.exists()


def test_skip_bad_writes_rejects_and_counts_them(cli, sentiment_run, tiny_encoder, tmp_path):
    data = write(tmp_path / "in.jsonl", '{"text": "good film"}\n{"text": "bad\n{"txt": "typo"}\n[1, 2]\n{"text": "fine"}\n')
    out = tmp_path / "in.out.jsonl"
    result = cli("predict", sentiment_run, data, "-o", out, "--skip-bad", "--chunk-size", "2")
    assert result.exit_code == 0, result.output
    assert [r["line"] for r in _lines(out)] == [1, 5]
    rejects = _lines(tmp_path / "in.out.rejects.jsonl")
    assert [r["line"] for r in rejects] == [2, 3, 4]
    assert rejects[0]["raw"] == '{"text": "bad' and f"{data}:2: invalid JSON" in rejects[0]["error"]
    assert rejects[1]["fields"] == {"txt": "typo"} and "missing text" in rejects[1]["error"]
    assert rejects[2]["raw"] == "[1, 2]" and "expected a JSON object" in rejects[2]["error"]
    assert "examples: 2  rejects: 3" in result.stdout
    assert _leftovers(tmp_path) == []
    conll = write(tmp_path / "s.txt", "Anna\nBerg\n\nSven X-PER\n\nOslo\n")
    out = tmp_path / "s.jsonl"
    result = cli("predict", tiny_encoder, conll, "-o", out, "--task", "ner", "--skip-bad")
    assert result.exit_code == 0, result.output
    assert [r["line"] for r in _lines(out)] == [1, 6]
    (bad,) = _lines(tmp_path / "s.rejects.jsonl")
    assert bad["line"] == 4 and "'X-PER' is not a BIO tag" in bad["error"] and bad["raw"] == "Sven X-PER"


def test_a_record_the_model_cannot_take_is_rejected_or_stops_with_a_resumable_partial(cli, tiny_llama, tmp_path):
    texts = [f"film number {i} was great" for i in range(40)]
    data = write(tmp_path / "in.tsv", "text\n" + "\n".join([*texts, "word " * 600, "the end"]) + "\n")
    args = ["predict", tiny_llama, data, "--task", "sentiment", "--chunk-size", "16", "--max-length", "256"]
    result = cli(*args, "-o", tmp_path / "skip.jsonl", "--skip-bad")
    assert result.exit_code == 0, result.output
    assert len(_lines(tmp_path / "skip.jsonl")) == 41 and "rejects: 1" in result.stdout
    (bad,) = _lines(tmp_path / "skip.rejects.jsonl")
    assert bad["line"] == 42 and "606 tokens" in bad["error"] and bad["fields"]["text"].startswith("word word")

    out = tmp_path / "out.jsonl"
    result = cli(*args, "-o", out)
    assert result.exit_code == 1 and f"{data}:42: the prompt of example in-42 is 606 tokens" in result.output
    assert "32 predictions written so far" in result.output and not out.exists()
    lines = data.read_text().splitlines()
    data.write_text("\n".join([*lines[:41], "too long, so cut", *lines[42:]]) + "\n")  # fix the line, resume
    resumed = cli(*args, "-o", out, "--resume")
    assert resumed.exit_code == 0 and "examples: 42 (32 by the earlier run)" in resumed.stdout
    fresh = tmp_path / "fresh.jsonl"
    assert cli(*args, "-o", fresh).exit_code == 0
    assert out.read_text() == fresh.read_text() and len(_lines(out)) == 42


# --------------------------------------------------------------------------- resume
def test_resume_after_sigkill_equals_an_uninterrupted_run(cli, sentiment_run, big_file, tmp_path):
    args = ["predict", str(sentiment_run), str(big_file), "--chunk-size", "16", "--batch-size", "8"]
    whole = tmp_path / "whole.jsonl"
    assert cli(*args, "-o", whole).exit_code == 0

    out = tmp_path / "out.jsonl"
    journal = tmp_path / "out.jsonl.partial.log"
    child = subprocess.Popen([sys.executable, "-m", "ptrun.cli", *args, "-o", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    deadline = time.time() + 300
    while not (journal.is_file() and journal.read_text().count("\n") >= 6):  # settings + 5 chunks
        assert child.poll() is None, "ptrun predict ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not out.exists()  # never a half-written OUT.jsonl
    partial = tmp_path / "out.jsonl.partial"
    done = partial.read_text().count("\n")
    assert 0 < done < 3000
    with open(partial, "a") as f:  # what a kill in mid-write leaves: a torn last line
        f.write('{"id": "s99", "li')
    with open(journal, "a") as f:
        f.write('{"chunk": 9')

    changed = cli(*args[:-4], "--chunk-size", "32", "--batch-size", "8", "-o", out, "--resume")
    assert changed.exit_code == 1 and "chunk_size: 16 -> 32" in changed.output
    result = cli(*args, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert out.read_text() == whole.read_text()  # line by line: no duplicates, no gaps
    assert "examples: 3000 (" in result.stdout and "by the earlier run" in result.stdout
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- torchrun
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_shard_and_rank0_merges_in_input_order(cli, sentiment_run, tmp_path):
    data = write(tmp_path / "in.jsonl", "".join(
        json.dumps({"text": t}) + "\n" if i != 70 else "{oops\n" for i, t in enumerate(_sentences(300))))
    args = ["predict", str(sentiment_run), str(data), "--chunk-size", "16", "--skip-bad"]
    one = tmp_path / "one.jsonl"
    assert cli(*args, "-o", one).exit_code == 0
    two = tmp_path / "two.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(_free_port()), "-m", "ptrun.cli", *args, "-o", str(two)],
        capture_output=True, text=True, timeout=600, env=_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert two.read_text() == one.read_text()
    assert _lines(tmp_path / "two.rejects.jsonl") == _lines(tmp_path / "one.rejects.jsonl")
    assert [r["line"] for r in _lines(tmp_path / "two.rejects.jsonl")] == [71]
    assert proc.stdout.count("examples: 299  rejects: 1") == 1  # the summary comes from rank 0 only
    assert "Merged the shards of 2 processes (19 chunks)" in proc.stderr
    assert _leftovers(tmp_path) == []


def test_rank0_waits_bounded_and_ignores_markers_of_earlier_runs(tmp_path):
    from ptrun.deploy.shards import Shard, wait_for_shards

    other = Shard(tmp_path / "out.jsonl", rank=1, world_size=2)
    assert other.data.name == "out.jsonl.part-1" and other.rejects.name == "out.rejects.jsonl.part-1"
    other.start({"chunk_size": 4})
    other.finish(started=0)  # a marker an earlier run left
    since = time.time() + 1
    with pytest.raises(ptrun.PtrunError, match="did not finish within 0.3 s") as info:
        wait_for_shards([other], since=since, timeout=0.3, poll=0.05)
    assert "--resume" in info.value.format()
    write(other.failed, json.dumps({"rank": 1, "error": "out of memory", "finished": since + 1}))  # this run's
    with pytest.raises(ptrun.PtrunError, match="process 1 failed: out of memory"):
        wait_for_shards([other], since=since, timeout=5, poll=0.05)
