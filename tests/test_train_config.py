"""Training configuration: defaults, TOML tables, unknown keys and flag overrides."""

import pytest

from curate.train.config import ConfigError, TrainConfig, load_config


def test_defaults_follow_the_design():
    config = TrainConfig()
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (16, 32, 0.05)
    assert config.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj")
    assert (config.epochs, config.batch_size, config.grad_accum, config.lr) == (3, 4, 4, 2e-4)
    assert (config.warmup, config.scheduler, config.early_stopping_patience) == (0.1, "cosine", 2)


def test_train_table_then_flags(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('[train]\nlr = 1e-3\nepochs = 2\ntarget_modules = "all-linear"\n')
    config = load_config(str(path), {"epochs": 5.0, "lr": None})
    assert (config.lr, config.epochs, config.target_modules) == (1e-3, 5.0, "all-linear")


def test_top_level_keys(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('method = "qlora"\ntarget_modules = ["q_proj", "v_proj"]\n')
    config = load_config(str(path), {})
    assert config.method == "qlora" and config.target_modules == ("q_proj", "v_proj")


def test_pyproject_table_is_found_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n[tool.curate.train]\nbatch_size = 8\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(None, {}).batch_size == 8


def test_comma_separated_target_modules_flag():
    assert load_config(None, {"target_modules": "q_proj, k_proj"}).target_modules == ("q_proj", "k_proj")


@pytest.mark.parametrize(
    "body, message",
    [
        ("[train]\nlearning_rat = 1\n", "unknown key 'learning_rat'"),
        ("[train]\nbatch_size = 2.5\n", "batch_size must be an integer"),
        ("[train]\ngradient_checkpointing = 1\n", "gradient_checkpointing must be true or false"),
        ('[train]\nmethod = "full"\n', "method must be one of lora, qlora"),
        ("[train]\nbatch_size = 0\n", "batch_size must be at least 1"),
    ],
)
def test_bad_config_is_an_error_naming_the_key(tmp_path, body, message):
    path = tmp_path / "train.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(str(path), {})
