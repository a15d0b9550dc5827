"""The examples in the public API's docstrings run (from the repository root)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "bdd4bnn",
    "bdd4bnn.region",
    "bdd4bnn.analyses.count",
    "bdd4bnn.analyses.verify",
    "bdd4bnn.analyses.radius",
    "bdd4bnn.analyses.explain",
    "bdd4bnn.analyses.crosscheck",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0, f"{name} has no example"
    assert res.failed == 0


def test_readme_python_api_example(monkeypatch):
    import re

    monkeypatch.chdir(ROOT)
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    test = doctest.DocTestParser().get_doctest(code, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.failed == 0 and res.attempted == len(test.examples) > 0
