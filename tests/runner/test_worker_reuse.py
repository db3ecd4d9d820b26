"""Workers kept between run_local calls (REPRO_REUSE_WORKERS=1, what the test suite sets): only an idle, live worker
started with the same slot, working directory and environment is handed out again."""
from repro.runner import dispatch
from repro.runner.dispatch import Slot, _release_worker, _take_worker

SLOT = Slot("cpu:0", "cpu", "", 1)


def test_an_idle_worker_is_reused_only_under_the_same_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(dispatch, "_IDLE", {})
    monkeypatch.setenv("REPRO_REUSE_WORKERS", "1")
    first = _take_worker(SLOT)
    pid = first.proc.pid
    _release_worker(first, idle=True)
    again = _take_worker(SLOT)
    assert again.proc.pid == pid                         # reused
    _release_worker(again, idle=True)
    monkeypatch.setenv("REPRO_REFERENCE", str(tmp_path))   # a new environment: a new worker
    other = _take_worker(SLOT)
    assert other.proc.pid != pid
    _release_worker(other, idle=True)                    # kept; the other environment's idle worker is closed
    assert again.proc.poll() is not None and list(dispatch._IDLE) == [other.key]
    other = _take_worker(SLOT)
    _release_worker(other, idle=False)                   # mid-task (not idle): closed, never kept
    assert other.proc.poll() is not None
    monkeypatch.chdir(tmp_path)                          # another working directory: a new worker
    third = _take_worker(SLOT)
    assert third.proc.pid not in (pid, other.proc.pid)
    _release_worker(third, idle=True)
    dispatch._close_idle()
    assert third.proc.poll() is not None and dispatch._IDLE == {}   # idle workers are closed at exit


def test_without_the_switch_every_worker_is_closed(monkeypatch):
    monkeypatch.setattr(dispatch, "_IDLE", {})
    monkeypatch.delenv("REPRO_REUSE_WORKERS", raising=False)
    w = _take_worker(SLOT)
    _release_worker(w, idle=True)
    assert w.proc.poll() is not None and dispatch._IDLE == {}
