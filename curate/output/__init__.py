"""Reporters: one module per output format, each `render(result, diagnostics, statistics) -> str`."""

from curate.output import github, gitlab, json_format, junit, sarif, text

REPORTERS = {
    "text": text.render,
    "json": json_format.render,
    "github": github.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "gitlab": gitlab.render,
}
