"""Stage 2: shingle-hash sets -> MinHash signatures, value-for-value equal to ``datasketch.MinHash``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curate.similarity.arrays import fmix32
from curate.similarity.shingling import ShingleSets

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_U32_MAX = np.uint32((1 << 32) - 1)
# Hash values per MinHash chunk: the (num_perm, chunk) temporary stays in
# cache-friendly range (4 MiB at 128 permutations), measured fastest.
_CHUNK_VALUES = 8192


def mt19937_uint32(seed: int, n: int) -> np.ndarray:
    """The first ``n`` 32-bit outputs of ``np.random.RandomState(seed)``'s Mersenne Twister.

    RandomState seeds MT19937 with the reference ``init_genrand(seed)``; the
    stdlib's ``random.Random`` runs the same generator from any given state,
    so only the seeding is done here. ``RandomState.randint(0, 2**31, dtype=
    uint32)`` masks each output to 31 bits (never rejecting one), and
    ``randint(0, 2**32, dtype=uint32)`` returns it as it is.
    """
    import random

    if not 0 <= seed < 1 << 32:
        raise ValueError("seed must be between 0 and 2**32 - 1")  # as RandomState's
    state = [seed]
    for i in range(1, 624):
        prev = state[-1]
        state.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    gen = random.Random()
    gen.setstate((3, (*state, 624), None))  # position 624: the next draw regenerates the state, as RandomState's first
    return np.fromiter((gen.getrandbits(32) for _ in range(n)), dtype=np.uint32, count=n)


class MinHasher:
    """Vectorized MinHash, value-for-value equal to ``datasketch.MinHash``.

    ``scheme="affine32"`` is datasketch 2.x's default (``MinHash(num_perm,
    seed)``): the input hash is pre-mixed with the 32-bit MurmurHash3
    finalizer, then ``a * h + b`` modulo 2**32. ``scheme="legacy"`` is the
    pre-2.0 default: ``((a * h + b) mod 2**64) mod (2**61 - 1)``, truncated to
    32 bits; its 64-bit modulo makes it about 10x slower. Permutation
    parameters are drawn exactly as datasketch's ``MinHash._init_permutations``
    draws them from ``np.random.RandomState(seed)`` (tests compare the two):
    importing datasketch costs about a second, more than a small lint. The
    affine32 draws come from ``mt19937_uint32`` (the same generator, without
    importing ``numpy.random``, 14-35 ms of a small lint).

    Signatures are uint32 for both schemes (legacy values fit in 32 bits;
    datasketch stores them as uint64). A record with no hashes gets all
    ``2**32 - 1``, datasketch's empty MinHash.
    """

    def __init__(self, num_perm: int = 128, seed: int = 1, scheme: str = "affine32", workers: int = 1):
        if num_perm < 1:
            raise ValueError("num_perm must be positive")
        if scheme not in ("affine32", "legacy"):
            raise ValueError("scheme must be 'affine32' or 'legacy'")
        self.num_perm = num_perm
        self.seed = seed
        self.scheme = scheme
        self.workers = max(1, workers)
        if scheme == "legacy":
            gen = np.random.RandomState(seed)
            ab = np.array(
                [
                    (
                        gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
                        gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64),
                    )
                    for _ in range(num_perm)
                ],
                dtype=np.uint64,
            ).T
            self._a, self._b = ab[0].copy(), ab[1].copy()
        else:
            draws = mt19937_uint32(seed, 2 * num_perm)  # RandomState(seed).randint(0, 2**31 or 2**32, num_perm)
            self._a = (draws[:num_perm] & np.uint32(0x7FFFFFFF)) * np.uint32(2) + np.uint32(1)
            self._b = draws[num_perm:]

    @property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``(a, b)`` parameter arrays, as datasketch's ``permutations``."""
        return self._a, self._b

    def signatures(self, sets: ShingleSets | Sequence[np.ndarray]) -> np.ndarray:
        """MinHash signatures, shape ``(n, num_perm)``, dtype uint32.

        Input arrays hold 32-bit hash values (duplicates are harmless). The
        work runs in chunks of at most ``_CHUNK_VALUES`` hash values, so the
        temporary stays a few MiB; ``workers`` threads share the records
        (numpy releases the GIL in its loops; the gain is untested on a
        quiet multi-core machine, hence the default of 1).
        """
        if isinstance(sets, ShingleSets):
            values, offsets = sets.values, sets.offsets
        else:
            arrays = [np.asarray(a) for a in sets]
            offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
            np.cumsum([len(a) for a in arrays], out=offsets[1:])
            values = np.concatenate(arrays).astype(np.uint32) if arrays else np.empty(0, np.uint32)
        n = len(offsets) - 1
        out = np.full((self.num_perm, n), _U32_MAX, dtype=np.uint32)
        # Split records (not values) between workers so no record is shared.
        cuts = np.searchsorted(offsets, np.linspace(0, offsets[-1], self.workers + 1)[1:-1])
        bounds = [0, *sorted(set(int(c) for c in cuts)), n]
        blocks = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
        if len(blocks) > 1:
            from concurrent.futures import ThreadPoolExecutor  # only for a split batch: slow to import

            with ThreadPoolExecutor(len(blocks)) as pool:
                list(pool.map(lambda blk: self._fill(values, offsets, blk[0], blk[1], out), blocks))
        else:
            for lo, hi in blocks:
                self._fill(values, offsets, lo, hi, out)
        return out.T

    def _fill(self, values: np.ndarray, offsets: np.ndarray, r_lo: int, r_hi: int, out: np.ndarray) -> None:
        """Min-reduce records ``r_lo:r_hi`` into columns of ``out`` (num_perm, n)."""
        legacy = self.scheme == "legacy"
        dtype = np.uint64 if legacy else np.uint32
        a = self._a[:, None].astype(dtype)
        b = self._b[:, None].astype(dtype)
        buf = np.empty((self.num_perm, _CHUNK_VALUES), dtype=dtype)
        v_lo, v_hi = int(offsets[r_lo]), int(offsets[r_hi])
        for lo in range(v_lo, v_hi, _CHUNK_VALUES):
            hi = min(lo + _CHUNK_VALUES, v_hi)
            # Non-empty records overlapping [lo, hi), and their local starts.
            first = int(np.searchsorted(offsets, lo, side="right")) - 1
            last = int(np.searchsorted(offsets, hi, side="left"))
            rec = np.arange(first, last)
            rec = rec[offsets[rec + 1] > offsets[rec]]
            starts = np.maximum(offsets[rec], lo) - lo
            h = values[lo:hi]
            work = buf[:, : hi - lo]
            if legacy:
                np.multiply(a, h.astype(np.uint64), out=work)
                np.add(work, b, out=work)
                np.remainder(work, _MERSENNE_PRIME, out=work)
                np.bitwise_and(work, _MAX_HASH, out=work)
            else:
                np.multiply(a, fmix32(h), out=work)
                np.add(work, b, out=work)
            mins = np.minimum.reduceat(work, starts, axis=1)
            out[:, rec] = np.minimum(out[:, rec], mins)
