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
