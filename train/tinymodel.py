"""Build a tiny Llama-architecture model and BPE tokenizer for tests and demos, offline.

``python -m curate.train.tinymodel OUTDIR --data train.jsonl`` trains a byte-level
BPE tokenizer on the conversations' text, builds a randomly initialised
Llama model from a ``LlamaConfig``, and saves both with ``save_pretrained`` so
they load like any user's model.
"""

from __future__ import annotations

import argparse

from curate.train.data import read_examples

BOS, EOS, PAD = "<|bos|>", "<|end|>", "<|pad|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]

# No {% generation %} markers: the trainer must find assistant spans by itself.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(
    texts: list[str],
    vocab_size: int = 400,
    *,
    bos: str | None = BOS,
    eos: str = EOS,
    pad: str = PAD,
    extra_tokens: list[str] | None = None,
    chat_template: str = CHAT_TEMPLATE,
):
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it for transformers.

    The keyword arguments give another model family's special tokens and chat template.
    """
    extra = ROLE_TOKENS if extra_tokens is None else extra_tokens
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[token for token in dict.fromkeys([bos, eos, pad, *extra]) if token],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        additional_special_tokens=[token for token in extra if token not in (bos, eos, pad)],
        chat_template=chat_template,
    )


def build_model(tokenizer, hidden_size: int = 64, layers: int = 2, seed: int = 0, initializer_range: float = 0.02):
    """A randomly initialised ``LlamaForCausalLM`` sized for ``tokenizer``.

    With the default ``initializer_range`` the frozen output head of a random model
    bounds its logits to a few units; a larger one lets LoRA alone reach confident
    predictions (the gate-value benchmark needs that to memorise facts).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=initializer_range,
    )
    return LlamaForCausalLM(config)


def build_tiny_model(outdir: str, texts: list[str], vocab_size: int = 400, seed: int = 0) -> str:
    """Build and save a tiny model and tokenizer trained on ``texts`` into ``outdir``."""
    tokenizer = build_tokenizer(texts, vocab_size)
    build_model(tokenizer, seed=seed).save_pretrained(outdir)
    tokenizer.save_pretrained(outdir)
    return outdir


def conversation_texts(paths: list[str]) -> list[str]:
    """Every message content in the given dataset files."""
    return [
        message["content"]
        for path in paths
        for example in read_examples(path)
        for message in example.messages
        if message["content"]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curate.train.tinymodel", description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--data", action="append", required=True, help="dataset file(s) to train the tokenizer on")
    parser.add_argument("--vocab-size", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build_tiny_model(args.outdir, conversation_texts(args.data), args.vocab_size, args.seed)
    print(f"tiny model written to {args.outdir}")


if __name__ == "__main__":
    main()
