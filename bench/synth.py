"""Synthetic conversations for benchmarks: varied vocabulary, realistic lengths, clean by default."""

from __future__ import annotations

import json
import random

WORDS = (
    "data model train network layer value system process energy market price city river language code "
    "function memory signal cell protein planet light sound history policy theory method result error "
    "question answer example reason effect cause change growth design test server client request file "
    "image color pattern structure element number table query index cache latency budget risk team goal"
).split()
VERBS = "explains shows changes improves reduces measures describes predicts stores connects".split()
OPENERS = ["Can you explain", "How does", "Why is", "What happens when", "Give me an overview of", "Compare"]


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    words.insert(rng.randrange(1, n), rng.choice(VERBS))
    return " ".join(words).capitalize() + "."


def conversation(rng: random.Random, i: int) -> dict:
    system = [{"role": "system", "content": "You are a helpful assistant."}] if rng.random() < 0.9 else []
    turns = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        topic = " ".join(rng.choice(WORDS) for _ in range(4))
        question = f"{rng.choice(OPENERS)} {topic} (ticket {i}-{rng.randrange(10**6)})?"
        answer = " ".join(sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(3, 12)))
        turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": system + turns}


def write(path: str, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(conversation(rng, i)) + "\n")


# --------------------------------------------------------------------------
# Planted duplicates and leaks (bench_similarity.py)


def _normalized(record: dict) -> str:
    from curate.formats import FORMATS, to_messages
    from curate.text import role_tagged

    return role_tagged(to_messages(record, FORMATS["openai"]))


def shingle_jaccard(a: dict, b: dict) -> float:
    """Jaccard of the word 3-gram shingle sets of two records' normalized texts, as D002/L002 define it."""
    from curate.similarity import jaccard, shingles

    return jaccard(shingles(_normalized(a)), shingles(_normalized(b)))


def exact_copy(rng: random.Random, record: dict) -> dict:
    """A copy whose normalized text is equal: half verbatim, half with case and spacing changed."""
    copy = json.loads(json.dumps(record))
    if rng.random() < 0.5:
        last = copy["messages"][-1]
        last["content"] = last["content"].upper().replace(" ", "  ", 3)
    return copy


def near_copy(rng: random.Random, record: dict, serial: int, min_jaccard: float = 0.8) -> tuple[dict, float]:
    """A copy with a few words of the final answer replaced, and its shingle Jaccard (>= ``min_jaccard``, < 1)."""
    words = record["messages"][-1]["content"].split(" ")
    edits = rng.randint(1, max(1, len(words) // 25))
    while True:
        changed = list(words)
        for k, pos in enumerate(rng.sample(range(len(words)), min(edits, len(words)))):
            changed[pos] = f"edit{serial}x{k}"
        copy = json.loads(json.dumps(record))
        copy["messages"][-1]["content"] = " ".join(changed)
        similarity = shingle_jaccard(record, copy)
        if min_jaccard <= similarity < 1.0 or edits == 1:
            if not min_jaccard <= similarity < 1.0:
                raise ValueError(f"cannot plant a near-duplicate of Jaccard >= {min_jaccard}")
            return copy, similarity
        edits -= 1


def write_planted(
    directory: str,
    n: int,
    seed: int = 0,
    eval_fraction: float = 0.1,
    dup_rate: float = 0.01,
    near_rate: float = 0.02,
    leak_rate: float = 0.05,
) -> dict:
    """Write ``train.jsonl`` and ``eval.jsonl`` (``n`` records in all) with planted pairs; return the truth.

    Train holds ``dup_rate`` exact duplicates and ``near_rate`` near-duplicates
    (Jaccard >= 0.8) of other train records; ``leak_rate`` of the eval records
    are copied exactly into train and as many near-copied. Every source record
    is used once and planted records are never sources, so each planted pair
    is the only similar pair of its two records. Planted copies sit at random
    positions after their source. The truth lists ``[source, copy, jaccard]``
    with records as ``[file, line]``: ``dups`` and ``near`` (both in train)
    and ``exact_leaks`` / ``near_leaks`` (source in eval, copy in train).
    """
    import os

    rng = random.Random(seed)
    n_eval = max(1, round(n * eval_fraction))
    n_train = n - n_eval
    n_dup, n_near = round(n_train * dup_rate), round(n_train * near_rate)
    n_leak = round(n_eval * leak_rate)
    n_base = n_train - n_dup - n_near - 2 * n_leak
    if n_base < n_dup + n_near or n_eval < 2 * n_leak:
        raise ValueError("too few records for the planted rates")
    evals = [conversation(rng, n_base + i) for i in range(n_eval)]
    base = [conversation(rng, i) for i in range(n_base)]
    # Train order: base records, with each copy inserted at a random later position.
    sources = rng.sample(range(n_base), n_dup + n_near)
    slots: list[list] = [[] for _ in range(n_base + 1)]
    planted = []
    for k, src in enumerate(sources):
        if k < n_dup:
            copy, sim, kind = exact_copy(rng, base[src]), 1.0, "dups"
        else:
            copy, sim = near_copy(rng, base[src], k)
            kind = "near"
        entry = [kind, ("train", src), sim]
        slots[rng.randint(src + 1, n_base)].append((copy, entry))
        planted.append(entry)
    for k, src in enumerate(rng.sample(range(n_eval), 2 * n_leak)):
        if k < n_leak:
            copy, sim, kind = exact_copy(rng, evals[src]), 1.0, "exact_leaks"
        else:
            copy, sim = near_copy(rng, evals[src], n_dup + n_near + k)
            kind = "near_leaks"
        entry = [kind, ("eval", src), sim]
        slots[rng.randint(0, n_base)].append((copy, entry))
        planted.append(entry)
    train_line = {}
    train_path = os.path.join(directory, "train.jsonl")
    eval_path = os.path.join(directory, "eval.jsonl")
    with open(train_path, "w", encoding="utf-8") as f:
        line = 0
        for i in range(n_base + 1):
            if i:
                line += 1
                train_line[i - 1] = line
                f.write(json.dumps(base[i - 1]) + "\n")
            for copy, entry in slots[i]:
                line += 1
                entry.append(line)
                f.write(json.dumps(copy) + "\n")
    with open(eval_path, "w", encoding="utf-8") as f:
        for record in evals:
            f.write(json.dumps(record) + "\n")
    truth = {
        "train": train_path,
        "eval": eval_path,
        "records": n,
        "dups": [],
        "near": [],
        "exact_leaks": [],
        "near_leaks": [],
    }
    for kind, (side, src), sim, copy_line in planted:
        source = [train_path, train_line[src]] if side == "train" else [eval_path, src + 1]
        truth[kind].append([source, [train_path, copy_line], sim])
    return truth
