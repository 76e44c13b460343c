"""Fixtures of the graphml tests; the documents they build are in graphml_documents.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphml_documents import write_valid


@pytest.fixture
def valid_graphml(tmp_path: Path) -> Path:
    return write_valid(tmp_path)
