"""Training throughput and peak GPU memory: curate's trainer against a plain peft + Trainer baseline.

Builds a randomly initialised Llama model of about 1B parameters from a config
(no hub access), writes a synthetic conversation set, and trains LoRA and QLoRA
for a fixed number of steps with packing on and off through curate's training
code, then the same model and data through a plain peft + Trainer script
(padded batches, ``DataCollatorForSeq2Seq``). Prints trained tokens per second
and peak GPU memory for each, as one JSON document.

    python bench/bench_gpu.py --workdir /tmp/gpu-bench --steps 30
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

TOPICS = ["rivers", "volcanoes", "compilers", "bread", "tides", "orbits", "glaciers", "markets", "proteins", "bridges"]


def write_data(root: Path, n: int, seed: int) -> Path:
    """Conversations of varied length (one to three turns), so padding and packing matter."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        messages = [{"role": "system", "content": "You are a concise science tutor."}]
        for turn in range(rng.randint(1, 3)):
            topic = rng.choice(TOPICS)
            words = " ".join(rng.choice(TOPICS) for _ in range(rng.randint(20, 300)))
            messages += [
                {"role": "user", "content": f"Question {i}.{turn}: tell me about {topic}."},
                {"role": "assistant", "content": f"About {topic}: {words}."},
            ]
        records.append({"messages": messages})
    path = root / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def build_model(root: Path, texts: list[str]) -> str:
    """A ~1B-parameter Llama (hidden 2048, 16 layers) with a small BPE tokenizer, saved like a user's model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from curate.train.tinymodel import build_tokenizer

    tokenizer = build_tokenizer(texts, vocab_size=32000)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    out = root / "model-1b"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def curate_run(model: str, data: Path, root: Path, method: str, packing: bool, steps: int, max_len: int) -> dict:
    import torch

    from curate.train.config import TrainConfig
    from curate.train.run import RunInputs, run

    torch.cuda.reset_peak_memory_stats()
    config = TrainConfig(
        method=method,
        max_steps=steps,
        batch_size=4,
        grad_accum=1,
        max_seq_len=max_len,
        packing=packing,
        logging_steps=5,
        save_total_limit=1,
    )
    name = f"curate-{method}-{'packed' if packing else 'grouped'}"
    report = run(RunInputs(model, str(data), None, str(root / name), config, gate="none"))
    return {
        "run": name,
        "trained_tokens_per_s": report["tokens_per_second"],
        "input_tokens_per_s": round(report["tokens_seen"] / report["training_time_s"], 1),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "padding_fraction": report["padding_fraction"]["training"],
        "steps": report["global_step"],
    }


def baseline_run(model: str, data: Path, root: Path, method: str, steps: int, max_len: int) -> dict:
    """The script users write today: peft + Trainer, padded batches, loss on every token after the prompt."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BitsAndBytesConfig,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    torch.cuda.reset_peak_memory_stats()
    tokenizer = AutoTokenizer.from_pretrained(model)
    kwargs = {"dtype": torch.bfloat16}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    base = AutoModelForCausalLM.from_pretrained(model, device_map={"": 0}, **kwargs)
    if method == "qlora":
        base = prepare_model_for_kbit_training(base)
    peft_model = get_peft_model(
        base,
        LoraConfig(
            r=16,
            lora_alpha=32,
            lora_dropout=0.05,
            task_type="CAUSAL_LM",
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        ),
    )
    rows = []
    for line in data.read_text().splitlines():
        ids = tokenizer.apply_chat_template(json.loads(line)["messages"], tokenize=True, return_dict=True)["input_ids"]
        rows.append({"input_ids": ids[:max_len], "attention_mask": [1] * len(ids[:max_len]), "labels": ids[:max_len]})
    args = TrainingArguments(
        output_dir=str(root / f"baseline-{method}"),
        max_steps=steps,
        per_device_train_batch_size=4,
        learning_rate=2e-4,
        bf16=True,
        logging_steps=5,
        save_strategy="no",
        report_to="none",
        gradient_checkpointing=method == "qlora",
        remove_unused_columns=False,
    )
    trainer = Trainer(
        model=peft_model, args=args, train_dataset=rows, data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True)
    )
    started = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - started
    seen = sum(len(r["input_ids"]) for r in rows[: steps * 4])
    return {
        "run": f"baseline-{method}",
        "input_tokens_per_s": round(seen / elapsed, 1),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--max-seq-len", type=int, default=2048)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA GPU")
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    data = write_data(root, args.examples, seed=0)
    texts = [m["content"] for line in data.read_text().splitlines()[:200] for m in json.loads(line)["messages"]]
    model = build_model(root, texts)
    results = {"gpu": torch.cuda.get_device_name(0), "date": time.strftime("%Y-%m-%d"), "runs": []}
    for method in ("lora", "qlora"):
        for packing in (True, False):
            results["runs"].append(curate_run(model, data, root, method, packing, args.steps, args.max_seq_len))
        results["runs"].append(baseline_run(model, data, root, method, args.steps, args.max_seq_len))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
