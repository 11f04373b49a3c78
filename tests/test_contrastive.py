"""``--method setfit``: SetFit's contrastive recipe on ptrun's rendered prompts (tiny models)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ptrun
from conftest import read_metrics, read_rows, write
from ptrun.training import contrastive


def test_pairs_follow_setfit():
    labels = ["a", "a", "b", "b", "c"]
    made = contrastive.pairs(labels, iterations=3, seed=1)
    assert len(made) == 2 * 3 * len(labels)  # one positive and one negative per example per round
    for i, j, sim in made:
        assert (labels[i] == labels[j]) == (sim == 1.0)
    assert made == contrastive.pairs(labels, iterations=3, seed=1)
    assert made != contrastive.pairs(labels, iterations=3, seed=2)
    # As the setfit library: the unique pairs are cycled, so each is used about equally often.
    small = contrastive.pairs(["a", "a", "b", "b"], iterations=2, seed=0)
    negatives = [tuple(sorted((i, j))) for i, j, sim in small if sim == 0.0]
    assert sorted(negatives) == sorted([(0, 2), (0, 3), (1, 2), (1, 3)] * 2)
    assert [sim for _i, _j, sim in small] == [1.0, 0.0] * 8  # interleaved


def test_pairs_of_a_large_set_are_drawn(monkeypatch):
    monkeypatch.setattr(contrastive, "MAX_ENUMERATED", 0)
    labels = ["a", "b", "c"] * 5
    made = contrastive.pairs(labels, iterations=4, seed=3)
    assert len(made) == 2 * 4 * len(labels)
    assert all((labels[i] == labels[j]) == (sim == 1.0) for i, j, sim in made)
    assert sorted({i for i, _j, _s in made}) == list(range(len(labels)))  # every example anchors pairs


def test_pairs_need_two_labels():
    with pytest.raises(ptrun.PtrunError, match="at least two labels"):
        contrastive.pairs(["a", "a"], iterations=1, seed=0)


@pytest.mark.parametrize("classes", [[0, 1], [0, 1, 2], [0, 2]])
def test_head_is_the_logistic_regression(classes):
    """The linear layer's argmax is sklearn's prediction (binary, multi-class, a class absent)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = [classes[i % len(classes)] for i in range(60)]
    x = rng.normal(size=(60, 5)).astype(np.float32) + np.array(y, dtype=np.float32)[:, None]
    weight, bias = contrastive.fit_head(x, y, num_labels=3, seed=0)
    expected = LogisticRegression(max_iter=1000, random_state=0).fit(x, y).predict(x)
    assert ((x @ weight.T + bias).argmax(1) == expected).all()


def _setfit_run(cli, tiny_encoder, files, out, *extra):
    result = cli("sentiment", "--model", tiny_encoder, "--train", files["train"], "--test", files["test"],
                 "--method", "setfit", "--setfit-iterations", 2, "--batch-size", 8, "--lr", "1e-3",
                 "--output-dir", out, *extra)
    assert result.exit_code == 0, result.output
    return result


def test_setfit_run_embeds_the_rendered_prompt_and_reloads(cli, tiny_encoder, sentiment_files, tmp_path):
    import torch

    out = tmp_path / "run"
    result = _setfit_run(cli, tiny_encoder, sentiment_files, out, "--template", "sentiment/cloze")
    assert "Method setfit: 72 pairs from 16 examples and 2 label anchors" in result.output  # anchors: the default
    train = read_metrics(out)["train"]
    assert train["pairs"] == 72 and train["train_sentences"] == 16 and train["epochs"] == 1  # setfit's default
    assert train["head_train_accuracy"] == 1.0  # two separable phrases
    head = json.loads((out / "model" / contrastive.HEAD_FILE).read_text())
    assert head["labels"] == ["negative", "positive"] and len(head["weight"]) == 2
    assert json.loads((out / "config.json").read_text())["config"]["lr"] == 1e-3

    p = ptrun.load(str(out))
    assert type(p.model).__name__ == "PooledClassifier"
    inputs = [{"text": "moving and wonderful"}, {"text": "far too dull"}]
    rows = p.predict(inputs)
    saved = {r["text"]: r["prediction"] for r in read_rows(out)}
    assert [r["prediction"] for r in rows] == [saved[i["text"]] for i in inputs]
    assert {r["prediction"] for r in read_rows(out)} == {"negative", "positive"}

    # What is embedded is the template's rendering ("<text> It was"), mean-pooled, through the head.
    tok = p.tokenizer(["moving and wonderful It was"], return_tensors="pt")
    with torch.no_grad():
        hidden = p.model.body(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).last_hidden_state
        logits = p.model.head(contrastive.mean_pool(hidden, tok["attention_mask"]))
    assert p.label_map.labels[int(logits.argmax())] == rows[0]["prediction"]
    plain = p.tokenizer(["moving and wonderful"], return_tensors="pt")
    assert p.model(**plain).logits.tolist() != logits.tolist()  # the prompt words change the embedding


