"""Model backends, one per model kind, behind :class:`ptrun.backends.base.Backend`."""

from __future__ import annotations


def backend_class(kind: str):
    """The backend class that runs models of ``kind``."""
    if kind == "causal-lm":
        from ptrun.backends.causal_lm import CausalLMBackend

        return CausalLMBackend
    from ptrun.backends.encoder import EncoderBackend

    return EncoderBackend
