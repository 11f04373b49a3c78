"""Fine-tuning on top of transformers' Trainer (dynamic padding, length-grouped batches)."""

from __future__ import annotations

import time


class FeatureDataset:
    """A list of feature dicts as a map-style dataset (the Trainer only needs len and getitem)."""

    def __init__(self, features: list[dict]):
        self.features = features

    def __len__(self):
        return len(self.features)

    def __getitem__(self, i):
        return self.features[i]


def training_arguments(cfg, output_dir, n_examples: int):
    import torch
    from transformers import TrainingArguments

    steps_per_epoch = max(1, -(-n_examples // cfg.batch_size))
    total = max(1, int(steps_per_epoch * cfg.epochs))
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.lr,
        per_device_train_batch_size=cfg.batch_size,
        weight_decay=0.0,
        lr_scheduler_type="linear",
        warmup_steps=0,
        seed=cfg.seed,
        data_seed=cfg.seed,
        # Batches of similar length waste little compute on padding.
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=max(1, total // 5),
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )


def train(model, tokenizer, features: list[dict], collator, cfg, output_dir) -> dict:
    """Train ``model`` in place; return timing and loss figures for metrics.json."""
    from transformers import Trainer

    args = training_arguments(cfg, output_dir, len(features))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=FeatureDataset(features),
        data_collator=collator,
        processing_class=tokenizer,
    )
    start = time.perf_counter()
    result = trainer.train()
    runtime = time.perf_counter() - start
    return {
        "train_runtime": round(runtime, 3),
        "train_sentences": len(features),
        "epochs": cfg.epochs,
        "train_samples_per_second": round(len(features) * cfg.epochs / runtime, 3),
        "train_loss": round(float(result.training_loss), 6),
        "steps": int(result.global_step),
    }
