"""Exact and near deduplication, deterministic: the first object seen in input order
stays, every later member of its cluster is dropped.

Exact: SHA-256 of the canonical JSON (sorted keys, server-set fields stripped).
Near: MinHash over token shingles of the canonical JSON with LSH (datasketch); BigCode's
defaults are 5-token shingles, 256 permutations and Jaccard 0.7. A candidate from LSH
counts as a duplicate only when the signatures' estimated Jaccard reaches the threshold,
which keeps band collisions from merging distinct objects.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from kubebench import defaults

_TOKEN = re.compile(r"[A-Za-z0-9]+")


def shingles(text: str, size: int = defaults.DATA_SHINGLE_SIZE) -> set[bytes]:
    """Every run of `size` consecutive tokens (the whole text when it is shorter)."""
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) <= size:
        return {" ".join(tokens).encode()}
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


@dataclass(frozen=True)
class NearMatch:
    key: str  # the kept object's key
    jaccard: float  # estimated from the signatures


class ExactDeduplicator:
    """Remembers 16 bytes per distinct canonical object."""

    def __init__(self) -> None:
        self._seen: dict[bytes, str] = {}

    def first_seen(self, canonical: str, key: str) -> str | None:
        """None for a new object (now remembered), else the key of the one it repeats."""
        digest = hashlib.sha256(canonical.encode()).digest()[:16]
        earlier = self._seen.get(digest)
        if earlier is None:
            self._seen[digest] = key
        return earlier

    def __len__(self) -> int:
        return len(self._seen)


class NearDeduplicator:
    """MinHash LSH over kept objects; `check_and_add` is the whole interface."""

    def __init__(
        self,
        threshold: float = defaults.DATA_JACCARD_THRESHOLD,
        num_perm: int = defaults.DATA_MINHASH_PERMUTATIONS,
        shingle_size: int = defaults.DATA_SHINGLE_SIZE,
        seed: int = defaults.DATA_MINHASH_SEED,
    ) -> None:
        from datasketch import MinHash, MinHashLSH

        self._minhash = MinHash
        self.threshold, self.num_perm, self.shingle_size, self.seed = (
            threshold, num_perm, shingle_size, seed,
        )  # fmt: skip
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        # Kept signatures, for the Jaccard check on LSH candidates (values fit 32 bits).
        self._signatures: dict[str, np.ndarray] = {}
        # One permutation table reused for every MinHash (datasketch would redraw it).
        self._template = MinHash(num_perm=num_perm, seed=seed)

    def signature(self, text: str) -> object:
        m = self._minhash(
            num_perm=self.num_perm,
            seed=self.seed,
            permutations=self._template.permutations,
            scheme=self._template.scheme,
        )
        m.update_batch(sorted(shingles(text, self.shingle_size)))
        return m

    def check_and_add(self, text: str, key: str) -> NearMatch | None:
        """None when no kept object is this near (the object is kept and indexed), else
        the best kept match."""
        m = self.signature(text)
        values = m.hashvalues.astype(np.uint32)  # type: ignore[attr-defined]
        best: NearMatch | None = None
        for other in sorted(self._lsh.query(m)):
            jaccard = float(np.mean(self._signatures[other] == values))
            if jaccard >= self.threshold and (best is None or jaccard > best.jaccard):
                best = NearMatch(other, jaccard)
        if best is None:
            self._lsh.insert(key, m, check_duplication=False)
            self._signatures[key] = values
        return best

    def __len__(self) -> int:
        return len(self._signatures)
