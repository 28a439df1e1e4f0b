"""What the gate is worth: eval loss with and without planted eval leaks, against a truly held-out set.

A controlled task (random "secret word" facts, learnable only by memorising them)
is trained twice with ``curate train``'s own training code on a tiny Llama model
built offline:

1. as is: the train file contains copies and near-copies of the eval records and
   contradicting answers (the gate refuses this data; the run goes around it);
2. curated: the same records after ``curate fix --unsafe`` and ``curate split``,
   trained through ``curate train`` with the gate.

Each run's eval loss on its own eval set (the figure one would report) is set
against the loss on held-out facts no file contains. Leakage shows as a
reported loss far below the held-out one.

    python bench/bench_gate_value.py --workdir /tmp/gate-bench
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

SYLLABLES = ["ka", "lo", "mi", "ru", "te", "zo", "pa", "ne", "vi", "do", "su", "ha", "ge", "fo", "bi", "ya"]


def word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


def fact(key: str, value: str, filler: str = "") -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"What is the secret word for {key}?{filler}"},
            {"role": "assistant", "content": f"{value}."},
        ]
    }


def make_data(root: Path, seed: int, n_train: int, n_eval: int, n_held: int, n_contradictions: int) -> dict:
    """train_leaky.jsonl, eval.jsonl and heldout.jsonl: the eval facts are planted in train, some contradicted."""
    rng = random.Random(seed)
    keys = list(dict.fromkeys(word(rng, 3) for _ in range(4 * (n_train + n_eval + n_held))))
    facts = [(key, word(rng, 2)) for key in keys[: n_train + n_eval + n_held]]
    train, evals, held = facts[:n_train], facts[n_train : n_train + n_eval], facts[n_train + n_eval :]
    leaky = [fact(k, v) for k, v in train]
    leaky += [fact(k, v) if i % 2 else fact(k, v, " Please answer.") for i, (k, v) in enumerate(evals)]  # exact/near
    leaky += [fact(k, word(rng, 2)) for k, _ in train[:n_contradictions]]  # same question, another answer
    rng.shuffle(leaky)
    files = {"train_leaky": leaky, "eval": [fact(k, v) for k, v in evals], "heldout": [fact(k, v) for k, v in held]}
    for name, records in files.items():
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return {name: len(records) for name, records in files.items()}


def curate_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", *args], cwd=cwd, capture_output=True, text=True, check=False)


def curated_data(root: Path, seed: int) -> dict:
    """``curate fix --unsafe`` over train and eval together, then ``curate split`` of what is left."""
    pool = root / "pool.jsonl"
    pool.write_text((root / "train_leaky.jsonl").read_text() + (root / "eval.jsonl").read_text())
    fixed = curate_cli("fix", "pool.jsonl", "--unsafe", "-o", "pool.fixed.jsonl", cwd=root)
    if fixed.returncode not in (0, 1):
        raise SystemExit(f"curate fix failed: {fixed.stderr}")
    split = curate_cli(
        "split", "pool.fixed.jsonl", "--ratios", "0.85,0.15", "--seed", str(seed), "-o", "curated", cwd=root
    )
    if split.returncode != 0:
        raise SystemExit(f"curate split failed: {split.stderr}")

    def lines(path) -> int:
        return len(Path(path).read_text().splitlines())

    return {
        "pool": lines(pool),
        "after_fix": lines(root / "pool.fixed.jsonl"),
        "train": lines(root / "curated/train.jsonl"),
        "eval": lines(root / "curated/eval.jsonl"),
        "fix_summary": fixed.stdout.strip().splitlines()[-1:],
    }


def train(root: Path, model: str, data: str, eval_path: str, output: str, args) -> dict:
    """Train with curate's training code (run A goes around the gate, which refuses leaky data)."""
    from curate.train.config import TrainConfig
    from curate.train.run import RunInputs, run

    config = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=8,
        grad_accum=1,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        target_modules="all-linear",
        max_seq_len=256,
        seed=args.seed,
        logging_steps=5,
        early_stopping_patience=1000,
        packing=False,
        save_total_limit=1,
    )
    started = time.time()
    report = run(RunInputs(model, str(root / data), str(root / eval_path), str(root / output), config, gate="none"))
    report["bench_wall_s"] = round(time.time() - started, 1)
    return report


def loss_on(model_dir: str, adapter_dir: str, path: Path) -> float:
    """Token-weighted loss of the adapted model on the trained tokens of the examples in ``path``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from curate.train.data import IGNORE_INDEX, build_dataset, read_examples
    from curate.train.model import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    examples = build_dataset(tokenizer, read_examples(str(path)), 256).kept
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), adapter_dir).eval()
    total = count = 0.0
    with torch.no_grad():
        for example in examples:
            ids, labels = torch.tensor([example.input_ids]), torch.tensor([example.labels])
            logits = model(input_ids=ids).logits[:, :-1]
            losses = torch.nn.functional.cross_entropy(
                logits.transpose(1, 2), labels[:, 1:], ignore_index=IGNORE_INDEX, reduction="sum"
            )
            total += losses.item()
            count += (labels[:, 1:] != IGNORE_INDEX).sum().item()
    return round(total / count, 4)


def build_bench_model(root: Path, args) -> str:
    """A tiny random Llama with a BPE tokenizer trained on the facts (initialised wide enough for LoRA to fit)."""
    from curate.train.tinymodel import build_model, build_tokenizer, conversation_texts

    model = str(root / "tiny")
    tokenizer = build_tokenizer(conversation_texts([str(root / "train_leaky.jsonl"), str(root / "heldout.jsonl")]), 500)
    build_model(tokenizer, hidden_size=args.hidden, layers=2, seed=args.seed, initializer_range=0.1).save_pretrained(
        model
    )
    tokenizer.save_pretrained(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--model", help="a pretrained model directory to fine-tune instead of a tiny random one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-facts", type=int, default=40)
    parser.add_argument("--eval-facts", type=int, default=16)
    parser.add_argument("--heldout-facts", type=int, default=16)
    parser.add_argument("--contradictions", type=int, default=4)
    parser.add_argument("--epochs", type=float, default=40)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--hidden", type=int, default=128, help="hidden size of the tiny Llama model")
    parser.add_argument("--lora-r", type=int, default=64)
    args = parser.parse_args()
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    sizes = make_data(root, args.seed, args.train_facts, args.eval_facts, args.heldout_facts, args.contradictions)
    curated = curated_data(root, args.seed)
    gate = curate_cli(
        "lint",
        "train_leaky.jsonl",
        "eval.jsonl",
        "--split",
        "train=train_leaky.jsonl",
        "--split",
        "eval=eval.jsonl",
        cwd=root,
    )
    model = args.model or build_bench_model(root, args)
    results = {"data": sizes, "curated_data": curated, "lint_exit_on_leaky_data": gate.returncode}
    for name, data, eval_path in (
        ("as_is", "train_leaky.jsonl", "eval.jsonl"),
        ("curated", "curated/train.jsonl", "curated/eval.jsonl"),
    ):
        report = train(root, model, data, eval_path, f"run_{name}", args)
        results[name] = {
            "train_examples": report["examples"]["train"],
            "reported_eval_loss": loss_on(model, str(root / f"run_{name}"), root / eval_path),
            "heldout_loss": loss_on(model, str(root / f"run_{name}"), root / "heldout.jsonl"),
            "steps": report["global_step"],
            "wall_s": report["bench_wall_s"],
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
