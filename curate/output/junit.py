"""JUnit XML: a test suite per file, a failing test case per diagnostic.

Characters XML 1.0 cannot hold (control characters, lone surrogates) are
removed from every attribute and text, so the report stays well-formed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from curate.output.common import xml_text


def _element(parent, tag: str, **attrs) -> ET.Element:
    clean = {k: xml_text(str(v)) for k, v in attrs.items()}
    return ET.Element(tag, clean) if parent is None else ET.SubElement(parent, tag, clean)


def render(result, diagnostics, statistics: bool = False) -> str:
    root = _element(None, "testsuites", name="curate", tests=max(len(diagnostics), 1), failures=len(diagnostics))
    by_file: dict[str, list] = {f.path: [] for f in result.files}
    for d in diagnostics:
        by_file.setdefault(d.path, []).append(d)
    for path, diags in by_file.items():
        suite = _element(root, "testsuite", name=path, tests=max(len(diags), 1), failures=len(diags))
        if not diags:
            _element(suite, "testcase", name="curate lint", classname=path)
        for d in diags:
            case = _element(suite, "testcase", name=f"{d.code} {d.name}", classname=path, line=d.line)
            failure = _element(case, "failure", message=d.message, type=d.severity)
            failure.text = xml_text(f"{d.path}:{d.line}: {d.code} {d.message}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
