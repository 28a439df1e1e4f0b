"""The `curate` command line."""

from __future__ import annotations

import errno
import gc
import importlib
import os
import sys

import click

from curate import __version__
from curate.diagnostics import at_or_above
from curate.errors import CurateError, handle_errors
from curate.formats import BUILTIN
from curate.output import REPORTERS
from curate.split_names import ASSIGNABLE

OUTPUT_FORMATS = list(REPORTERS)


def _codes(value: str | None) -> list[str]:
    return [c.strip() for c in (value or "").split(",") if c.strip()]


def _split_pairs(pairs) -> dict[str, str]:
    out = {}
    for item in pairs:
        name, sep, path = item.partition("=")
        if not sep or name not in ASSIGNABLE:
            raise click.BadParameter(
                f"{item!r}: expected NAME=PATH with NAME in {', '.join(ASSIGNABLE)}", param_hint="--split"
            )
        out[path] = name
    return out


def _field_pairs(pairs) -> dict:
    """--field KEY=COLUMN (and roles.ROLE=V1,V2) as a `[fields]` table."""
    out: dict = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{item!r}: expected KEY=COLUMN, e.g. prompt=question", param_hint="--field")
        if key.startswith("roles."):
            out.setdefault("roles", {})[key[len("roles.") :]] = [v for v in value.split(",") if v]
        else:
            out[key] = value
    return out


def _exclude_globs(ctx, param, values) -> None:
    """Keep --exclude globs for _config; those with a slash are made absolute (relative to the working directory)."""
    globs = [g.strip() for v in values for g in v.split(",") if g.strip()]
    ctx.meta["curate.exclude"] = [os.path.abspath(g) if "/" in g.strip("/") else g for g in globs]


