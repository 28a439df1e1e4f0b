"""JUnit XML: a test suite per file, a failing test case per diagnostic."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def render(result, diagnostics, statistics: bool = False) -> str:
    root = ET.Element("testsuites", name="curate", tests=str(max(len(diagnostics), 1)), failures=str(len(diagnostics)))
    by_file: dict[str, list] = {f.path: [] for f in result.files}
    for d in diagnostics:
        by_file.setdefault(d.path, []).append(d)
    for path, diags in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=path, tests=str(max(len(diags), 1)), failures=str(len(diags)))
        if not diags:
            ET.SubElement(suite, "testcase", name="curate lint", classname=path)
        for d in diags:
            case = ET.SubElement(suite, "testcase", name=f"{d.code} {d.name}", classname=path, line=str(d.line))
            failure = ET.SubElement(case, "failure", message=d.message, type=d.severity)
            failure.text = f"{d.path}:{d.line}: {d.code} {d.message}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
