"""The `curate` command line."""

from __future__ import annotations

import os
import sys

import click

from curate import __version__
from curate.diagnostics import at_or_above
from curate.errors import CurateError, handle_errors

OUTPUT_FORMATS = ["text", "json", "github", "sarif", "junit", "gitlab"]


def _codes(value: str | None) -> list[str]:
    return [c.strip() for c in (value or "").split(",") if c.strip()]


def _split_pairs(pairs) -> dict[str, str]:
    out = {}
    for item in pairs:
        name, sep, path = item.partition("=")
        if not sep or name not in ("train", "eval", "test", "unsplit"):
            raise click.BadParameter(f"{item!r}: expected NAME=PATH with NAME in train, eval, test, unsplit",
                                     param_hint="--split")
        out[path] = name
    return out


def dataset_options(fn):
    """Options shared by commands that lint: config, selection, splits, references, format."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help="curate.toml or pyproject.toml to use."),
        click.option("--select", help="Rule codes or prefixes to run, comma-separated (e.g. F,R001)."),
        click.option("--ignore", help="Rule codes or prefixes to skip."),
        click.option("--extend-select", help="Codes to run in addition to the configured selection."),
        click.option("--format", "record_format", type=click.Choice(["openai", "sharegpt", "alpaca"]),
                     help="Record format of every file (default: detected per file)."),
        click.option("--split", "split_pairs", multiple=True, metavar="NAME=PATH", help="Assign a file to a split."),
        click.option("--reference", multiple=True, type=click.Path(), help="A protected set (benchmark) train must not contain."),
        click.option("--tokenizer", help="Tokenizer (path or cached name) for exact Q002 token counts."),
        click.option("--jobs", "-j", type=click.IntRange(1), default=1, show_default=True, help="Worker processes."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _config(config_path, select, ignore, extend_select, record_format):
    from curate.config import load_config
    cfg = load_config(config_path)
    if select:
        cfg.select = _codes(select)
    if ignore:
        cfg.ignore = cfg.ignore + _codes(ignore)
    if extend_select:
        cfg.extend_select = cfg.extend_select + _codes(extend_select)
    if record_format:
        cfg.format = record_format
    cfg.selected()  # validate selectors now: one clear error
    return cfg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curate")
def cli():
    """Lint, curate and certify conversation datasets for LLM fine-tuning."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@dataset_options
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS),
              help="Output format (default: text, or github inside GitHub Actions).")
