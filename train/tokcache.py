"""Tokenization run with ``datasets.map`` (``--num-proc`` workers) and cached on disk.

A file's encodings are cached in the Hugging Face datasets cache
(``$HF_DATASETS_CACHE/curate-train``) under a key made of everything that
decides them: the file's SHA-256 and the lint's record format (its field
mapping), the tokenizer and chat template, ``max_seq_len``, and the code that
renders and masks. A second run, a ``--resume`` or a ``--dry-run`` followed by
the real run reads the cache instead of tokenizing again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from curate.train.data import Encoded, Example, TemplateError, encode_example

CODE = ("data.py", "render.py", "messages.py", "tokcache.py")  # the modules whose code decides an encoding


def cache_root() -> Path:
    import datasets.config

    return Path(datasets.config.HF_DATASETS_CACHE) / "curate-train"


def tokenizer_fingerprint(tokenizer) -> str:
    """The tokenizer's vocabulary, rules, special tokens and chat template, hashed."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        body = backend.to_str()
    else:
        from datasets.fingerprint import Hasher

        body = Hasher.hash(tokenizer)
    parts = [body, tokenizer.chat_template or "", json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def cache_key(file_sha256: str, record_format: str | None, tokenizer_hash: str, max_seq_len: int) -> str:
    code = hashlib.sha256()
    for name in CODE:
        code.update((Path(__file__).parent / name).read_bytes())
    parts = [file_sha256, record_format or "", tokenizer_hash, str(max_seq_len), code.hexdigest()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[
        :40
    ]  # datasets allows 64 characters with a shard suffix


class _Encoder:
    """``datasets.map`` function: row ``index`` -> the example's ids and labels, or why it cannot be rendered."""

    def __init__(self, tokenizer, examples: list[Example]):
        self.tokenizer, self.examples = tokenizer, examples

    def __call__(self, row: dict) -> dict:
        example = self.examples[row["index"]]
        try:
            encoded = encode_example(self.tokenizer, example)
        except TemplateError as exc:
            return {"input_ids": [], "labels": [], "error": str(exc)}
        return {"input_ids": encoded.input_ids, "labels": encoded.labels, "error": ""}


def encode_all(tokenizer, examples: list[Example], key: str, num_proc: int = 1) -> list[Encoded | TemplateError]:
    """Each example's encoding (or the TemplateError it raised), in order, through the on-disk cache ``key``."""
    if not examples:
        return []
    import datasets
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    folder = cache_root()
    folder.mkdir(parents=True, exist_ok=True)
    bars = is_progress_bar_enabled()
    disable_progress_bar()
    try:
        rows = datasets.Dataset.from_dict({"index": list(range(len(examples)))})
        mapped = rows.map(
            _Encoder(tokenizer, examples),
            num_proc=min(num_proc, len(examples)) if num_proc > 1 else None,
            cache_file_name=str(folder / f"{key}.arrow"),
            new_fingerprint=key,
            load_from_cache_file=True,
            remove_columns=["index"],
        )
    finally:
        if bars:
            enable_progress_bar()
    results: list[Encoded | TemplateError] = []
    for example, row in zip(examples, mapped):
        if row["error"]:
            results.append(TemplateError(row["error"]))
        else:
            results.append(Encoded(list(row["input_ids"]), list(row["labels"]), example.path, example.line))
    return results