def _usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def dataset_options(fn):
    """Options shared by commands that lint: config, selection, splits, references, format."""
    options = [
        click.option(
            "--config", "config_path", type=click.Path(dir_okay=False), help="curate.toml or pyproject.toml to use."
        ),
        click.option("--select", help="Rule codes or prefixes to run, comma-separated (e.g. F,R001)."),
        click.option("--ignore", help="Rule codes or prefixes to skip."),
        click.option("--extend-select", help="Codes to run in addition to the configured selection."),
        click.option(
            "--format",
            "record_format",
            type=click.Choice(list(BUILTIN)),
            help="Record format of every file (default: detected per file).",
        ),
        click.option(
            "--field",
            "field_pairs",
            multiple=True,
            metavar="KEY=COLUMN",
            help="Map a dataset column onto curate's model, e.g. prompt=question, roles.user=human,asker.",
        ),
        click.option("--split", "split_pairs", multiple=True, metavar="NAME=PATH", help="Assign a file to a split."),
        click.option(
            "--reference", multiple=True, type=click.Path(), help="A protected set (benchmark) train must not contain."
        ),
        click.option("--tokenizer", help="Tokenizer (path or cached name) for exact Q002 token counts."),
        click.option(
            "--jobs",
            "-j",
            type=click.IntRange(1),
            default=_usable_cores,
            show_default="the usable CPU cores",
            help="Worker processes.",
        ),
        click.option(
            "--exclude",
            multiple=True,
            metavar="GLOB",
            callback=_exclude_globs,
            expose_value=False,
            help="Skip matching files and folders inside directory arguments (adds to the config's).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def engine_options(fn):
    """Where a command's stages run: --engine local|ray and --ray-address (docs/ray.md)."""
    fn = click.option(
        "--ray-address",
        envvar="RAY_ADDRESS",
        metavar="ADDRESS",
        help="Ray cluster to join with --engine ray (default: $RAY_ADDRESS, else a local Ray with --jobs CPUs).",
    )(fn)
    return click.option(
        "--engine",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Run in local worker processes or on Ray Data (extra curate-sft[ray]).",
    )(fn)


def _lint_paths(engine: str, ray_address: str | None):
    """`lint_paths` of the chosen engine (the same arguments and result)."""
    if engine == "ray":
        from functools import partial

        from curate.rayengine.lint import lint_paths_ray

        return partial(lint_paths_ray, address=ray_address)
    from curate.engine import lint_paths

    return lint_paths


def _config(config_path, select, ignore, extend_select, record_format, field_pairs=()):
    from curate.config import load_config

    cfg = load_config(config_path)
    if select:
        cfg.select = _codes(select)
    if ignore:
        cfg.ignore = cfg.ignore + _codes(ignore)
    if extend_select:
        cfg.extend_select = cfg.extend_select + _codes(extend_select)
    if record_format or field_pairs:
        cfg.set_format(record_format or cfg.format, _field_pairs(field_pairs))
    cfg.extend_exclude = cfg.extend_exclude + click.get_current_context().meta.get("curate.exclude", [])
    cfg.selected()  # validate selectors now: one clear error
    return cfg


def _use_color(choice: str, to_file: bool) -> bool:
    """--color: always, never, or (auto) when stdout is a terminal and NO_COLOR is unset."""
    if choice != "auto":
        return choice == "always"
    stream = sys.stdout
    return not to_file and not os.environ.get("NO_COLOR") and stream is not None and stream.isatty()


def write_stdout(text: str) -> None:
    """Write to stdout: silently nothing more when the reader went away (a broken pipe), one error line
    (exit 2) when stdout is closed or fails."""
    stream = sys.stdout
    try:
        if stream is None:
            raise OSError(errno.EBADF, "stdout is closed")
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(text.encode(stream.encoding or "utf-8", "backslashreplace"))
        else:
            stream.write(text)
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        raise CurateError(f"cannot write the report to stdout: {exc.strerror or exc} (use -o FILE)") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# Commands that live in their own modules, imported only when named or listed (`curate lint` loads none).
LAZY_COMMANDS = {  # name: (module:attribute, the shared options it also takes)
    "split": ("curate.splitting.command:split", (engine_options,)),
    "train": ("curate.train.cli:train_command", ()),
    "export": ("curate.train.export:export_command", ()),
}


class LazyGroup(click.Group):
    """A group that imports a LAZY_COMMANDS entry the first time it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            target, options = LAZY_COMMANDS[cmd_name]
            module, _, name = target.partition(":")
            command = getattr(importlib.import_module(module), name)
            for add_options in options:
                command = add_options(command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curate")
def cli():
    """Lint, curate and certify conversation datasets for LLM fine-tuning."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@dataset_options
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    help="Output format (default: text, or github inside GitHub Actions).",
)
@click.option("--output", "-o", "output_file", type=click.Path(dir_okay=False), help="Write the report to a file.")
@click.option("--statistics", is_flag=True, help="Count findings per rule (text and JSON output).")
@click.option(
    "--fail-on", type=click.Choice(["error", "warning", "info"]), help="Lowest severity that fails (default error)."
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings fail the lint (errors still exit 2).")
@click.option("--quiet", "-q", count=True, help="-q: findings only, no summary; -qq: print nothing.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour in text output (auto: on a terminal, unless NO_COLOR is set).",
)
@click.option("--show-settings", is_flag=True, help="Print the configuration file, selected rules and options; exit.")
@click.option("--show-files", is_flag=True, help="Print every file with its format, split and record count; exit.")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Ignore findings recorded in this baseline.")
@click.option("--write-baseline", type=click.Path(dir_okay=False), help="Record current findings as the baseline.")
@click.option("--certificate", type=click.Path(dir_okay=False), help="Write a certificate when the lint passes.")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False),
    help="Sign the certificate with this key (default: $CURATE_CERT_KEY when set).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
@click.option("--fix", "want_fix", is_flag=True, hidden=True)
@engine_options
@handle_errors
def lint(
    paths,
    config_path,
    select,
    ignore,
    extend_select,
    record_format,
    field_pairs,
    split_pairs,
    reference,
    tokenizer,
    jobs,
    output_format,
    output_file,
    statistics,
    fail_on,
    exit_zero,
    quiet,
    color,
    show_settings,
    show_files,
    baseline,
    write_baseline,
    certificate,
    key_file,
    progress,
    want_fix,
    engine,
    ray_address,
):
    """Lint dataset files and directories (default: the configured `paths`)."""
    from curate.outputs import check_lint_outputs
    from curate.progress import progress_for

    check_lint_outputs(list(paths), reference, output_file, write_baseline, certificate)
    if want_fix:
        raise CurateError(
            "`curate lint` only reports; apply fixes with `curate fix PATHS --in-place` "
            "(or `--output FILE`), see `curate fix --help`"
        )
    cfg = _config(config_path, select, ignore, extend_select, record_format, field_pairs)
    if fail_on:
        cfg.fail_on = fail_on
    cfg.tokenizer = tokenizer or cfg.tokenizer  # part of the effective configuration a certificate records
    if show_settings:
        from curate.show import settings_text

        write_stdout(settings_text(cfg))
        return
    paths = list(paths) or cfg.dataset_paths()
    if not paths:
        raise CurateError("no PATHS given and no `paths` in the configuration")
    if show_files:
        from curate.show import files_text

        write_stdout(files_text(paths, cfg, _split_pairs(split_pairs), reference))
        return
    if certificate:
        from curate.certificate import signing_key

        key = signing_key(key_file)  # a bad key is an error before the lint runs
    lint_paths = _lint_paths(engine, ray_address)
    result = lint_paths(paths, cfg, _split_pairs(split_pairs), reference, jobs, progress_for(progress), tokenizer)
    diagnostics = _against_baseline(result.diagnostics, baseline, write_baseline, quiet)
    _report(result, diagnostics, output_format, output_file, statistics, color, quiet)
    failed = any(at_or_above(d.severity, cfg.fail_on) for d in diagnostics)
    if certificate:
        if not result.passed():  # a baseline hides findings from CI, never from the certificate
            click.echo("no certificate written: the lint did not pass", err=True)
        else:
            from curate.certificate import write_certificate

            write_certificate(certificate, result, key)
            _note(quiet, f"{'Signed c' if key else 'C'}ertificate written to {certificate}")
    sys.exit(1 if failed and not write_baseline and not exit_zero else 0)


def _against_baseline(diagnostics: list, baseline: str | None, write_baseline: str | None, quiet: int) -> list:
    """Write the baseline when asked; the findings the baseline does not hold, or all of them."""
    if write_baseline:
        from curate.baseline import write_baseline as save_baseline

        save_baseline(write_baseline, diagnostics)
        _note(quiet, f"Wrote {len(diagnostics)} findings to {write_baseline}")
    if baseline:
        from curate.baseline import filter_new, load_baseline

        diagnostics = filter_new(diagnostics, load_baseline(baseline))
    return diagnostics


def _report(result, diagnostics, output_format, output_file, statistics, color, quiet: int) -> None:
    """Render the findings in the chosen format to `output_file` (atomically) or stdout."""
    fmt = output_format or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    render = REPORTERS[fmt]
    if fmt == "text":
        quiet_text = 0 if output_file else quiet
        text = render(result, diagnostics, statistics, color=_use_color(color, bool(output_file)), quiet=quiet_text)
    else:
        text = render(result, diagnostics, statistics)
    if output_file:
        from curate.atomic import atomic_write_text

        atomic_write_text(output_file, text)
    elif quiet < 2:
        write_stdout(text)


def _note(quiet: int, message: str) -> None:
    """A progress note on stderr, unless --quiet."""
    if not quiet:
        click.echo(message, err=True)


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
        body = [
            {
                "code": r.code,
                "name": r.name,
                "severity": r.severity,
                "summary": r.summary,
                "fix": _fix_label(r),
                "options": r.options,
                "doc": r.doc,
            }
            for r in chosen
        ]
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
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False),
    help="Key to check the signature with (default: $CURATE_CERT_KEY when set).",
)
@handle_errors
def verify(certificate, key_file):
    """Check every field of a certificate against the files and the certified configuration."""
    from curate.certificate import printable, signing_key, verify_certificate

    problems = verify_certificate(certificate, signing_key(key_file))
    for p in problems:
        click.echo(printable(p), err=True)
    if problems:
        click.echo(f"certificate {certificate} does not match the data", err=True)
        sys.exit(1)
    click.echo(f"certificate {certificate} matches the data")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@dataset_options
