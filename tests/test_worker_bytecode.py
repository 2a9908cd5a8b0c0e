"""The worker writes the workflow modules' bytecode at start, even where Python would not
(PYTHONDONTWRITEBYTECODE), so the sandbox's import of them for every workflow loads bytecode
instead of compiling the source each time."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import pytest

import worker
import workflows.lead_cadence


@pytest.fixture
def empty_pycache(tmp_path, monkeypatch):
    """Bytecode goes to (and is read from) an empty directory, as in a fresh checkout; and Python
    itself writes none, as under PYTHONDONTWRITEBYTECODE."""
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    return tmp_path


def compiles_on_import(path: Path, monkeypatch) -> int:
    """How many times loading `path` as a module compiles its source."""
    calls = []
    real = importlib.machinery.SourceFileLoader.source_to_code

    def counting(self, data, path, *args, **kwargs):
        calls.append(path)
        return real(self, data, path, *args, **kwargs)

    with monkeypatch.context() as patch:  # only this spy is undone here, not the caller's patches
        patch.setattr(importlib.machinery.SourceFileLoader, "source_to_code", counting)
        importlib.machinery.SourceFileLoader("lead_cadence_copy", str(path)).get_code("lead_cadence_copy")
    return len(calls)


def test_without_bytecode_every_import_of_the_workflow_compiles_its_source(empty_pycache, monkeypatch):
    source = Path(workflows.lead_cadence.__file__)
    assert compiles_on_import(source, monkeypatch) == 1
    assert not Path(importlib.util.cache_from_source(str(source))).exists()  # and nothing was written


def test_the_worker_writes_the_bytecode_the_sandbox_then_loads(empty_pycache, monkeypatch):
    source = Path(workflows.lead_cadence.__file__)
    assert worker.compile_workflow_modules() is True
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert cached.is_relative_to(empty_pycache) and cached.stat().st_size > 0
    assert compiles_on_import(source, monkeypatch) == 0


def test_bytecode_that_cannot_be_written_is_reported(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setattr(sys, "pycache_prefix", str(blocked))  # nothing can be created under a file
    assert worker.compile_workflow_modules() is False
