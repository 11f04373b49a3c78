"""Batched inference helpers shared by tasks."""

from __future__ import annotations


def device():
    """The accelerator if there is one, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def batches(features: list[dict], collator, batch_size: int, desc: str = "predict", model_inputs=None):
    """Yield ``(indices, batch)`` with examples sorted by length, so padding stays small.

    ``model_inputs`` restricts which feature keys reach the collator (others are bookkeeping).
    """
    from tqdm.auto import tqdm

    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    with tqdm(total=len(order), desc=desc, unit="ex", leave=False, disable=None) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            items = [features[i] for i in chunk]
            if model_inputs is not None:
                items = [{k: v for k, v in f.items() if k in model_inputs} for f in items]
            yield chunk, collator(items)
            bar.update(len(chunk))


def forward_batches(model, features, collator, batch_size, desc="predict", model_inputs=("input_ids", "attention_mask", "token_type_ids")):
    """Run ``model`` over ``features`` in length-sorted batches; yield ``(indices, batch, logits)``."""
    import torch

    model.eval()
    dev = next(model.parameters()).device
    with torch.inference_mode():
        for chunk, batch in batches(features, collator, batch_size, desc, model_inputs):
            batch = {k: v.to(dev) for k, v in batch.items() if k in model_inputs}
            logits = model(**batch).logits.float().cpu()
            yield chunk, batch, logits