@click.option("--unsafe", is_flag=True, help="Also drop near-duplicates and leaked train records.")
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(),
    help="Write the fixed dataset here (one input; a directory of shards with --engine ray).",
)
@click.option("--in-place", is_flag=True, help="Rewrite the input files.")
@click.option(
    "--rejects", type=click.Path(dir_okay=False), help="Where removed records go (default: beside the output)."
)
@click.option(
    "--diff", is_flag=True, help="Print what would change as a unified diff; write nothing (exit 1 if anything would)."
)
@engine_options
@handle_errors
def fix(
    paths,
    config_path,
    select,
    ignore,
    extend_select,
    record_format,
    field_pairs,
    split_pairs,
    reference,
    tokenizer,
    jobs,
    unsafe,
    output,
    in_place,
    rejects,
    diff,
    engine,
    ray_address,
):
    """Apply safe fixes (whitespace, role aliases, exact duplicates); --unsafe adds removals.

    With --engine ray, --output is a new or empty directory of shards (docs/ray.md)."""
    from curate.fixer import fix_paths
    from curate.outputs import guard_fix

    if bool(output) == bool(in_place) and not diff:
        raise click.UsageError("give exactly one of --output FILE or --in-place (or --diff)")
    cfg = _config(config_path, select, ignore, extend_select, record_format, field_pairs)
    if engine == "ray":
        from curate.rayengine.fix import fix_on_ray

        report = fix_on_ray(
            list(paths),
            cfg,
            _split_pairs(split_pairs),
            reference,
            unsafe,
            output,
            in_place,
            rejects,
            diff,
            jobs,
            ray_address,
        )
    else:
        with guard_fix(list(paths), output, rejects, in_place, reference):  # outputs checked, inputs locked, watched
            report = fix_paths(
                list(paths), cfg, _split_pairs(split_pairs), reference, unsafe, output, rejects, jobs, diff
            )
    for line in report.not_fixed:
        click.echo(line, err=True)
    if diff:
        click.echo(report.diff, nl=False)
        click.echo(report.describe(), err=True)
        sys.exit(1 if report.diff else 0)
    click.echo(report.describe())


