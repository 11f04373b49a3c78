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


def pick_device(requested: str = "auto", *, bf16: bool = False, fp16: bool = False):
    """The device to use, or a clear error when the one asked for (or its precision) is missing."""
    import torch

    from ptrun.errors import PtrunError

    if requested == "auto":
        dev = device()
    else:
        dev = torch.device(requested)
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        }
        if not available.get(dev.type, False):
            found = ", ".join(k for k, ok in available.items() if ok)
            raise PtrunError(
                f"--device {requested}: no such device here (available: {found}).",
                hint="Use --device auto to pick the best one present.",
            )
    if fp16 and dev.type != "cuda":
        raise PtrunError(f"--fp16 needs a CUDA GPU; this run is on {dev.type}.", hint="Drop --fp16 or use --bf16.")
    if bf16 and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PtrunError("--bf16: this GPU does not support bfloat16.", hint="Use --fp16 instead.")
    if bf16 and fp16:
        raise PtrunError("--bf16 and --fp16 exclude each other.")
    return dev


def batches(features: list[dict], collator, batch_size: int, desc: str = "predict", model_inputs=None):
    """Yield ``(indices, batch)`` with examples sorted by length, so padding stays small.

    ``model_inputs`` restricts which feature keys reach the collator (others are bookkeeping).
    """
    from ptrun.log import progress

    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    with progress(len(order), desc) as bar:
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

    if any(m.training for m in model.modules()):  # eval() walks every module: ~3 ms a call on a 6-layer encoder, a tenth of a served request
        model.eval()
    dev = next(model.parameters()).device
    with torch.inference_mode():
        for chunk, batch in batches(features, collator, batch_size, desc, model_inputs):
            batch = {k: v.to(dev) for k, v in batch.items() if k in model_inputs}
            logits = model(**batch).logits.float().cpu()
            yield chunk, batch, logits
