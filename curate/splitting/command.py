"""The `curate split` command (registered on the main group in curate/cli.py)."""

from __future__ import annotations

import click

from curate.errors import handle_errors
from curate.formats import BUILTIN


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--ratios", default="0.9,0.1", show_default=True, help="train,eval or train,eval,test fractions, summing to 1."
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the cluster shuffle.")
@click.option(
    "--output-dir",
    "-o",
    required=True,
    type=click.Path(file_okay=False),
    help="Where train.jsonl, eval.jsonl (and test.jsonl) are written (with --engine ray: shards "
    "train-00000-of-0000N.jsonl..., into a new or empty directory).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="curate.toml or pyproject.toml to use (L002/L003 options, format).",
)
@click.option("--format", "record_format", type=click.Choice(list(BUILTIN)), help="Record format (default: detected).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Worker processes for reading the records and for the final lint.",
)
@handle_errors  # --engine and --ray-address: added where curate.cli registers the command
def split(path, ratios, seed, output_dir, config_path, record_format, jobs, engine="local", ray_address=None):
    """Split a dataset deterministically, keeping near-duplicate clusters inside one split.

    Equal and near-duplicate conversations (Jaccard >= 0.7) and equal or near
    prompts (>= 0.9) are clustered; whole clusters are shuffled with the seed
    into eval (and test) up to their ratio, the rest (big clusters included)
    into train. A held-out cluster that still matches train, by the leak
    rules' own search or by L001-L003 on the written files, moves to train.
    Each record's line keeps its bytes (line endings become newlines; a JSON
    array's elements go onto one line each). Records with no conversation
    (invalid JSON, no message list) stop the split with their line numbers:
    nothing is dropped.
    """
    from curate.config import load_config
    from curate.filetype import check_rewritable
    from curate.splitting.files import split_file
    from curate.splitting.plan import parse_ratios

    check_rewritable(path, None, "split")

    ratio_values = parse_ratios(ratios)
    cfg = load_config(config_path)
    if record_format:
        cfg.set_format(record_format)
    if engine == "ray":
        from curate.rayengine.split import split_file_ray

        report = split_file_ray(path, output_dir, ratio_values, seed, cfg, jobs, ray_address)
    else:
        report = split_file(path, output_dir, ratio_values, seed, cfg, jobs)
    click.echo(report.describe())
