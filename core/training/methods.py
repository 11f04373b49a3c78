"""Training methods: full fine-tuning, or a peft method (LoRA, AdaLoRA, soft prompts).

A peft run saves only the adapter (and the task head) in ``RUN/model``; loading the run
rebuilds the base model it names and attaches the adapter. This module imports peft lazily.
"""

from __future__ import annotations

from pathlib import Path

from ptrun.errors import PtrunError, TemplateError

from ptrun.tasks.base import METHODS, SOFT_PROMPT_METHODS as PROMPT_METHODS  # noqa: F401

#: Methods whose adapter can be merged into the base weights (`ptrun export --merge`).
MERGEABLE = ("lora", "adalora")
ADAPTER_CONFIG = "adapter_config.json"
#: Default learning rates: adapters and soft prompts start from scratch and need larger steps.
DEFAULT_LR = {"lora": 2e-3, "adalora": 2e-3, "prompt-tuning": 3e-2, "prefix-tuning": 1e-2, "p-tuning": 1e-2, "setfit": 2e-5}
#: Default epochs where a method has its own (SetFit trains one epoch over its pairs).
DEFAULT_EPOCHS = {"setfit": 1.0}
#: Default warm-up where a method has its own (the setfit library warms up over 10% of its steps).
DEFAULT_WARMUP_RATIO = {"setfit": 0.1}
#: Linear layers LoRA adapts by default, by model type: every linear layer of the transformer
#: blocks, which learned far more than query/value alone in the same budget while still training
#: under 2% of the weights (bench/RESULTS.md, "methods").
LORA_TARGETS = {
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def is_adapter_dir(path: Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def lora_targets(model, requested: str | None) -> list[str]:
    if requested:
        return [t.strip() for t in requested.split(",") if t.strip()]
    model_type = getattr(model.config, "model_type", None)
    if model_type not in LORA_TARGETS:
        raise PtrunError(
            f"No default LoRA target modules for model type '{model_type}'.",
            hint="Pass --lora-targets with the names of the linear layers to adapt (e.g. query,value).",
        )
    return LORA_TARGETS[model_type]


def peft_config(model, backend, cfg, prompt, n_steps: int):
    import peft

    common = dict(task_type=backend.peft_task_type)
    if cfg.method in ("lora", "adalora"):
        lora = dict(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=lora_targets(model, cfg.lora_targets),
            **common,
        )
        if cfg.method == "lora":
            return peft.LoraConfig(**lora)
        # AdaLoRA starts every layer at init_r and prunes towards r over the middle of training.
        lora.pop("r")
        return peft.AdaLoraConfig(
            init_r=2 * cfg.lora_r, target_r=cfg.lora_r, total_step=max(3, n_steps),
            tinit=n_steps // 10, tfinal=n_steps // 5, **lora,
        )
    prompting = dict(num_virtual_tokens=cfg.num_virtual_tokens, **common)
    if cfg.method == "prefix-tuning":
        return peft.PrefixTuningConfig(**prompting)
    if cfg.method == "p-tuning":
        return peft.PromptEncoderConfig(encoder_hidden_size=model.config.hidden_size, **prompting)
    instruction = instruction_text(prompt)
    if instruction:
        # Start the soft prompt from the template's own instruction words (Lester et al. 2021).
        return peft.PromptTuningConfig(
            prompt_tuning_init=peft.PromptTuningInit.TEXT,
            prompt_tuning_init_text=instruction,
            tokenizer_name_or_path=str(model.name_or_path),
            **prompting,
        )
    return peft.PromptTuningConfig(prompt_tuning_init=peft.PromptTuningInit.RANDOM, **prompting)


def instruction_text(prompt) -> str:
    """The template's fixed words: its prompt rendered with every variable left empty."""
    if prompt is None:
        return ""
    try:
        return " ".join(prompt.render({name: "" for name in prompt.variables()}, target=False).input.split())
    except TemplateError:  # a template that needs real values has no plain instruction text
        return ""


def apply(model, backend, cfg, echo, prompt=None, n_steps: int = 1) -> object:
    """Wrap ``model`` for ``cfg.method``; print trainable / total parameters."""
    if cfg.method == "full":
        total = sum(p.numel() for p in model.parameters())
        echo(f"Method full: training all {total:,} parameters.")
        return model
    if cfg.method not in METHODS:
        raise PtrunError(f"Unknown --method '{cfg.method}' (known: {', '.join(METHODS)}).")
    reason = backend.task.unsupported(cfg.method, backend.kind)
    if reason:  # the pipeline asks before the run folder exists; this guards other callers
        raise PtrunError(f"--method {cfg.method}: {reason}.")
    if cfg.method == "prefix-tuning" and not _accepts_past_key_values(model):
        raise PtrunError(
            f"--method prefix-tuning needs a model that accepts past key values; "
            f"{model.config.model_type} models in transformers {_version('transformers')} do not.",
            hint="Use --method prompt-tuning or p-tuning (soft prompts on the input) instead.",
        )
    config = peft_config(model, backend, cfg, prompt, n_steps)
    try:
        from peft import get_peft_model

        model = get_peft_model(model, config)
    except ValueError as exc:  # e.g. target modules not found in the model
        raise PtrunError(f"--method {cfg.method}: {exc}", hint="Check --lora-targets against the model's layer names.") from None
    trainable, total = model.get_nb_trainable_parameters()
    echo(f"Method {cfg.method}: training {trainable:,} of {total:,} parameters ({100 * trainable / total:.2f}%).")
    return model


def _accepts_past_key_values(model) -> bool:
    import inspect

    backbone = getattr(model, model.base_model_prefix, model)
    # transformers renamed the argument to `cache` for some models; peft passes it by keyword.
    names = ("past_key_values", "cache")
    return any(n in inspect.signature(m.forward).parameters for m in (model, backbone) for n in names)


def lora_target_problem(model_path, requested: str | None) -> str | None:
    """Why LoRA cannot adapt the model in ``model_path`` with ``--lora-targets`` ``requested`` (no
    default for its type, or no module of that name), or None. The model is built on the meta
    device from its config: its module names, no weights."""
    import torch
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(str(model_path))
    except (OSError, ValueError):
        return None  # the loader reports a model it cannot read
    if not requested:
        if config.model_type in LORA_TARGETS:
            return None
        return (f"there are no default LoRA target modules for model type '{config.model_type}' "
                f"(pass --lora-targets with the names of the linear layers to adapt)")
    try:
        with torch.device("meta"):
            modules = list(AutoModel.from_config(config).named_modules())
    except Exception:  # noqa: BLE001  an architecture that cannot be built this way: peft will tell
        return None
    targets = [t.strip() for t in requested.split(",") if t.strip()]
    # peft matches a target against the end of each module's dotted name.
    if any(n == t or n.endswith("." + t) for n, _ in modules for t in targets):
        return None
    linear = sorted({n.rsplit(".", 1)[-1] for n, m in modules if isinstance(m, torch.nn.Linear)})
    return (f"--lora-targets {requested}: the model has no module of that name"
            + (f" (its linear layers: {', '.join(linear)})" if linear else ""))


def prefix_tuning_problem(model_path, kind: str) -> str | None:
    """Why ``--method prefix-tuning`` cannot train the encoder in ``model_path`` (its base class,
    found from its config without loading weights), or None. peft hands a causal LM its prefix
    through the model's keyword arguments, but an encoder's backbone must name ``past_key_values``."""
    import inspect

    if kind != "encoder":
        return None

    from transformers import MODEL_MAPPING, AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(model_path))
        base = MODEL_MAPPING[type(config)]
    except (OSError, ValueError, KeyError):
        return None  # the loader reports a model it cannot read
    if "past_key_values" in inspect.signature(base.forward).parameters:
        return None
    return (f"prefix tuning needs a model that takes past key values; {config.model_type} models in "
            f"transformers {_version('transformers')} do not (use prompt-tuning or p-tuning, soft prompts on the input)")


def _version(dist: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(dist)


def adalora_callback():
    """AdaLoRA re-allocates ranks after every optimizer step (peft's update_and_allocate)."""
    from transformers import TrainerCallback

    class AdaLoraRanks(TrainerCallback):
        def on_optimizer_step(self, args, state, control, model=None, **kwargs):
            peft_model = getattr(model, "module", model)  # unwrap DDP
            peft_model.base_model.update_and_allocate(state.global_step)

    return AdaLoraRanks()


def load_adapter(model, adapter_dir: Path):
    """Attach the adapter saved in a LoRA run to its freshly loaded base model."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir))
