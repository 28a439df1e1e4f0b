"""SARIF 2.1.0 for GitHub code scanning."""

from __future__ import annotations

import json

from curate import __version__
from curate.output.common import relative_uri, scrub
from curate.registry import load_rules

LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _location(path: str, line: int) -> dict:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": relative_uri(path), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line},
        }
    }


def render(result, diagnostics, statistics: bool = False) -> str:
    rules = load_rules()
    codes = sorted(set(result.codes) | {d.code for d in diagnostics})
    index = {c: i for i, c in enumerate(codes)}
    driver_rules = [
        {
            "id": c,
            "name": rules[c].name,
            "shortDescription": {"text": rules[c].summary},
            "fullDescription": {"text": rules[c].section("What it does") or rules[c].summary},
            "help": {"text": rules[c].doc, "markdown": rules[c].doc},
            "defaultConfiguration": {"level": LEVEL[result.config.severity.get(c, rules[c].severity)]},
        }
        for c in codes
    ]
    results = [
        {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": LEVEL[d.severity],
            "message": {"text": d.message},
            "locations": [_location(d.path, d.line)],
            **(
                {"relatedLocations": [dict(_location(r.path, r.line), id=i) for i, r in enumerate(d.related)]}
                if d.related
                else {}
            ),
            "partialFingerprints": {"curateFindingHash/v1": d.fingerprint},
        }
        for d in diagnostics
    ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "curate",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/curate-sft/",
                        "rules": driver_rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "./"}},
                "results": results,
            }
        ],
    }
    return scrub(json.dumps(log, indent=2, ensure_ascii=False)) + "\n"