@click.option("--output", "-o", "output_file", type=click.Path(dir_okay=False), help="Write the report to a file.")
@click.option("--statistics", is_flag=True, help="Count findings per rule.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), help="Lowest severity that fails (default error).")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Ignore findings recorded in this baseline.")
@click.option("--write-baseline", type=click.Path(dir_okay=False), help="Record current findings as the baseline.")
@click.option("--certificate", type=click.Path(dir_okay=False), help="Write a certificate when the lint passes.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
@handle_errors
def lint(paths, config_path, select, ignore, extend_select, record_format, split_pairs, reference, tokenizer, jobs,
         output_format, output_file, statistics, fail_on, baseline, write_baseline, certificate, progress):
    """Lint dataset files and directories."""
    from curate.baseline import filter_new, load_baseline, write_baseline as save_baseline
    from curate.engine import lint_paths
    from curate.output import REPORTERS
    from curate.progress import progress_for

    cfg = _config(config_path, select, ignore, extend_select, record_format)
    if fail_on:
        cfg.fail_on = fail_on
    result = lint_paths(list(paths), cfg, _split_pairs(split_pairs), reference, jobs,
                        progress_for(progress), tokenizer)
    diagnostics = result.diagnostics
    if write_baseline:
        save_baseline(write_baseline, diagnostics)
        click.echo(f"Wrote {len(diagnostics)} findings to {write_baseline}", err=True)
    if baseline:
        diagnostics = filter_new(diagnostics, load_baseline(baseline))
    fmt = output_format or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    render = REPORTERS[fmt]
    if fmt == "text":
        text = render(result, diagnostics, statistics, color=output_file is None and sys.stdout.isatty())
    else:
        text = render(result, diagnostics, statistics)
    if output_file:
        from curate.atomic import atomic_write_text
        atomic_write_text(output_file, text)
    else:
        click.echo(text, nl=False)
    failed = any(at_or_above(d.severity, cfg.fail_on) for d in diagnostics)
    if certificate:
        if not result.passed():  # a baseline hides findings from CI, never from the certificate
            click.echo("no certificate written: the lint did not pass", err=True)
        else:
            from curate.certificate import write_certificate
            write_certificate(certificate, result)
            click.echo(f"Certificate written to {certificate}", err=True)
    sys.exit(1 if failed and not write_baseline else 0)


@cli.command()
@click.argument("code", required=False)
@click.option("--output-format", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@handle_errors
def rule(code, output_format):
    """Show the rule table, or one rule's documentation (markdown: the README's rule table)."""
    import json

    from curate.registry import load_rules
    rules = load_rules()
    if code:
        key = code.upper()
        match = rules.get(key) or next((r for r in rules.values() if r.name == code), None)
        if match is None:
            raise CurateError(f"unknown rule {code!r}; `curate rule` lists them")
        chosen = [match]
    else:
        chosen = list(rules.values())
    if output_format == "markdown":
        click.echo(rule_table_markdown(chosen), nl=False)
    elif output_format == "json":
        body = [{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary,
                 "fix": _fix_label(r), "options": r.options, "doc": r.doc} for r in chosen]
        click.echo(json.dumps(body if not code else body[0], indent=2))
    elif code:
        r = chosen[0]
        click.echo(f"# {r.name} ({r.code})\n\nDefault severity: {r.severity}. Fix: {_fix_label(r)}.")
        if r.options:
            click.echo("Options: " + ", ".join(f"{k} = {v!r}" for k, v in r.options.items()) + ".")
        click.echo("\n" + r.doc)
    else:
        for r in chosen:
            click.echo(f"{r.code}  {r.name:<24} {r.severity:<8} {r.summary}")


def rule_table_markdown(rules) -> str:
    """The README's rule table, from the rules' own documentation."""
    rows = ["| code | name | default | fix | what it flags |", "|---|---|---|---|---|"]
    for r in rules:
        summary = r.summary.replace("|", "\\|")
        rows.append(f"| {r.code} | {r.name} | {r.severity} | {_fix_label(r)} | {summary} |")
    return "\n".join(rows) + "\n"


def _fix_label(r) -> str:
    if r.fix is None:
        return "none"
    return "unsafe" if r.unsafe_fix else "safe"


@cli.command()
@click.argument("certificate", type=click.Path(dir_okay=False))
@handle_errors
def verify(certificate):
    """Check a certificate against the files it names."""
    from curate.certificate import verify_certificate
    problems = verify_certificate(certificate)
    for p in problems:
        click.echo(f"{p}", err=True)
    if problems:
        click.echo(f"certificate {certificate} does not match the data", err=True)
        sys.exit(1)
    click.echo(f"certificate {certificate} matches the data")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@dataset_options
@click.option("--unsafe", is_flag=True, help="Also drop near-duplicates and leaked train records.")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), help="Write the fixed dataset here (one input).")
@click.option("--in-place", is_flag=True, help="Rewrite the input files.")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Where removed records go (default: beside the output).")
@handle_errors
def fix(paths, config_path, select, ignore, extend_select, record_format, split_pairs, reference, tokenizer, jobs,
        unsafe, output, in_place, rejects):
    """Apply safe fixes (whitespace, role aliases, exact duplicates); --unsafe adds removals."""
    from curate.fixer import fix_paths
    if bool(output) == bool(in_place):
        raise click.UsageError("give exactly one of --output FILE or --in-place")
    cfg = _config(config_path, select, ignore, extend_select, record_format)
    report = fix_paths(list(paths), cfg, _split_pairs(split_pairs), reference, unsafe, output, rejects, jobs)
    click.echo(report.describe())


def _add_commands():
    """Commands that live in their own modules (importing them loads no torch)."""
    from curate.split_command import split
    from curate.train.cli import train_command
    from curate.train.export import export_command
    cli.add_command(split)
    cli.add_command(train_command)
    cli.add_command(export_command)


_add_commands()


def main():
    cli(prog_name="curate")
