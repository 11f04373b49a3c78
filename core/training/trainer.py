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


class ShuffledLengthBatches:
    """Indices forming batches of similar length, with the batches in random order.

    Like transformers' ``group_by_length`` (random megabatches, each sorted by length), but the
    finished batches are shuffled instead of running longest-first, and the order depends only on
    (seed, epoch), so a resumed run skips exactly the batches it had trained on. Megabatches are
    small (4 batches): sorting 64 random examples still saves a third of the padding, while each
    batch stays a varied sample; sorting 800 (transformers' 50) saves a little more padding but
    made batches so alike that tagging F1 fell (measured in bench/RESULTS.md).
    """

    def __init__(self, lengths: list[int], batch_size: int, megabatch: int = 4, seed: int = 0):
        self.lengths = lengths
        self.batch_size = batch_size
        self.megabatch = megabatch
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the Trainer each epoch: the order depends on (seed, epoch) only, so a
        resumed run skips exactly the batches it had already trained on."""
        self.epoch = epoch

    def __len__(self):
        return len(self.lengths)

    def __iter__(self):
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        size = self.megabatch * self.batch_size
        batches = []
        for start in range(0, len(order), size):
            chunk = sorted(order[start : start + size], key=self.lengths.__getitem__)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        # Only the very last batch can be short; keep it last so the others stay aligned.
        last = [batches.pop()] if len(batches[-1]) < self.batch_size else []
        shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()] + last
        return iter([i for batch in shuffled for i in batch])


def _trainer_class():
    from transformers import Trainer

    class PtrunTrainer(Trainer):
        def __init__(self, *args, group_by_length: bool = True, per_label_loss: bool = True, causal: bool = False, **kwargs):
            super().__init__(*args, **kwargs)
            self.group_by_length = group_by_length
            self.causal = causal
            self.keeps_target_logits = None  # whether the model takes logits_to_keep; see _target_positions
            self.labels_per_batch = None
            if group_by_length and per_label_loss and all("labels" in f for f in self.train_dataset):
                # With length-grouped batches a per-batch mean would weigh a token of a batch of
                # short sentences far more than one of long sentences. Dividing the summed loss by
                # the average number of labels per batch weighs every token the same.
                labels = [f["labels"] for f in self.train_dataset]
                counts = sum(sum(l != -100 for l in x) if isinstance(x, list) else 1 for x in labels)
                self.labels_per_batch = counts / max(1, -(-len(labels) // self.args.train_batch_size))
                self.loss_is_scaled_for_ga = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.labels_per_batch is None or "labels" not in inputs:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            import torch.nn.functional as F

            labels = inputs.pop("labels")
            keep = self._target_positions(model, labels) if self.causal else None
            if keep is not None:
                # Only the positions that predict a target token need the output layer; the
                # full-vocabulary logits of every prompt position dominated training memory.
                outputs = model(**inputs, logits_to_keep=keep)
                logits, labels = outputs.logits.float(), labels[:, 1:][:, keep]
            else:
                outputs = model(**inputs)
                logits = outputs.logits.float()
                if self.causal:
                    # Soft-prompt methods prepend virtual tokens to the logits; then token t predicts t+1.
                    logits = logits[:, logits.size(1) - labels.size(1) :]
                    logits, labels = logits[:, :-1], labels[:, 1:]
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="sum"
            ) / self.labels_per_batch
            return (loss, outputs) if return_outputs else loss

        def _target_positions(self, model, labels):
            """Positions t (of the inputs) whose next token t+1 is a target in some row, for
            ``logits_to_keep``; None where the model cannot take them (soft prompts shift the
            positions; architectures without ``logits_to_keep``). The model is inspected once."""
            if self.keeps_target_logits is None:
                import inspect

                from ptrun.backends.kernels import uses_soft_prompt

                base = self.accelerator.unwrap_model(model)
                inner = base.get_base_model() if hasattr(base, "get_base_model") else base
                self.keeps_target_logits = not uses_soft_prompt(base) and (
                    "logits_to_keep" in inspect.signature(inner.forward).parameters
                )
            if not self.keeps_target_logits:
                return None
            return (labels[:, 1:] != -100).any(dim=0).nonzero().squeeze(1)

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if not self.group_by_length:
                return super()._get_train_sampler(train_dataset)
            lengths = [len(f["input_ids"]) for f in dataset]
            return ShuffledLengthBatches(
                lengths,
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
            )

    return PtrunTrainer


def _stderr_progress():
    import functools
    import sys

    from transformers.trainer_callback import ProgressCallback

    class StderrProgress(ProgressCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            super().on_train_begin(args, state, control, **kwargs)
            bar = self.training_bar
            if bar is not None:
                bar.write = functools.partial(type(bar).write, file=sys.stderr)

    return StderrProgress()


def _checkpointing_arguments(enabled: bool) -> dict:
    """Activation (gradient) checkpointing under whichever name this transformers uses."""
    from transformers import TrainingArguments

    name = "activation" if "activation_checkpointing" in TrainingArguments.__dataclass_fields__ else "gradient"
    # Non-reentrant checkpointing also works when the inputs need no gradient (peft methods
    # freeze the embeddings).
    return {f"{name}_checkpointing": enabled, f"{name}_checkpointing_kwargs": {"use_reentrant": False}}


def training_arguments(cfg, output_dir, n_examples: int):
    import torch
    from transformers import TrainingArguments

    from ptrun.backends.device import pick_device

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
        # Length grouping is ptrun's own sampler (ShuffledLengthBatches), chosen in the trainer.
        train_sampling_strategy="random",
        eval_strategy="no",
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=cfg.save_total_limit,
        bf16=cfg.bf16,
        fp16=cfg.fp16,
        **_checkpointing_arguments(cfg.gradient_checkpointing),
        # Said explicitly on a machine without an accelerator: accelerate then runs several
        # processes as multi-CPU DDP (gloo) instead of silently training each one alone.
        use_cpu=cfg.device == "cpu" or (cfg.device == "auto" and pick_device("auto").type == "cpu"),
        logging_strategy="steps",
        logging_steps=max(1, total // 5),
        report_to="none",
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )


def train(model, tokenizer, features: list[dict], collator, cfg, output_dir, next_token_loss: bool = False, callbacks=()) -> dict:
    """Train ``model`` in place; return timing and loss figures for metrics.json. ``callbacks``
    (``TrainerCallback``s) are added to the Trainer."""
    args = training_arguments(cfg, output_dir, len(features))
    trainer = _trainer_class()(
        model=model,
        args=args,
        train_dataset=FeatureDataset(features),
        data_collator=collator,
        processing_class=tokenizer,
        # Batches of similar length waste little compute on padding.
        group_by_length=cfg.group_by_length,
        # AdaLoRA adds its orthogonality penalty to the model's own loss; keep that loss.
        per_label_loss=cfg.method != "adalora",
        causal=next_token_loss,
    )
    from transformers.trainer_callback import ProgressCallback

    # The Trainer prints its loss dicts through tqdm to stdout; they are progress, so stderr
    # (stdout is for results: `ptrun TASK > log` keeps the summary).
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(_stderr_progress())
    if cfg.method == "adalora":
        from ptrun.training.methods import adalora_callback

        trainer.add_callback(adalora_callback())
    for callback in callbacks:
        trainer.add_callback(callback)
    if args.world_size > 1:
        import click

        batches = len(trainer.get_train_dataloader())
        click.echo(f"process {args.process_index} of {args.world_size}: {batches} batches of its own shard per epoch", err=True)
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=True if cfg.resume else None)
    runtime = time.perf_counter() - start
    return {
        "train_runtime": round(runtime, 3),
        "train_sentences": len(features),
        "epochs": cfg.epochs,
        "train_samples_per_second": round(len(features) * cfg.epochs / runtime, 3),
        "train_loss": round(float(result.training_loss), 6),
        "steps": int(result.global_step),
        "world_size": args.world_size,
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total_parameters": sum(p.numel() for p in model.parameters()),
    }
