"""The cached run listing's signature: unchanged by reads, changed by every write that matters."""

from __future__ import annotations

import os
import time

from dashboard.store.cache import ModelCache
from dashboard.ui.run_picker import cache_signature


def entry(root, name: str, record: bytes = b"{}", model: bytes = b"zip") -> None:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "record.json").write_bytes(record)
    (path / "model.keras").write_bytes(model)


def test_the_signature_follows_writes_but_not_reads(tmp_path):
    shipped, root = tmp_path / "shipped", tmp_path / "cache"
    entry(shipped, "s1")
    cache = ModelCache(root=root, shipped_root=shipped)
    empty = cache_signature(cache)
    entry(root, "a1")
    first = cache_signature(cache)
    assert first != empty
    os.utime(root / "a1" / "model.keras", (time.time() + 5, time.time() + 5))  # a read marks LRU recency
    assert cache_signature(cache) == first
    (root / ".tmp-123-a2").mkdir()  # a write in progress is not an entry yet
    assert cache_signature(cache) == first
    (root / "a1" / "model.keras").write_bytes(b"zi")  # damaged in place (truncated)
    truncated = cache_signature(cache)
    assert truncated != first
    (root / "a1" / "record.json").write_bytes(b'{"x": 1}')  # replaced record
    assert cache_signature(cache) != truncated
    os.rename(root / "a1", root / "a2")
    assert cache_signature(cache) not in (first, truncated)
    assert cache_signature(ModelCache(root=tmp_path / "nowhere", shipped_root=shipped)) != first
