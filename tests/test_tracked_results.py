"""Tiny results are never tracked (issue 15, item 11): a failing tiny run must not modify a committed file."""
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_no_tiny_result_is_tracked():
    out = subprocess.run(["git", "ls-files", "results"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    tiny = [f for f in out.stdout.splitlines() if "_tiny" in Path(f).name]
    assert not tiny, tiny
