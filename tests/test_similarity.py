"""Tests for curate.similarity (the search stages): datasketch compatibility, LSH, verification, clustering."""

from __future__ import annotations

import inspect
import itertools
import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.hashfunc import sha1_hash32
from datasketch.lsh import _optimal_param

import curate.similarity.shingling
import curate.similarity.verify  # noqa: F401 (patched through similarity.verify)
from curate import similarity
from curate.similarity import (
    LSHIndex,
    MinHasher,
    ShingleHasher,
    ShingleSets,
    band_params,
    connected_components,
    find_cross_pairs,
    find_similar_pairs,
    hash_shingles,
    jaccard,
    pair_jaccard,
    shingles,
    verify_pairs,
)
from curate.similarity.minhash import mt19937_uint32

HAS_SCHEMES = "scheme" in inspect.signature(MinHash.__init__).parameters
SCHEMES = [
    pytest.param("affine32", marks=pytest.mark.skipif(not HAS_SCHEMES, reason="datasketch < 2.0")),
    "legacy",
]


def ds_minhash(num_perm: int, seed: int, scheme: str, **kw) -> MinHash:
    if HAS_SCHEMES:
        return MinHash(num_perm=num_perm, seed=seed, scheme=scheme, **kw)
    assert scheme == "legacy"
    return MinHash(num_perm=num_perm, seed=seed, **kw)


def words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def pair_with_jaccard(tag: str, n_shingles: int, replaced: int) -> tuple[str, str, float]:
    """Two texts whose 3-gram Jaccard is (S - m) / (S + m): the second
    replaces the last ``m`` of ``S + 2`` distinct words."""
    a = words(tag, n_shingles + 2)
    b = a[: len(a) - replaced] + words(tag + "x", replaced)
    return " ".join(a), " ".join(b), (n_shingles - replaced) / (n_shingles + replaced)


def templated(n: int, seed: int, length: int = 200, edits: int = 2) -> list[str]:
    rng = random.Random(seed)
    template = [f"t{rng.randrange(10**6)}" for _ in range(length)]
    out = []
    for _ in range(n):
        text = list(template)
        for _ in range(edits):
            text[rng.randrange(length)] = f"v{rng.randrange(10**9)}"
        out.append(" ".join(text))
    return out


# --------------------------------------------------------------------------
# Shingles and hashes


def test_shingles_and_jaccard_edge_cases():
    assert shingles("a b c d") == {"a b c", "b c d"}
    assert shingles("a  b\nc") == {"a b c"}
    assert shingles("a b") == {"a b"}
    assert shingles("") == {""}
    assert shingles("a b c", k=2) == {"a b", "b c"}
    assert jaccard(shingles(""), shingles("   ")) == 1.0
    assert jaccard(set(), set()) == 1.0
    assert jaccard({"x"}, {"y"}) == 0.0
    assert jaccard({1, 2, 3}, {2, 3, 4}) == 0.5


def test_hash_shingles_is_datasketch_sha1_hash32():
    sh = shingles("the quick brown fox jumps over the lazy dog the quick brown")
    got = hash_shingles(sh)
    assert got.dtype == np.uint32
    assert got.tolist() == sorted({sha1_hash32(s.encode()) for s in sh})
    # Lone surrogates (from JSON escapes) must not crash hashing.
    assert len(hash_shingles({"bad \ud800 text"})) == 1


def test_shingle_sets_from_arrays_sorts_and_deduplicates():
    sets = ShingleSets.from_arrays([np.array([5, 1, 5, 3]), np.array([], dtype=np.uint32), [7]])
    assert len(sets) == 3
    assert sets[0].tolist() == [1, 3, 5]
    assert sets[1].tolist() == []
    assert sets[2].tolist() == [7]
    both = ShingleSets.concat([sets, sets.slice(2, 3)])
    assert [both[i].tolist() for i in range(len(both))] == [[1, 3, 5], [], [7], [7]]
    with pytest.raises(ValueError):
        ShingleSets.from_arrays([np.array([1 << 32])])