def test_setfit_anchors_pair_each_label_word_in_the_template(cli, tiny_encoder, sentiment_files, tmp_path):
    """--setfit-anchors: one pseudo-example per label, the prompt rendered with the label's word as
    the text, joins the pairs and the head's data (the labels' meaning as a prior at small k)."""
    out, plain = tmp_path / "anchored", tmp_path / "plain"
    result = _setfit_run(cli, tiny_encoder, sentiment_files, out, "--template", "sentiment/cloze", "--setfit-anchors")
    assert "72 pairs from 16 examples and 2 label anchors" in result.output
    train = read_metrics(out)["train"]
    assert train["pairs"] == 2 * 2 * (16 + 2) and train["train_sentences"] == 16
    assert train["anchors"] == {"negative": "terrible It was", "positive": "great It was"}  # the answer choices
    assert json.loads((out / "config.json").read_text())["config"]["setfit_anchors"] is True
    _setfit_run(cli, tiny_encoder, sentiment_files, plain, "--template", "sentiment/cloze", "--no-setfit-anchors")
    assert read_metrics(plain)["train"]["pairs"] == 2 * 2 * 16 and "anchors" not in read_metrics(plain)["train"]
    weights = [json.loads((run / "model" / contrastive.HEAD_FILE).read_text())["weight"] for run in (out, plain)]
    assert weights[0] != weights[1]  # same seed and examples: the anchors changed the training
    assert ptrun.load(str(out)).predict([{"text": "moving and wonderful"}])[0]["prediction"] in ("negative", "positive")

    bare = tmp_path / "bare"
    _setfit_run(cli, tiny_encoder, sentiment_files, bare, "--template", "none", "--setfit-anchors")
    assert read_metrics(bare)["train"]["anchors"] == {"negative": "negative", "positive": "positive"}

    result = cli("sentiment", "--model", tiny_encoder, "--train", sentiment_files["train"], "--setfit-anchors",
                 "--output-dir", tmp_path / "full")
    assert result.exit_code == 1 and "--setfit-anchors is an option of --method setfit" in result.output
    assert not (tmp_path / "full").exists()

    # Labels spelled as ids have no meaning to embed: refused before the run folder exists.
    ids = write(tmp_path / "ids.tsv", "sentence\tlabel\n" + "great fun\t1\nawful mess\t0\n" * 4)
    result = cli("sentiment", "--model", tiny_encoder, "--train", ids, "--method", "setfit", "--template", "none",
                 "--setfit-anchors", "--output-dir", tmp_path / "ids")
    assert result.exit_code == 1 and "'0', '1' have no word" in result.output and "answer_choices" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "ids").exists()


@pytest.mark.parametrize("default", [True, False])
def test_setfit_anchors_default(cli, tiny_encoder, sentiment_files, tmp_path, monkeypatch, default):
    """Without the flag a run follows DEFAULT_ANCHORS and records what it did; where the labels
    have no words the default quietly goes without anchors and says so."""
    monkeypatch.setattr(contrastive, "DEFAULT_ANCHORS", default)
    out = tmp_path / "run"
    result = _setfit_run(cli, tiny_encoder, sentiment_files, out, "--template", "sentiment/cloze")
    assert ("and 2 label anchors" in result.output) is default
    assert ("anchors" in read_metrics(out)["train"]) is default
    assert json.loads((out / "config.json").read_text())["config"]["setfit_anchors"] is default
    ids = write(tmp_path / "ids.tsv", "sentence\tlabel\n" + "great fun\t1\nawful mess\t0\n" * 4)
    result = _setfit_run(cli, tiny_encoder, {"train": ids, "test": ids}, tmp_path / "ids", "--template", "none")
    assert ("No label anchors: the labels 0, 1 have no words" in result.output) is default
    assert json.loads((tmp_path / "ids" / "config.json").read_text())["config"]["setfit_anchors"] is False


def test_setfit_run_serves(cli, tiny_encoder, sentiment_files, tmp_path):
    from test_serve import Server

    out = tmp_path / "run"
    _setfit_run(cli, tiny_encoder, sentiment_files, out)
    inputs = [{"text": "a wonderful, moving film"}, {"text": "dull and far too long"}, {"text": "fine"}]
    expected = [r["prediction"] for r in ptrun.load(str(out)).predict(inputs)]
    server = Server([out], tmp_path / "server.log")
    try:
        server.wait_ready()
        response = server.predict(inputs)
        assert response.status_code == 200, response.text
        served = response.json()
        assert [r["prediction"] for r in served["predictions"]] == expected, served
    finally:
        server.stop()


