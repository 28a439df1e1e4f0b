"""Near-duplicate search in stages: shingles, MinHash signatures, LSH band keys, candidates, verification.

``shingling`` (stage 1), ``minhash`` (2), ``lsh`` (3-4), ``verify`` (5); ``search``
chains them under one ``SearchSettings`` for every caller. "Exact" verification is
up to 32-bit hash collisions between distinct shingles, rare enough (about 1e-5 per
pair of 150-shingle records) to ignore. See docs/architecture.md.
"""

from curate.similarity.lsh import LSHIndex, band_params
from curate.similarity.minhash import MinHasher
from curate.similarity.search import (
    SearchSettings,
    all_verified,
    band_keys,
    candidates,
    connected_components,
    cross_candidates,
    earliest_verified,
    find_cross_pairs,
    find_similar_pairs,
    recall_params,
)
from curate.similarity.shingling import (
    ShingleHasher,
    ShingleSets,
    hash_shingles,
    shingles,
    without_common,
)
from curate.similarity.verify import (
    jaccard,
    pair_jaccard,
    verify_in_rounds,
    verify_pairs,
)

__all__ = [
    "LSHIndex",
    "MinHasher",
    "SearchSettings",
    "ShingleHasher",
    "ShingleSets",
    "all_verified",
    "band_keys",
    "band_params",
    "candidates",
    "connected_components",
    "cross_candidates",
    "earliest_verified",
    "find_cross_pairs",
    "find_similar_pairs",
    "hash_shingles",
    "jaccard",
    "pair_jaccard",
    "recall_params",
    "shingles",
    "verify_in_rounds",
    "verify_pairs",
    "without_common",
]
