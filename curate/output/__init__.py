"""Reporters: one module per output format, each `render(result, diagnostics, statistics) -> str`.

`REPORTERS` is the registry the CLI takes its `--output-format` choices from; a
reporter's module is imported only when it is used (adding a format: add its
module and one line here, see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

_MODULES = {
    "text": "text",
    "json": "json_format",
    "github": "github",
    "sarif": "sarif",
    "junit": "junit",
    "gitlab": "gitlab",
}


class _Reporters(Mapping):
    """Output format name -> render function, imported on first use."""

    def __getitem__(self, name: str) -> Callable:
        return importlib.import_module(f"curate.output.{_MODULES[name]}").render

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


REPORTERS = _Reporters()