def test_setfit_is_refused_where_it_cannot_work(cli, tiny_encoder, tiny_llama, ner_files, sentiment_files, tmp_path):
    result = cli("ner", "--model", tiny_encoder, "--train", ner_files["train"], "--method", "setfit",
                 "--output-dir", tmp_path / "ner")
    assert result.exit_code == 1 and "setfit" in result.output and "classification tasks on encoder" in result.output
    assert not (tmp_path / "ner").exists()
    result = cli("sentiment", "--model", tiny_llama, "--train", sentiment_files["train"], "--method", "setfit",
                 "--output-dir", tmp_path / "lm")
    assert result.exit_code == 1 and "encoder models" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "lm").exists()


def test_a_third_party_classification_task_gets_setfit(cli, tiny_encoder, register_plugin, tmp_path):
    """Any TextClassificationTask gets the method: here a test-registered three-label task."""

    class Topic(ptrun.TextClassificationTask):
        name = "topic-test"
        description = "test task"
        default_template = "topic-test/plain"

    class Plugin:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            return [Topic()]

        @ptrun.hookimpl
        def ptrun_template_dirs(self):
            return [str(tmp_path / "templates")]

    write(tmp_path / "templates" / "topic-test" / "plain.j2", "{#-\ndescription: topic\n-#}\nTopic of: {{ text }}")
    rows = [("goal in the match", "sport"), ("stocks fell sharply", "money"), ("rain and wind", "weather")] * 4
    data = write(tmp_path / "train.jsonl", "".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows))
    register_plugin(Plugin(), "topic-test")
    out = tmp_path / "run"
    result = cli("topic-test", "--model", tiny_encoder, "--train", data, "--test", data, "--method", "setfit",
                 "--setfit-iterations", 2, "--lr", "1e-3", "--batch-size", 8, "--output-dir", out)
    assert result.exit_code == 0, result.output
    assert read_metrics(out)["train"]["pairs"] == 2 * 2 * (12 + 3)  # the label anchors: "Topic of: sport", ...
    assert read_metrics(out)["train"]["anchors"]["sport"] == "Topic of: sport"
    assert json.loads((out / "model" / contrastive.HEAD_FILE).read_text())["labels"] == ["money", "sport", "weather"]
    assert read_metrics(out)["test"]["accuracy"] == 1.0  # training data seen again: the head fits it
    assert ptrun.load(str(out)).predict([{"text": "goal in the match"}])[0]["prediction"] == "sport"


def test_setfit_embeds_as_the_models_sentence_transformers_pipeline(cli, tiny_encoder, sentiment_files, tmp_path):
    """A model saved with a sentence-transformers pipeline that ends in Normalize (as MiniLM's
    does): the head is fitted on and applied to the unit vectors that pipeline's ``encode`` gives,
    which is what the setfit library fits its head on; and the run warms up over 10% of the steps,
    as the library does."""
    import shutil

    import torch
    from sentence_transformers import SentenceTransformer

    from conftest import minilm_dir

    def with_minilm_pipeline(weights, folder):
        """``weights`` under MiniLM's own pipeline files (Transformer, mean Pooling, Normalize)."""
        shutil.copytree(weights, folder)
        shutil.copy(minilm_dir() / "modules.json", folder)
        shutil.copytree(minilm_dir() / "1_Pooling", folder / "1_Pooling")
        return folder

    model = with_minilm_pipeline(tiny_encoder, tmp_path / "tiny-sentence-encoder")
    assert contrastive.normalizes(model) and not contrastive.normalizes(tiny_encoder)

    out = tmp_path / "run"
    _setfit_run(cli, model, sentiment_files, out, "--template", "none", "--logging-steps", 1)
    assert json.loads((out / "model" / contrastive.HEAD_FILE).read_text())["normalize"] is True
    assert json.loads((out / "config.json").read_text())["config"]["warmup_ratio"] == 0.1
    rates = [row["learning_rate"] for row in read_metrics(out)["history"] if "learning_rate" in row]
    assert rates and rates[0] < 1e-3  # still warming up at the first logged step

    texts = ["moving and wonderful", "far too dull"]
    p = ptrun.load(str(out))
    assert p.model.normalize
    tok = p.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        hidden = p.model.body(**{k: tok[k] for k in ("input_ids", "attention_mask")}).last_hidden_state
        ours = contrastive.sentence_embedding(hidden, tok["attention_mask"], True)
    pipeline_dir = with_minilm_pipeline(out / "model", tmp_path / "trained-pipeline")
    theirs = SentenceTransformer(str(pipeline_dir), device="cpu").encode(texts, convert_to_tensor=True)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(ours.norm(dim=-1), torch.ones(2), atol=1e-5)
    logits = p.model.head(ours)
    assert [p.label_map.labels[int(i)] for i in logits.argmax(-1)] == [r["prediction"] for r in p.predict([{"text": t} for t in texts])]