TRICKY_TEXTS = [
    "",
    " ",
    "one",
    "one two",
    "one two three",
    " one  two \n three four ",
    "naïve café 日本語 text with accents",
    "split\u2003on em space and\u00a0nbsp",
    "line\u2028separator and\x1funit separator",
    "tab\tand\x0bvertical\x0cform feed",
]


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_fast_hasher_gives_the_same_sets_as_shingles(k):
    rng = random.Random(k)
    vocab = ["a", "b", "c", "dé", "日本", "x\u2003y", "p\u00a0q", "t\tz", "l\u2028m"] + words("w", 10)
    texts = TRICKY_TEXTS + [" ".join(rng.choices(vocab, k=rng.randint(0, 14))) for _ in range(70)]
    fast = ShingleHasher(k, method="fast").hash_many(texts)
    slow = ShingleHasher(k).hash_many(texts)
    sets = [shingles(t, k) for t in texts]
    for i, s in enumerate(sets):
        assert len(fast[i]) == len(slow[i]) == len(s), repr(texts[i])
        assert slow[i].tolist() == hash_shingles(s).tolist()
    for i, j in itertools.combinations(range(len(texts)), 2):
        shared = len(sets[i] & sets[j])
        assert len(np.intersect1d(fast[i], fast[j])) == shared, (texts[i], texts[j])
    # One text at a time agrees with the batch.
    hasher = ShingleHasher(k, method="fast")
    assert all(hasher(t).tolist() == fast[i].tolist() for i, t in enumerate(texts))


def test_fast_hasher_splits_large_inputs_into_batches(monkeypatch):
    texts = [" ".join(words(f"r{i}_", 40)) for i in range(60)]
    whole = ShingleHasher(method="fast").hash_many(texts)
    monkeypatch.setattr(similarity.shingling, "_FAST_BATCH_BYTES", 500)
    parts = ShingleHasher(method="fast").hash_many(texts)
    assert np.array_equal(whole.values, parts.values)
    assert np.array_equal(whole.offsets, parts.offsets)


# --------------------------------------------------------------------------
# MinHash compatibility


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 7)])
def test_signatures_equal_datasketch(scheme, num_perm, seed):
    texts = [
        "",
        "hi",
        "the cat sat on the mat",
        "what is the boiling point of water at sea level it is 100 degrees celsius",
        " ".join(words("w", 300)),
    ]
    sets = ShingleHasher().hash_many(texts)
    sig = MinHasher(num_perm, seed, scheme).signatures(sets)
    assert sig.shape == (len(texts), num_perm)
    assert sig.dtype == np.uint32
    for i, text in enumerate(texts):
        m = ds_minhash(num_perm, seed, scheme)
        for s in shingles(text):
            m.update(s.encode())
        assert np.array_equal(sig[i], m.hashvalues), text


@pytest.mark.parametrize("scheme", SCHEMES)
def test_signatures_across_chunk_boundaries_and_threads(scheme):
    rng = np.random.default_rng(3)
    sizes = [0, 1, 20000, 5, 0, 9000, 3, 8192, 1]
    arrays = [rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32) for n in sizes]
    one = MinHasher(32, 5, scheme, workers=1).signatures(arrays)
    two = MinHasher(32, 5, scheme, workers=2).signatures(ShingleSets.from_arrays(arrays))
    assert np.array_equal(one, two)
    for i, values in enumerate(arrays):
        m = ds_minhash(32, 5, scheme, hashfunc=int)
        if len(values):
            m.update_batch(values.tolist())
        assert np.array_equal(one[i], m.hashvalues), sizes[i]


# --------------------------------------------------------------------------
# LSH


