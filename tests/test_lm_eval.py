"""lm-evaluation-harness against ``ptrun serve``: its ``local-completions`` model runs a tiny
multiple-choice task (a YAML task and a JSONL file written here, nothing from the hub) through
``/v1/completions`` (echo + logprobs), and gets ptrun's own accuracy and answer scores.

lm-eval (``lm-eval`` on PyPI, in the test extra) is skipped with a reason when it is absent.
It runs offline: HF_HUB_OFFLINE, HF_DATASETS_OFFLINE, the tokenizer from a local folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from test_serve import SENTIMENT_TEST, Server
from test_serve_openai import tiny_llama  # noqa: F401  (the fixture: a tiny Llama whose scores vary)

LM_EVAL = shutil.which("lm_eval") or shutil.which("lm-eval")
pytestmark = pytest.mark.skipif(
    LM_EVAL is None, reason="lm-eval is not installed (pip install 'lm-eval[api]>=0.4,<0.5', part of ptrun[test])")

TASK_YAML = """\
task: ptrun_tiny_sentiment
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Review: {{{{text}}}}\\nSentiment:"
doc_to_choice: ["negative", "positive"]
doc_to_target: "{{{{ ['negative', 'positive'].index(label) }}}}"
metric_list:
  - metric: acc
"""


def test_lm_eval_local_completions_matches_ptrun_scoring(tiny_llama, tmp_path):  # noqa: F811
    import ptrun

    lines = SENTIMENT_TEST.read_text(encoding="utf-8").splitlines()[1:41]
    docs = [dict(zip(("text", "label"), line.split("\t"))) for line in lines]
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tiny.yaml").write_text(TASK_YAML.format(data=data), encoding="utf-8")

    # ptrun's own scoring: the sentiment task's default template ("Review: ...\nSentiment:" and
    # " negative"/" positive"), answer choices ranked by summed log-probability.
    predictor = ptrun.load(str(tiny_llama), "sentiment")
    examples = predictor.task.read(_tsv(tmp_path, lines))
    metrics, records = predictor.evaluate(examples)

    server = Server([tiny_llama, "--task", "sentiment"], tmp_path / "server.log")
    try:
        server.wait_ready()
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   HF_DATASETS_CACHE=str(tmp_path / "hf-datasets"), TOKENIZERS_PARALLELISM="false")
        args = [LM_EVAL, "run", "--model", "local-completions", "--model_args",
                f"base_url={server.url}/v1/completions", f"model={tiny_llama.name}", f"tokenizer={tiny_llama}",
                "tokenizer_backend=huggingface", "tokenized_requests=True", "num_concurrent=4", "max_retries=1",
                "--tasks", "ptrun_tiny_sentiment", "--include_path", str(tasks), "--output_path", str(tmp_path / "out"),
                "--log_samples"]
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:] + server.log()[-3000:]
        requests = server.metric("ptrun_requests_total")['{endpoint="/v1/completions",status="200"}']
    finally:
        server.stop()
    assert requests >= 2 * len(docs)  # every answer choice of every document went through the server
    results = next((tmp_path / "out").rglob("results_*.json"))
    acc = json.loads(results.read_text(encoding="utf-8"))["results"]["ptrun_tiny_sentiment"]["acc,none"]
    assert acc == pytest.approx(metrics["accuracy"], abs=1e-9)
    samples = [json.loads(line) for line in next((tmp_path / "out").rglob("samples_ptrun_tiny_sentiment_*.jsonl")).open()]
    samples.sort(key=lambda s: s["doc_id"])
    assert len(samples) == len(records) == 40
    for sample, record in zip(samples, records):
        neg, pos = [float((r[0] if isinstance(r[0], list) else r)[0]) for r in sample["resps"]]
        # ptrun's scores are log-softmaxed over the choices: their difference is the log-likelihoods'.
        assert pos - neg == pytest.approx(record["scores"]["positive"] - record["scores"]["negative"], abs=2e-3)
        assert (pos > neg) == (record["prediction"] == "positive")


def _tsv(tmp_path, lines):
    path = tmp_path / "test.tsv"
    path.write_text("text\tlabel\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path
