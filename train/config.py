"""Training configuration: defaults, TOML loading and command-line overrides.

``--config FILE`` is a TOML file with a ``[train]`` table (``curate.toml``
style) or with the keys at top level, or a ``pyproject.toml`` with a
``[tool.curate.train]`` table. Without it, the ``train`` table of the config
that ``curate lint`` finds is used. Unknown keys and wrongly typed values are
errors.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

from curate.config import load_config as load_lint_config
from curate.errors import CurateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

METHODS = ("lora", "qlora")
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
REPORT_TO = ("none", "tensorboard", "wandb")


class ConfigError(CurateError):
    """A configuration problem, reported as one line with exit 2."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of a run; the defaults follow current LoRA practice (DESIGN section 6)."""

    method: str = "lora"
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    lr: float = 2e-4
    batch_size: int = 4
    grad_accum: int = 4
    max_seq_len: int = 2048
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] | str = DEFAULT_TARGET_MODULES
    seed: int = 42
    warmup: float = 0.1  # below 1: a fraction of the steps; else a number of steps
    scheduler: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    early_stopping_patience: int = 2
    save_total_limit: int = 2
    logging_steps: float = 0.02  # below 1: a fraction of the steps (about 50 loss points); else every N steps
    eval_fraction: float = 0.1  # held out of --data when there is no --eval
    gradient_checkpointing: bool | None = None  # None: on for QLoRA, off for LoRA
    report_to: str = "none"  # none, tensorboard or wandb
    num_proc: int = 1  # processes that tokenize (datasets.map)
    packing: bool = True  # pack examples into rows without cross-example attention; off: length-grouped batches

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        object.__setattr__(self, "target_modules", parse_target_modules(self.target_modules))
        for name in ("batch_size", "grad_accum", "max_seq_len", "lora_r", "lora_alpha", "save_total_limit", "num_proc"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.eval_fraction < 1:
            raise ConfigError(f"eval_fraction must be between 0 and 1, not {self.eval_fraction}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"max_steps must be at least 1, not {self.max_steps} (leave it out to train for epochs)")
        if not self.epochs > 0:
            raise ConfigError(f"epochs must be above 0, not {self.epochs}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be above 0, not {self.lr}")
        if self.warmup < 0:
            raise ConfigError(f"warmup must not be negative, not {self.warmup}")
        if self.report_to not in REPORT_TO:
            raise ConfigError(f"report_to must be one of {', '.join(REPORT_TO)}, not {self.report_to!r}")

    @property
    def checkpointing(self) -> bool:
        """Whether activations are recomputed: as configured, else on for QLoRA (memory is why one uses it)."""
        return self.method == "qlora" if self.gradient_checkpointing is None else self.gradient_checkpointing

    def to_dict(self) -> dict:
        """The settings as plain JSON-ready values."""
        data = dataclasses.asdict(self)
        if isinstance(data["target_modules"], tuple):
            data["target_modules"] = list(data["target_modules"])
        return data


REPORT_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",)}


def check_report_to(config: TrainConfig) -> None:
    """Fail before any model loads when the logger ``report_to`` names is not installed."""
    import importlib.util

    packages = REPORT_PACKAGES.get(config.report_to, ())
    if packages and not any(importlib.util.find_spec(name) for name in packages):
        raise ConfigError(f"--report-to {config.report_to} needs the {packages[0]} package: pip install {packages[0]}")


def parse_target_modules(value) -> tuple[str, ...] | str:
    """``"all-linear"``, a comma-separated string or a list of module names."""
    if isinstance(value, str):
        if value.strip() == "all-linear":
            return "all-linear"
        value = value.split(",")
    modules = tuple(str(name).strip() for name in value if str(name).strip())
    if not modules:
        raise ConfigError("target_modules is empty")
    return modules


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = {
    "float": ((int, float), "a number"),
    "int": ((int,), "an integer"),
    "str": ((str,), "a string"),
    "bool": ((bool,), "true or false"),
    "bool | None": ((bool,), "true or false"),
    "tuple[str, ...] | str": ((str, list), "a list of module names or a comma-separated string"),
}


def _check_value(source: str, key: str, value):
    """Reject a config value whose type does not fit the field."""
    if key not in _FIELDS:
        close = difflib.get_close_matches(key, _FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{source}: unknown key {key!r}{hint}")
    kind = str(_FIELDS[key].type)  # the annotation's text (annotations are not evaluated here)
    types, description = _TYPES[kind]
    ok = isinstance(value, types) and (kind == "bool" or not isinstance(value, bool))
    if ok and isinstance(value, list):
        ok = all(isinstance(item, str) for item in value)
    if not ok:
        raise ConfigError(f"{source}: {key} must be {description}, not {value!r}")


def _read_toml(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc


def read_config_file(path: str) -> dict:
    """The training settings in a TOML file, validated; see the module docstring for the layout."""
    document = _read_toml(path)
    if Path(path).name == "pyproject.toml":
        table = document.get("tool", {}).get("curate", {}).get("train", {})
    else:
        table = document.get("train", document)
    return _validated(path, table)


def _validated(source: str, table) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: the train settings are not a table")
    for key, value in table.items():
        _check_value(source, key, value)
    return dict(table)


def load_config(path: str | None, overrides: dict) -> TrainConfig:
    """Defaults, then ``path`` (or the lint config's ``train`` table), then the non-None ``overrides`` from flags."""
    if path:
        settings = read_config_file(path)
    else:
        lint_config = load_lint_config()
        settings = _validated(lint_config.source or "the lint configuration", lint_config.train)
    settings.update({key: value for key, value in overrides.items() if value is not None})
    return TrainConfig(**settings)