@pytest.mark.parametrize(
    ("threshold", "num_perm"), [(0.5, 128), (0.7, 128), (0.9, 128), (0.8, 64), (0.3, 32), (0.7, 256)]
)
def test_band_params_match_datasketch(threshold, num_perm):
    assert band_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def near_duplicate_corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    vocab = words("v", 3000)
    bases = [rng.choices(vocab, k=40) for _ in range(n // 5)]
    texts = []
    for _ in range(n):
        text = list(rng.choice(bases))
        for _ in range(rng.randint(0, 10)):
            text[rng.randrange(len(text))] = rng.choice(vocab)
        texts.append(" ".join(text))
    return texts


@pytest.mark.skipif(not HAS_SCHEMES, reason="datasketch < 2.0 defaults to legacy signatures")
def test_lsh_candidates_equal_datasketch_minhashlsh():
    texts = near_duplicate_corpus(300, seed=1)
    sig = MinHasher().signatures(ShingleHasher().hash_many(texts))
    index = LSHIndex(0.7, 128, fanout=10_000)
    index.add(sig[:100])
    index.add(sig[100:])
    ours = set(map(tuple, index.candidate_pairs().tolist()))

    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    minhashes = [ds_minhash(128, 1, "affine32") for _ in texts]
    for i, (m, text) in enumerate(zip(minhashes, texts)):
        m.update_batch([s.encode() for s in shingles(text)])
        lsh.insert(i, m)
    theirs = {(min(i, j), max(i, j)) for j, m in enumerate(minhashes) for i in lsh.query(m) if i != j}
    assert len(theirs) > 20
    assert ours == theirs

    left, right = LSHIndex(), LSHIndex()
    left.add(sig[:150])
    right.add(sig[150:])
    cross = set(map(tuple, left.cross_candidates(right).tolist()))
    assert cross == {(i, j - 150) for i, j in theirs if i < 150 <= j}


def test_bucket_rule_pairs_first_members_and_predecessor():
    rng = np.random.default_rng(8)
    same = rng.integers(0, 1 << 32, 128, dtype=np.uint64).astype(np.uint32)
    alone = rng.integers(0, 1 << 32, (2, 128), dtype=np.uint64).astype(np.uint32)
    # Records 0..7 share every band; 8 and 9 share nothing with anyone.
    index = LSHIndex(0.7, 128, fanout=2)
    index.add(np.vstack([np.tile(same, (8, 1)), alone]))
    expected = {(0, 1), (0, 2), (1, 2)} | {(i, t) for t in range(3, 8) for i in (0, 1, t - 1)}
    assert set(map(tuple, index.candidate_pairs().tolist())) == expected

    left, right = LSHIndex(0.7, 128, fanout=2), LSHIndex(0.7, 128, fanout=2)
    left.add(np.vstack([alone[:1], np.tile(same, (5, 1))]))
    right.add(np.vstack([np.tile(same, (4, 1)), alone[1:]]))
    cross = set(map(tuple, left.cross_candidates(right).tolist()))
    assert cross == {(i, j) for i in range(1, 6) for j in (0, 1)} | {(i, j) for i in (1, 2) for j in range(4)}


def test_bucket_cap_bounds_candidates_of_templated_records():
    n = 1000
    sets = ShingleHasher(method="fast").hash_many(templated(n, seed=5))
    index = LSHIndex(0.7, 128, fanout=4)
    index.add(MinHasher().signatures(sets))
    pairs = index.candidate_pairs()
    assert len(pairs) <= index.bands * (index.fanout + 1) * n
    assert len(pairs) < n * (n - 1) // 20
    assert np.all(pairs[:, 0] < pairs[:, 1])
    assert len(np.unique(pairs, axis=0)) == len(pairs)


# --------------------------------------------------------------------------
# Verification and end to end


def test_verify_pairs_at_the_threshold_boundary():
    exact_a, exact_b, j_exact = pair_with_jaccard("e", 17, 3)  # 14 / 20 = 0.7
    above_a, above_b, j_above = pair_with_jaccard("a", 100, 17)  # 83 / 117
    below_a, below_b, j_below = pair_with_jaccard("b", 100, 21)  # 79 / 121
    assert (j_exact, round(j_above, 3), round(j_below, 3)) == (0.7, 0.709, 0.653)
    texts = [exact_a, exact_b, above_a, above_b, below_a, below_b, "", ""]
    sets = ShingleHasher().hash_many(texts)
    candidates = np.array([[0, 1], [2, 3], [4, 5], [6, 7], [0, 3]])
    sims = pair_jaccard(sets, sets, candidates)
    expected = [jaccard(shingles(texts[i]), shingles(texts[j])) for i, j in candidates]
    assert sims.tolist() == expected
    kept, kept_sims = verify_pairs(sets, sets, candidates, 0.7)
    assert kept.tolist() == [[0, 1], [2, 3], [6, 7]]
    assert kept_sims.tolist() == [0.7, j_above, 1.0]


def test_pair_jaccard_in_many_batches(monkeypatch):
    texts = near_duplicate_corpus(60, seed=9)
    sets = ShingleHasher().hash_many(texts)
    pairs = np.array(list(itertools.combinations(range(len(texts)), 2)))
    whole = pair_jaccard(sets, sets, pairs)
    monkeypatch.setattr(similarity.verify, "_VERIFY_BATCH", 100)
    assert np.array_equal(pair_jaccard(sets, sets, pairs), whole)
    sh = [shingles(t) for t in texts]
    assert whole.tolist() == [jaccard(sh[i], sh[j]) for i, j in pairs]


def test_find_similar_pairs_reports_only_truly_similar_pairs():
    texts, positives, negatives = [], [], []
    for p in range(30):
        a, b, _ = pair_with_jaccard(f"p{p}_", 100, 12 + p % 5)  # 0.72 .. 0.79
        positives.append((len(texts), len(texts) + 1))
        texts += [a, b]
    for q in range(40):
        a, b, _ = pair_with_jaccard(f"q{q}_", 100, 19 + q % 4)  # 0.63 .. 0.68
        negatives.append((len(texts), len(texts) + 1))
        texts += [a, b]
    duplicate = len(texts)
    texts += [texts[0]]  # an exact duplicate is always found
    sets = ShingleHasher().hash_many(texts)
    found = find_similar_pairs(sets)
    sh = [shingles(t) for t in texts]
    for i, j, sim in found:
        assert i < j
        assert sim == jaccard(sh[i], sh[j]) >= 0.7
    reported = {(i, j) for i, j, _ in found}
    assert (0, duplicate) in reported
    assert len(reported & set(positives)) >= 8  # LSH recall near 0.7 is about one half
    assert not reported & set(negatives)
    # The negatives were not merely missed by LSH: verification rejected some.
    index = LSHIndex()
    index.add(MinHasher().signatures(sets))
    assert set(map(tuple, index.candidate_pairs().tolist())) & set(negatives)
    # Plain arrays work as input too.
    assert find_similar_pairs([sets[i] for i in range(len(sets))]) == found


def test_templated_records_give_bounded_verified_links():
    n = 1000
    texts = templated(n, seed=11)
    sets = ShingleHasher(method="fast").hash_many(texts)
    found = find_similar_pairs(sets)
    everything = find_similar_pairs(sets, verify_all=True)
    assert len(found) <= 4 * n
    assert set(found) <= set(everything)
    assert len(everything) < 100_000  # all pairs would be ~500k
    sh = [shingles(t) for t in texts]
    for i, j, sim in found + everything[::10]:
        assert sim == jaccard(sh[i], sh[j]) >= 0.7
    assert min(sim for _, _, sim in everything) >= 0.7
    linked = {j for _, j, _ in found}
    assert len(linked) >= 0.99 * (n - 1)
    # Links go to the earliest records first, and keep the cluster together.
    assert min(i for i, _, _ in found) == 0
    assert np.bincount(connected_components(n, found)).max() >= 0.99 * n


def test_rounds_move_past_candidates_that_fail_verification():
    a = " ".join(words("a", 30))
    b = " ".join(words("b", 30))
    texts = [b, a, a + " extra", a]
    sets = ShingleHasher().hash_many(texts)
    candidates = np.array([[0, 3], [1, 3], [2, 3], [0, 2], [1, 2]])
    pairs, sims = similarity.verify_in_rounds(sets, sets, candidates, 0.7, 1, 1)
    # Record 3: round one tries 0 (fails), round two 1 (matches), so 2 is never tried.
    assert pairs.tolist() == [[1, 2], [1, 3]]
    pairs, _ = similarity.verify_in_rounds(sets, sets, candidates, 0.7, 1, None)
    assert pairs.tolist() == [[1, 2], [1, 3], [2, 3]]


def test_find_cross_pairs():
    rng = random.Random(4)
    left = [" ".join(rng.choices(words("L", 2000), k=60)) for _ in range(200)]
    right = [" ".join(rng.choices(words("R", 2000), k=60)) for _ in range(100)]
    leaks = {(3, 7), (50, 0), (199, 99)}
    for i, j in leaks:
        right[j] = left[i]
    near = left[10].split()
    near[-2:] = ["changed", "words"]
    right[20] = " ".join(near)
    assert jaccard(shingles(left[10]), shingles(right[20])) > 0.9
    leaks.add((10, 20))
    left[11] = left[10]  # a duplicate within one side is no cross pair
    found = find_cross_pairs(ShingleHasher().hash_many(left), ShingleHasher().hash_many(right))
    assert {(i, j) for i, j, _ in found} == leaks | {(11, 20)}
    for i, j, sim in found:
        assert sim == jaccard(shingles(left[i]), shingles(right[j]))


def test_find_cross_pairs_templated_is_bounded():
    texts = templated(600, seed=2)
    left = ShingleHasher(method="fast").hash_many(texts[:400])
    right = ShingleHasher(method="fast").hash_many(texts[400:])
    found = find_cross_pairs(left, right)
    assert len(found) <= 4 * 400
    assert len({i for i, _, _ in found}) >= 0.98 * 400  # nearly every train record is flagged
    sh = [shingles(t) for t in texts]
    for i, j, sim in found:
        assert sim == jaccard(sh[i], sh[400 + j]) >= 0.7


# --------------------------------------------------------------------------
# Clustering


def test_connected_components():
    pairs = [(0, 3, 0.9), (3, 5, 0.8), (2, 6, 1.0), (7, 6, 0.7)]
    assert connected_components(9, pairs).tolist() == [0, 1, 2, 0, 3, 0, 2, 2, 4]
    assert connected_components(3, []).tolist() == [0, 1, 2]
    assert connected_components(0, []).tolist() == []
    # A long path given in shuffled order is one component; two paths are two.
    rng = np.random.default_rng(0)
    perm = rng.permutation(2000)
    path = np.stack([perm[:-1], perm[1:]], axis=1)
    path = path[rng.permutation(len(path))]
    halves = path[np.isin(path, perm[:1000]).all(axis=1) | np.isin(path, perm[1000:]).all(axis=1)]
    assert np.all(connected_components(2000, path) == 0)
    labels = connected_components(2000, halves)
    assert labels.max() == 1
    assert len(set(labels[perm[:1000]])) == 1
    assert len(set(labels[perm[1000:]])) == 1


@pytest.mark.parametrize("seed", [0, 1, 2, 12345, 2**32 - 1])
def test_mt19937_draws_equal_random_state(seed):
    """The affine32 permutations need numpy.random's Mersenne Twister, not its import: same outputs."""
    expected = np.random.RandomState(seed).randint(0, 1 << 32, 1000, dtype=np.uint32)
    assert (mt19937_uint32(seed, 1000) == expected).all()
    with pytest.raises(ValueError, match="seed"):
        mt19937_uint32(1 << 32, 1)
