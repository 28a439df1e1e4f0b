"""The distribution ships every package of the source tree (a non-editable install, e.g. pre-commit's, needs it)."""

from __future__ import annotations

import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_package_is_listed_for_setuptools():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        setuptools = tomllib.load(f)["tool"]["setuptools"]
    folder_of = {name: folder for name, folder in setuptools["package-dir"].items()}
    on_disk = set()
    for name, folder in folder_of.items():
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            if "__init__.py" in files:
                rel = os.path.relpath(dirpath, os.path.join(ROOT, folder))
                on_disk.add(name if rel == "." else f"{name}.{rel.replace(os.sep, '.')}")
    assert on_disk == set(setuptools["packages"])


def test_mypy_sees_every_mapped_package_under_its_installed_name():
    """mypy has no package-dir table: .mypy-packages/ links each mapped folder under its dotted name."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        config = tomllib.load(f)["tool"]
    links = os.path.join(ROOT, ".mypy-packages")
    for name, folder in config["setuptools"]["package-dir"].items():
        if name != folder:
            link = os.path.join(links, *name.split("."))
            assert os.path.realpath(link) == os.path.realpath(os.path.join(ROOT, folder)), name
            assert os.path.relpath(link, ROOT) in config["mypy"]["files"], name