# Commands that run torch (MKL and OpenMP threads, with their own settings): main leaves them as they are.
_TORCH_COMMANDS = ("train", "export")
# Records die young and free themselves by reference counting; at the default threshold (700) the
# cycle collector runs hundreds of times per 20k records and finds nothing: 4-6% of lint's CPU,
# and about 30 collections (12-20 ms) of a small lint's start-up, whose imports make no garbage.
GC_THRESHOLDS = (100_000, 50, 100)


def main():
    """The `curate` console script (and `python -m curate`), with start-up settings (bench/bench_startup.py).

    Every command but train and export runs
    - with one OpenBLAS thread unless OPENBLAS_NUM_THREADS is set: curate does no linear algebra, yet
      numpy's OpenBLAS starts a thread per core on import, which spins a while (about 60 ms of CPU per
      small lint); torch reads MKL_NUM_THREADS and OMP_NUM_THREADS, not this variable;
    - with the cycle collector's thresholds raised to `GC_THRESHOLDS`.
    Set here, before numpy's first import, not on `import curate`: a program that imports curate keeps
    its own settings.
    """
    if (sys.argv[1:2] or [""])[0] not in _TORCH_COMMANDS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        gc.set_threshold(*GC_THRESHOLDS)
    cli(prog_name="curate")
