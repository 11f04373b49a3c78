"""The options of a run: one source for each option's name, type, default and help.

:class:`RunConfig` is what the pipeline and :func:`ptrun.load` take; ``ptrun <task>``'s options
are generated from its fields (:mod:`ptrun.cli.options`), and config.json stores it. A field's
``metadata`` holds its help text, its click type and extra flag spellings; ``group`` orders the
help.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ptrun.tasks.base import METHODS

INFERENCE = ("auto", "score", "generate")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: Learning-rate schedules (transformers' SchedulerType values, spelled with "-"; the ones that
#: need no extra arguments). tests/test_training_options.py checks them against transformers.
LR_SCHEDULERS = ("linear", "cosine", "cosine-with-restarts", "polynomial", "constant", "constant-with-warmup", "inverse-sqrt")
#: Where the Trainer sends its logs (TrainingArguments.report_to).
REPORT_TO = ("none", "tensorboard", "wandb", "mlflow")


def option(default=None, help: str = "", *, type=None, flags=(), group: str = "run", show_default=None, **extra):
    """A RunConfig field that is also a command-line option."""
    meta = {"help": help, "type": type, "flags": tuple(flags), "group": group, "show_default": show_default, **extra}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    task: str = field(default="", metadata={"cli": False})
    # data
    data: str | None = option(None, "Directory with train/dev/test files (found by name).", type="path", group="data")
    train: str | None = option(None, "Training file.", type="file", group="data")
    validation: str | None = option(None, "Validation (dev) file.", type="file", group="data")
    test: str | None = option(None, "Test file.", type="file", group="data")
    predict: str | None = option(None, "Unlabelled file to predict.", type="file", group="data")
    format: str | None = option(None, "Data format when the file extension does not tell (a reader name, e.g. tsv, jsonl).", group="data")
    limit_train: int | None = option(None, "Use only the first N training examples.", type=("int", 1), group="data")
    limit_eval: int | None = option(None, "Use only the first N examples of each evaluation split.", type=("int", 1), group="data")
    k_per_class: int | None = option(None, "Few-shot: train on K examples per label, drawn from the train split (seeded by --seed).", type=("int", 1), group="data")
    # model and template
    model: str | None = option(None, "Model alias, local model folder or ptrun run folder [default: the task's].", flags=("-m",), group="model")
    template: str | None = option(None, "Template name or .j2 path; 'none' for no prompt [default: the task's].", flags=("-t",), group="model")
    template_dirs: tuple = option((), "Extra template directory (repeatable).", type="dir", flags=("--template-dir",), multiple=True, group="model")
    max_length: int | None = option(None, "Maximum tokens per example [default: 128 for encoders, the model's context (at most 2048) for causal LMs].", type=("int", 8), group="model")
    device: str = option("auto", type=("choice", DEVICES), group="model", show_default=True)
    # training
    epochs: float | None = option(None, "Training epochs [default: the task's].", type=float, group="training")
    lr: float | None = option(None, "Learning rate [default: the task's; for peft methods the method's].", type=float, group="training")
    batch_size: int = option(16, type=("int", 1), group="training", show_default=True)
    seed: int = option(42, type=int, group="training", show_default=True)
    group_by_length: bool = option(True, "Batch training examples of similar length (less padding, faster).", type="switch", group="training", show_default=True)
    save_steps: int | None = option(None, "Save a checkpoint every N optimizer steps (enables --resume).", type=("int", 1), group="training")
    save_total_limit: int | None = option(2, "Checkpoints to keep.", type=("int", 1), group="training", show_default=True)
    resume: bool = option(False, "Continue the latest checkpoint in --output-dir (same options as the first start).", type="flag", group="training")
    bf16: bool = option(False, "Train in bfloat16 mixed precision.", type="flag", group="training")
    fp16: bool = option(False, "Train in float16 mixed precision (CUDA only).", type="flag", group="training")
    gradient_checkpointing: bool = option(False, "Recompute activations in the backward pass: much less training memory, for a second forward pass through each layer.", type="flag", group="training")
    warmup_steps: int = option(0, "Optimizer steps over which the learning rate warms up from 0.", type=("int", 0), group="training", show_default=True)
    warmup_ratio: float | None = option(None, "Warm up over this fraction of the training steps (instead of --warmup-steps) [default: 0.1 with --method setfit, as the setfit library].", type=("float", 0, 1, False, True), group="training")
    weight_decay: float = option(0.0, "AdamW weight decay.", type=("float", 0), group="training", show_default=True)
    lr_scheduler: str = option("linear", "Learning-rate schedule after the warmup.", type=("choice", LR_SCHEDULERS), group="training", show_default=True)
    gradient_accumulation_steps: int = option(1, "Batches whose gradients are summed per optimizer step.", type=("int", 1), group="training", show_default=True)
    max_grad_norm: float = option(1.0, "Clip the gradient norm to this (0: no clipping).", type=("float", 0), group="training", show_default=True)
    max_steps: int | None = option(None, "Stop after N optimizer steps (takes precedence over --epochs).", type=("int", 1), group="training")
    logging_steps: int | None = option(None, "Log loss and learning rate every N optimizer steps [default: 5 times per run].", type=("int", 1), group="training")
    eval_steps: int | None = option(None, "Evaluate on the validation split every N optimizer steps, with the task's own metrics.", type=("int", 1), group="training")
    early_stopping_patience: int | None = option(None, "Stop when the task's main metric has not improved for N evaluations (needs --eval-steps).", type=("int", 1), group="training")
    load_best: bool = option(False, "Keep the checkpoint best on the task's main metric (needs --eval-steps); test and the saved model use it.", type="flag", group="training")
    report_to: str = option("none", "Send training logs to TensorBoard (RUN/tensorboard), W&B or MLflow.", type=("choice", REPORT_TO), group="training", show_default=True)
    # method
    method: str = option("full", "full: train every weight; setfit: contrastive pairs, then a logistic-regression head (encoder classification); the others train a peft adapter or soft prompt plus the task head.", type=("choice", METHODS), group="method", show_default=True)
    num_virtual_tokens: int = option(20, "Soft-prompt length for prompt-tuning, prefix-tuning and p-tuning.", type=("int", 1), group="method", show_default=True)
    lora_r: int = option(8, "LoRA rank.", type=("int", 1), group="method", show_default=True)
    lora_alpha: int = option(16, "LoRA scaling alpha.", type=("int", 1), group="method", show_default=True)
    lora_dropout: float = option(0.1, type=("float", 0, 1), group="method", show_default=True)
    lora_targets: str | None = option(None, "Comma-separated module names LoRA adapts [default: per model type, e.g. query,value].", group="method")
    setfit_iterations: int = option(20, "--method setfit: positive and negative pairs drawn per training example.", type=("int", 1), group="method", show_default=True)
    setfit_anchors: bool | None = option(None, "--method setfit: one anchor per label (the prompt rendered with the label's word as the text) joins the pairs and the head's training data [default: on where the labels have words].", type="switch", group="method")
    # causal language models
    inference: str = option("auto", "Causal LMs: score ranks the answer choices by log-likelihood; generate writes an answer and maps it back. auto: score when the task has answer choices.", type=("choice", INFERENCE), group="lm", show_default=True)
    chat: bool | None = option(None, "Causal LMs: wrap the prompt in the model's chat template [default: when the model has one].", type="switch", group="lm")
    shots: int = option(0, "Causal LMs: demonstrations drawn from the train split into each prompt.", type=("int", 0), group="lm", show_default=True)
    balanced_shots: bool = option(False, "Draw the demonstrations evenly over the labels.", type="flag", group="lm")
    calibrate: bool = option(False, "Contextual calibration of answer-choice scores (Zhao et al. 2021).", type="flag", group="lm")
    length_norm: bool = option(True, "Score multi-token answer choices by mean (not summed) token log-probability.", type="switch", group="lm", show_default=True)
    max_new_tokens: int | None = option(None, "Causal LMs: most tokens to generate per answer [default: per task].", type=("int", 1), group="lm")
    # the run folder
    output_dir: str | None = option(None, "Run folder [default: runs/<task>-<time>].", type="path", flags=("-o",), group="run")
    eval_only: bool = option(False, "Evaluate (and predict) without training.", type="flag", group="run")
    baseline: bool = option(False, "Training runs: also evaluate the untrained starting point (a causal LM zero-shot, an encoder with its fresh head) on the same splits, and report both and the gain.", type="flag", group="run")
    overwrite: bool = option(False, "Replace an existing run folder.", type="flag", group="run")
    seeds: tuple = option((), "Run once per seed (comma-separated, e.g. 13,21,42,87,100), each in OUTPUT_DIR/seed-N, and write the mean and std over seeds.", type="seeds", group="run")


def cli_fields():
    """The RunConfig fields that are command-line options, in declaration order."""
    return [f for f in fields(RunConfig) if f.metadata.get("cli", True)]


def field_names() -> set[str]:
    return {f.name for f in fields(RunConfig)}


def from_mapping(task, mapping, source: str = "mapping") -> RunConfig:
    """A RunConfig for ``task`` (a name or Task) from ``{option: value}``, checked like the
    command line: keys spelled as the long options (``-`` or ``_``), unknown keys, wrong types and
    bad values raise :class:`ptrun.PtrunError` naming ``source`` and the key."""
    from ptrun.run.configfile import from_mapping as _from_mapping

    return _from_mapping(task, mapping, source=source)
