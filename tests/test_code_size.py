"""The team's size limits: no function over 80 lines, no class over 300 (formatted code, docstrings included)."""

from __future__ import annotations

import ast
import glob
import os

LIMITS = {ast.FunctionDef: 80, ast.AsyncFunctionDef: 80, ast.ClassDef: 300}


def test_no_function_over_80_lines_no_class_over_300(repo_root):
    over = []
    for folder in ("curate", "rules", "train"):
        for path in glob.glob(os.path.join(repo_root, folder, "**", "*.py"), recursive=True):
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                limit = LIMITS.get(type(node))
                if limit is not None and node.end_lineno - node.lineno + 1 > limit:
                    over.append(f"{os.path.relpath(path, repo_root)}:{node.lineno} {node.name}")
    assert over == []
