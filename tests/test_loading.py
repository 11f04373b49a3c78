"""Model loading: the GGUF cache check hashes a file once, not on every run."""

from __future__ import annotations

import os

from ptrun.backends import loading


def test_gguf_digest_is_kept_until_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("PTRUN_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 100)
    calls = []
    real = loading.file_sha256
    monkeypatch.setattr(loading, "file_sha256", lambda p: calls.append(p) or real(p))
    first = loading.gguf_digest(gguf)
    assert loading.gguf_digest(gguf) == first and len(calls) == 1  # the stored digest answered
    gguf.write_bytes(b"GGUF" + b"\1" * 100)
    os.utime(gguf, ns=(gguf.stat().st_atime_ns, gguf.stat().st_mtime_ns + 10**9))
    second = loading.gguf_digest(gguf)
    assert len(calls) == 2 and second != first  # a changed file is hashed again
    assert second == real(gguf)


def test_gguf_digest_survives_an_unwritable_cache(tmp_path, monkeypatch):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("PTRUN_CACHE", str(blocked))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert loading.gguf_digest(gguf) == loading.file_sha256(gguf)
