"""Training methods: full fine-tuning, or parameter-efficient LoRA through the peft library.

A LoRA run saves only the adapter (and the task head) in ``RUN/model``; loading the run
rebuilds the base model it names and attaches the adapter.
"""

from __future__ import annotations

from pathlib import Path

from ptrun.errors import PtrunError

METHODS = ("full", "lora")
ADAPTER_CONFIG = "adapter_config.json"
#: Linear layers LoRA adapts by default, by model type: every linear layer of the transformer
#: blocks. On CoNLL-2003 with MiniLM, query/value alone reached F1 0.39 where all linear layers
#: reached 0.76 in the same budget (bench/RESULTS.md), still training under 2% of the weights.
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


def apply(model, task, cfg, echo) -> object:
    """Wrap ``model`` for ``cfg.method``; print trainable / total parameters."""
    if cfg.method == "full":
        total = sum(p.numel() for p in model.parameters())
        echo(f"Method full: training all {total:,} parameters.")
        return model
    if cfg.method != "lora":
        raise PtrunError(f"Unknown --method '{cfg.method}' (known: {', '.join(METHODS)}).")
    if task.peft_task_type is None:
        raise PtrunError(f"Task '{task.name}' does not support --method lora yet.")
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        task_type=task.peft_task_type,
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=lora_targets(model, cfg.lora_targets),
    )
    try:
        model = get_peft_model(model, config)
    except ValueError as exc:  # e.g. target modules not found in the model
        raise PtrunError(f"--method lora: {exc}", hint="Check --lora-targets against the model's layer names.") from None
    trainable, total = model.get_nb_trainable_parameters()
    echo(f"Method lora (r={cfg.lora_r}, alpha={cfg.lora_alpha}): training {trainable:,} of {total:,} parameters "
         f"({100 * trainable / total:.2f}%).")
    return model


def load_adapter(model, adapter_dir: Path):
    """Attach the adapter saved in a LoRA run to its freshly loaded base model."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir))
