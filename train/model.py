"""Load the base model and tokenizer, and attach LoRA or QLoRA adapters."""

from __future__ import annotations

import os
from pathlib import Path

from curate.errors import CurateError
from curate.train.config import TrainConfig


class ModelError(CurateError):
    """The model or tokenizer cannot be used; reported as one line with exit 2."""


def check_model_source(name: str) -> None:
    """Fail fast, without torch, on a model given as a filesystem path that does not exist."""
    path = Path(name).expanduser()
    looks_like_path = path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1
    if looks_like_path and not path.exists():
        raise ModelError(f"model path not found: {name}")


def precision() -> str:
    """``bf16`` on CUDA devices that support it, ``fp16`` on older CUDA devices, ``fp32`` elsewhere."""
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def torch_dtype(name: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def qlora_compute_dtype(precision_name: str) -> str:
    """The 4-bit compute dtype: bf16 (also on CPU, where bitsandbytes supports it), fp16 on pre-bf16 GPUs."""
    return "fp16" if precision_name == "fp16" else "bf16"


def load_tokenizer(name: str, chat_template_file: str | None = None):
    """The model's tokenizer, with ``chat_template_file`` replacing its template and a pad token ensured."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(os.path.expanduser(name))
    except Exception as exc:  # transformers raises OSError, ValueError, HF hub errors...
        raise ModelError(f"cannot load the tokenizer of {name}: {first_line(exc)}") from exc
    if chat_template_file:
        tokenizer.chat_template = Path(chat_template_file).read_text(encoding="utf-8")
        tokenizer.curate_template_file = chat_template_file
    if not tokenizer.chat_template:
        raise ModelError(f"the tokenizer of {name} has no chat template: pass one with --chat-template FILE")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name: str, method: str, precision_name: str):
    """The base causal LM: in ``precision_name``, or 4-bit NF4 with double quantization for ``qlora``."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs = {"dtype": torch_dtype(precision_name)}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(qlora_compute_dtype(precision_name)),
        )
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))} if torch.cuda.is_available() else "cpu"
    try:
        model = AutoModelForCausalLM.from_pretrained(os.path.expanduser(name), **kwargs)
    except torch.OutOfMemoryError:
        raise
    except Exception as exc:  # OSError, ValueError, safetensors and bitsandbytes errors...
        raise ModelError(f"cannot load model {name}: {first_line(exc)}") from exc
    if method == "qlora" and not torch.cuda.is_available():
        # On AVX512-BF16 CPUs bitsandbytes repacks a 4-bit layer for inference the first time it runs
        # without grad (each evaluation), and the repacked path has no backward: keep the training layout.
        for module in model.modules():
            if hasattr(module, "support_avx512bf16_for_cpu"):
                module.support_avx512bf16_for_cpu = False  # type: ignore[assignment]  # a bitsandbytes flag, not a tensor
    return model


def add_lora(model, config: TrainConfig):
    """Wrap ``model`` in trainable LoRA adapters (after k-bit preparation for QLoRA)."""
    from peft import LoraConfig, get_peft_model

    # No KV cache while training: the packed-sequence mask is built only without one.
    model.config.use_cache = False
    if config.checkpointing:
        # Activation checkpointing is switched on by the Trainer; with a frozen embedding, the checkpointed
        # blocks need inputs that require grad. No prepare_model_for_kbit_training: it would keep fp32
        # copies of the embeddings, norms and head that LoRA does not train.
        model.enable_input_require_grads()
    targets = config.target_modules
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets if isinstance(targets, str) else list(targets),
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        names = targets if isinstance(targets, str) else ",".join(targets)
        raise ModelError(
            f"cannot attach LoRA to target modules {names}: {first_line(exc)} "
            "(choose others with --target-modules, or all-linear)"
        ) from exc


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for one-line error reports."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
