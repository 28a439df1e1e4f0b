"""The post-training check: the adapter saved on disk must change the base model's outputs."""

from __future__ import annotations

from curate.train.model import load_model

# Largest logit difference still taken as "no change" (exact zero for an untrained or zeroed adapter).
TOLERANCE = 1e-6


class AdapterCheckError(RuntimeError):
    """The saved adapter does not change the model: the run fails."""


def check_adapter_reload(
    model_name: str, adapter_dir: str, method: str, precision_name: str, input_ids: list[int]
) -> float:
    """Reload the adapter onto a fresh base model; return the largest logit change on ``input_ids``.

    Raises AdapterCheckError when the adapter leaves the logits unchanged.
    """
    import torch
    from peft import PeftModel

    base = load_model(model_name, method, precision_name)
    if method != "qlora" and torch.cuda.is_available():
        base = base.to("cuda")
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    ids = torch.tensor([input_ids], device=model.device)
    with torch.no_grad():
        tuned = model(input_ids=ids).logits.float()
        with model.disable_adapter():
            untouched = model(input_ids=ids).logits.float()
    difference = (tuned - untouched).abs().max().item()
    if not difference > TOLERANCE:
        raise AdapterCheckError(
            f"the adapter reloaded from {adapter_dir} does not change the base model's outputs "
            f"(largest logit difference {difference:.3g}): it was not trained or not saved correctly"
        )
    return difference
