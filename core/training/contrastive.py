"""``--method setfit``: contrastive few-shot training of a sentence encoder (Tunstall et al. 2022).

SetFit's recipe on ptrun's rendered prompts: pairs of training examples (same label: similarity
1, different labels: 0; ``--setfit-iterations`` positive and negative pairs per example), the
body fine-tuned so that the cosine similarity of the mean-pooled embeddings matches (the
CosineSimilarityLoss of sentence-transformers), then a logistic-regression head (scikit-learn)
fitted on the frozen embeddings. The head is stored as a linear layer, so predicting is one
forward pass of :class:`PooledClassifier` and runs wherever the task's own head would.

With label anchors (the default; ``--no-setfit-anchors`` leaves them out) each label also
brings one pseudo-example to the pairs and the head: the prompt rendered with the label's
verbalizer word as the text ("great It was"). It carries what the labels mean into training, a
prior that counts where examples are few.

The body trains on transformers' Trainer like every other method (seed, devices, DDP, bf16,
progress); a run folder holds the body (``model/``, a plain transformers folder) and
``model/pooled_head.json`` (labels, pooling, the head's weights).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ptrun.errors import PtrunError

METHOD = "setfit"
HEAD_FILE = "pooled_head.json"
#: Whether --method setfit adds the label anchors when --setfit-anchors is not given. On: on SST-2
#: they added 3.1 and 1.4 points at 8 and 16 examples per class, and nothing at 64 (bench/RESULTS.md).
DEFAULT_ANCHORS = True


def is_pooled_dir(path) -> bool:
    return (Path(path) / HEAD_FILE).is_file()


def mean_pool(hidden, attention_mask):
    """The mean of the token embeddings, padding excluded (sentence-transformers' mean pooling)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def normalizes(model_dir) -> bool:
    """Whether the sentence-transformers pipeline saved with the model ends in a ``Normalize``
    module (all-MiniLM-L6-v2's does): its embeddings are then unit vectors, and the head must be
    fitted on and applied to unit vectors, as the setfit library does through ``encode``."""
    try:
        modules = json.loads((Path(model_dir) / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False
    return any(str(m.get("type", "")).endswith(".Normalize") for m in modules if isinstance(m, dict))


def sentence_embedding(hidden, attention_mask, normalize: bool):
    import torch

    pooled = mean_pool(hidden, attention_mask)
    return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled


def _torch_classes():
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    class PairModel(torch.nn.Module):
        """The body under training: loss = MSE(cos(u, v), similarity) for each pair (u, v)."""

        def __init__(self, body):
            super().__init__()
            self.body = body
            self.config = body.config

        def embed(self, input_ids, attention_mask):
            hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return mean_pool(hidden, attention_mask)

        def forward(self, input_ids, attention_mask, input_ids_b, attention_mask_b, similarity=None):
            u = self.embed(input_ids, attention_mask)
            v = self.embed(input_ids_b, attention_mask_b)
            cosine = torch.nn.functional.cosine_similarity(u, v)
            loss = None if similarity is None else torch.nn.functional.mse_loss(cosine, similarity.to(cosine.dtype))
            return {"loss": loss, "cosine": cosine}

    class PooledClassifier(torch.nn.Module):
        """Body + mean pooling (+ normalisation) + a linear head: what a setfit run predicts with."""

        def __init__(self, body, num_labels: int, normalize: bool = False):
            super().__init__()
            self.body = body
            self.config = body.config
            self.normalize = normalize
            self.head = torch.nn.Linear(body.config.hidden_size, num_labels)

        def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
            hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return SequenceClassifierOutput(logits=self.head(sentence_embedding(hidden, attention_mask, self.normalize)))

        def save_pretrained(self, out):
            out = Path(out)
            self.body.save_pretrained(out)
            head = {
                "method": METHOD,
                "pooling": "mean",
                "normalize": self.normalize,
                "labels": [self.config.id2label[i] for i in range(self.head.out_features)],
                "weight": self.head.weight.detach().cpu().tolist(),
                "bias": self.head.bias.detach().cpu().tolist(),
            }
            from ptrun.run.folder import atomic_write_text

            atomic_write_text(out / HEAD_FILE, json.dumps(head))

    return PairModel, PooledClassifier


#: Up to this many unique pairs, they are all enumerated and cycled as the setfit library does;
#: beyond (large training sets), partners are drawn at random.
MAX_ENUMERATED = 2_000_000


def pairs(labels: list[str], iterations: int, seed: int) -> list[tuple[int, int, float]]:
    """SetFit's pairs: ``iterations`` x len(labels) pairs of the same label (1.0) and as many of
    different labels (0.0), interleaved. As in the setfit library, the unique pairs (an example
    with itself included) are shuffled and cycled, so every pair is used about equally often."""
    rng = random.Random(seed)
    n = len(labels)
    if len(set(labels)) < 2:
        raise PtrunError(
            f"--method {METHOD} needs training examples of at least two labels (found only '{labels[0]}').",
            hint="Add examples of the other labels to the training data.",
        )
    wanted = iterations * n
    if n * (n + 1) // 2 <= MAX_ENUMERATED:
        unique = [(i, j) for i in range(n) for j in range(i, n)]
        rng.shuffle(unique)
        pos = [(i, j, 1.0) for i, j in unique if labels[i] == labels[j]]
        neg = [(i, j, 0.0) for i, j in unique if labels[i] != labels[j]]
        pos, neg = [pos[t % len(pos)] for t in range(wanted)], [neg[t % len(neg)] for t in range(wanted)]
    else:
        by_label: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            by_label.setdefault(label, []).append(i)
        pos, neg = [], []
        for t in range(wanted):
            i = t % n
            pos.append((i, rng.choice(by_label[labels[i]]), 1.0))
            j = rng.randrange(n)
            while labels[j] == labels[i]:
                j = rng.randrange(n)
            neg.append((i, j, 0.0))
    return [pair for both in zip(pos, neg) for pair in both]


class PairCollator:
    """Pads the two sides of each pair on their own."""

    def __init__(self, tokenizer):
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, items):
        import torch

        a = self.pad([{"input_ids": f["input_ids"], "attention_mask": f["attention_mask"]} for f in items])
        b = self.pad([{"input_ids": f["input_ids_b"], "attention_mask": f["attention_mask_b"]} for f in items])
        return {
            "input_ids": a["input_ids"], "attention_mask": a["attention_mask"],
            "input_ids_b": b["input_ids"], "attention_mask_b": b["attention_mask"],
            "similarity": torch.tensor([f["similarity"] for f in items], dtype=torch.float32),
        }


def embeddings(body, features, tokenizer, batch_size: int, normalize: bool = False):
    """Mean-pooled (and, with ``normalize``, unit-length) embeddings of ``features`` (in their
    order), as a numpy array."""
    import numpy as np
    import torch
    from transformers import DataCollatorWithPadding

    from ptrun.backends.device import batches

    body.eval()
    dev = next(body.parameters()).device
    rows: list = [None] * len(features)
    keep = ("input_ids", "attention_mask")
    with torch.inference_mode():
        for chunk, batch in batches(features, DataCollatorWithPadding(tokenizer), batch_size, "embed", keep):
            mask = batch["attention_mask"].to(dev)
            hidden = body(input_ids=batch["input_ids"].to(dev), attention_mask=mask).last_hidden_state
            pooled = sentence_embedding(hidden, mask, normalize).float().cpu().numpy()
            for row, i in enumerate(chunk):
                rows[i] = pooled[row]
    return np.stack(rows)


def fit_head(x, y: list[int], num_labels: int, seed: int):
    """Logistic regression (scikit-learn, SetFit's default head) as ``(weight, bias)`` of a linear
    layer over ``num_labels`` classes: the argmax of its logits is the regression's prediction."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=1000, random_state=seed).fit(x, y)
    weight = np.zeros((num_labels, x.shape[1]), dtype=np.float32)
    bias = np.zeros(num_labels, dtype=np.float32)
    if len(clf.classes_) == 2:
        # Binary regression keeps one row: p(second class) = sigmoid(w.x + b), i.e. the logits (0, w.x + b).
        weight[clf.classes_[1]] = clf.coef_[0]
        bias[clf.classes_[1]] = clf.intercept_[0]
    else:
        for row, cls in enumerate(clf.classes_):
            weight[cls], bias[cls] = clf.coef_[row], clf.intercept_[row]
        # Classes the training data lacks can never win.
        missing = [c for c in range(num_labels) if c not in set(clf.classes_)]
        bias[missing] = -1e4
    return weight, bias


def bare_labels(label_map) -> list[str]:
    """Labels whose word is an id ("0", "1"): nothing to anchor."""
    return [label for label in label_map.labels if not any(c.isalpha() for c in label_map.word(label))]


def anchor_examples(task, example, label_map) -> list:
    """One example per label whose text fields all read the label's verbalizer word: rendered
    through the run's template, it is where that label's prompts should embed."""
    bare = bare_labels(label_map)
    if bare:
        raise PtrunError(
            f"--setfit-anchors: the label(s) {', '.join(repr(b) for b in bare)} have no word that says what they mean, "
            "so their anchors would embed bare ids.",
            hint="Use a template whose answer_choices name them (e.g. {negative: negative, positive: positive} "
                 "for 0/1 data), or name the labels in the data.")
    made = []
    for label in label_map.labels:
        blank = task.content_free(example, label_map.word(label))
        if blank is None:
            raise PtrunError(f"--setfit-anchors: task '{task.name}' cannot put a label's word in place of its text "
                             "(its content_free() returns None).", hint="Leave --setfit-anchors out for this task.")
        made.append(task.relabel(blank, label))
    return made


def resolve_anchors(cfg, task, example, label_map, renderer, echo):
    """Settle ``cfg.setfit_anchors`` (unset: on where the labels have words) and return the
    anchors as ``(examples, rendered)``, or None."""
    if cfg.setfit_anchors is None:
        cfg.setfit_anchors = DEFAULT_ANCHORS and not bare_labels(label_map)
        if DEFAULT_ANCHORS and not cfg.setfit_anchors:
            echo(f"No label anchors: the labels {', '.join(label_map.labels)} have no words (give the template "
                 "answer_choices to add them).")
    if not cfg.setfit_anchors:
        return None
    made = anchor_examples(task, example, label_map)
    return made, renderer.render_all(made, demos=False)


def train(cfg, model, tokenizer, features, echo, output_dir, callbacks=(), tensorboard_dir=None, anchors=()):
    """Train ``model`` (a freshly loaded encoder with the task's head) the SetFit way; return
    ``(PooledClassifier, training figures)``. ``features`` are the task's encoded examples;
    ``callbacks`` (the run's history, say) follow the contrastive stage."""
    import torch

    from ptrun.training.trainer import train as trainer_train

    PairModel, PooledClassifier = _torch_classes()
    body = model.base_model  # the encoder without the task's head
    sentences = len(features)
    features = [*features, *anchors]  # anchors pair and train the head like examples
    labels = [f["labels"] for f in features]
    made = pairs(labels, cfg.setfit_iterations, cfg.seed)
    pair_features = [
        {
            "input_ids": features[i]["input_ids"], "attention_mask": features[i]["attention_mask"],
            "input_ids_b": features[j]["input_ids"], "attention_mask_b": features[j]["attention_mask"],
            "similarity": sim,
        }
        for i, j, sim in made
    ]
    total = sum(p.numel() for p in body.parameters())
    with_anchors = f" and {len(anchors)} label anchors" if anchors else ""
    echo(f"Method {METHOD}: {len(pair_features)} pairs from {sentences} examples{with_anchors} "
         f"({cfg.setfit_iterations} iterations); training the body's {total:,} parameters, then a logistic-regression head.")
    figures = trainer_train(PairModel(body), tokenizer, pair_features, PairCollator(tokenizer), cfg, output_dir,
                            callbacks=callbacks, tensorboard_dir=tensorboard_dir)
    figures["train_sentences"] = sentences
    figures["pairs"] = len(pair_features)
    normalize = normalizes(getattr(model, "name_or_path", ""))
    x = embeddings(body, features, tokenizer, cfg.batch_size, normalize)
    weight, bias = fit_head(x, labels, model.config.num_labels, cfg.seed)
    classifier = PooledClassifier(body, model.config.num_labels, normalize)
    with torch.no_grad():
        classifier.head.weight.copy_(torch.from_numpy(weight))
        classifier.head.bias.copy_(torch.from_numpy(bias))
    classifier.to(next(body.parameters()).device)
    x_acc = float(((x[:sentences] @ weight.T + bias).argmax(1) == labels[:sentences]).mean())  # anchors left out
    figures["head_train_accuracy"] = round(x_acc, 6)
    return classifier, figures


def load(path, label_map):
    """A setfit run's model: the body from ``path`` and the head from its ``pooled_head.json``."""
    import torch

    from ptrun.backends.loading import _from_pretrained, load_tokenizer

    try:
        head = json.loads((Path(path) / HEAD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not read the {METHOD} head {Path(path) / HEAD_FILE}: {exc}",
                         hint="The run folder is damaged; train the run again.") from None
    if head.get("labels") != label_map.labels:
        raise PtrunError(f"The head in {path} was trained with labels {head.get('labels')}, but the run's label map has {label_map.labels}.")
    import transformers

    body = _from_pretrained(transformers.AutoModel, Path(path), "a model")
    _PairModel, PooledClassifier = _torch_classes()
    model = PooledClassifier(body, len(head["labels"]), bool(head.get("normalize", False)))
    with torch.no_grad():
        model.head.weight.copy_(torch.tensor(head["weight"]))
        model.head.bias.copy_(torch.tensor(head["bias"]))
    return model, load_tokenizer(Path(path))
