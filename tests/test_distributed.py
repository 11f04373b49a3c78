"""Two processes on the CPU (torch.distributed, gloo) through the same `ptrun <task>` command."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from ptrun.run import folder as rundir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_only_the_main_process_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    rundir.write_json(tmp_path / "x.json", {"a": 1})
    assert not (tmp_path / "x.json").exists()
    assert rundir.prepare(tmp_path / "run", overwrite=False) == tmp_path / "run"
    assert not (tmp_path / "run").exists()
    monkeypatch.setenv("RANK", "0")
    rundir.write_json(tmp_path / "x.json", {"a": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}


def test_two_processes_train_their_own_shards_and_match_one_process(tiny_encoder, sentiment_files, tmp_path):
    common = ["sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
              "--model", tiny_encoder, "--epochs", "2", "--seed", "7"]
    one = subprocess.run([sys.executable, "-m", "ptrun.cli", *map(str, common), "--batch-size", "4",
                          "--output-dir", tmp_path / "one"], capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    # Two processes with 2 examples each make the same global batch of 4.
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(_free_port()), "-m", "ptrun.cli", *map(str, common), "--batch-size", "2",
         "--output-dir", tmp_path / "two"],
        capture_output=True, text=True, timeout=600,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    # 16 training examples: each process sees half of them, 4 batches of 2 per epoch.
    assert "process 0 of 2: 4 batches of its own shard per epoch" in two.stderr
    assert "process 1 of 2: 4 batches of its own shard per epoch" in two.stderr
    assert two.stdout.count("Run folder:") == 1  # the summary comes from rank 0 only (on stdout)
    m1 = json.loads((tmp_path / "one/metrics.json").read_text())
    m2 = json.loads((tmp_path / "two/metrics.json").read_text())
    assert m2["train"]["world_size"] == 2 and m1["train"]["world_size"] == 1
    assert m2["train"]["steps"] == m1["train"]["steps"] == 8
    # Tolerance: the two runs draw dropout masks differently; the loss agrees within 10%.
    assert abs(m2["train"]["train_loss"] - m1["train"]["train_loss"]) <= 0.1 * m1["train"]["train_loss"]
    assert (tmp_path / "two/model/model.safetensors").is_file()
    assert json.loads((tmp_path / "two/config.json").read_text())["status"] == "complete"
