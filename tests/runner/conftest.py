import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]


@pytest.fixture
def toy_root(tmp_path, monkeypatch):
    """A project root holding the real conf/config.yaml and the toy figure; runs and results under tmp."""
    (tmp_path / "conf").mkdir()
    shutil.copy(REPO / "conf" / "config.yaml", tmp_path / "conf" / "config.yaml")
    shutil.copytree(HERE / "toyconf" / "toy", tmp_path / "conf" / "toy")
    monkeypatch.setenv("REPRO_ROOT", str(tmp_path))
    monkeypatch.setenv("REPRO_PLUGINS", "toy_experiments")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # the index and version caches, per test
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def repro_cmd():
    """The CLI as a subprocess command line: repro_cmd("run", "paper=toy")."""
    return lambda *args: [sys.executable, "-m", "repro.cli", *args]
