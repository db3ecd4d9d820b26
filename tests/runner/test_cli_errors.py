"""Bad input: exit status 2, one line naming the valid choices, nothing written."""
import os
import subprocess
import sys

import pytest

CASES = [
    (["run", "paper=nope"], "choose one of: toy"),
    (["run", "paper=toy", "fig=9"], "choose one of: 1, quad"),
    (["run", "paper=toy", "fig=1", "panels.quad.params.TT=3"], "valid keys under panels.quad.params: T, chains"),
    (["run", "paper=toy", "fig=1", "panels.quad.params.T=abc"], "wrong type for panels.quad.params.T"),
    (["run", "paper=toy", "fig=1", "scale=huge"], "choose one of: tiny, full"),
    (["run", "paper=toy", "fig=1", "precision=fp8"], "choose one of: fp32, bf16, fp16"),
    (["run", "paper=toy", "fig=1", "devices=gpu"], "bad devices"),
    (["frobnicate"], "choose one of: list, run"),
    (["run", "paper=toy", "--bogus"], "unknown flag"),
    (["list", "paper=nope"], "choose one of: toy"),
]


@pytest.mark.parametrize("args,expect", CASES)
def test_bad_input_exits_2_with_one_line(toy_root, repro_cmd, args, expect):
    out = subprocess.run(repro_cmd(*args), capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (toy_root / "runs").exists() and not (toy_root / "results").exists()


# issue 15: every user mistake is one line naming the key and what is allowed, exit 2, nothing written
MISTAKES = [
    (["devices=[0,1]"], "devices=[0, 1]: no CUDA device 0, 1 on this machine; no CUDA device is present"),
    (["devices=0"], "devices=[0]: no CUDA device 0"),
    (["devices=0,1"], "devices=[0, 1]: no CUDA device 0, 1"),
    (["devices='0,1'"], "devices=[0, 1]: no CUDA device"),
    (["devices=[a]"], "bad devices"),
    (["runs_dir=afile"], "bad runs_dir=afile"),
    (["runs_dir=afile/sub"], "which is a file"),
    (["results_dir=/proc/nope"], "bad results_dir=/proc/nope: cannot write"),
    (["runs_dir=${oc.env:NOPE_NOT_SET}"], "cannot resolve runs_dir"),
    (["=5"], "no key before '='"),
    (["panels.quad.grid.lr=[]"], "panels.quad.grid.lr=[]: a grid takes a non-empty list"),
    (["panels.quad.params.T=99999999999999999999999"], "value for panels.quad.params.T is too large"),
    (["panels.quad.grid.lr.0=3"], "cannot override one element of the list panels.quad.grid.lr"),
    (["slots_per_device=0"], "bad slots_per_device=0: use null (automatic) or an integer >= 1"),
    (["slots_per_device=-3"], "bad slots_per_device=-3"),
    (["slots_per_device=abc"], "bad slots_per_device='abc'"),
    (["threads=0"], "bad threads=0"),
    (["launcher=slurm"], "launcher=slurm cannot reach a cluster"),
]


@pytest.mark.parametrize("extra,expect", MISTAKES, ids=[m[0][0] for m in MISTAKES])
def test_user_mistakes_exit_2_with_one_line(toy_root, repro_cmd, extra, expect):
    (toy_root / "afile").write_text("not a folder\n")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PATH=os.environ["PATH"])
    if extra == ["launcher=slurm"]:   # no sbatch on PATH
        env["PATH"] = os.path.dirname(sys.executable)
    out = subprocess.run(repro_cmd("run", "paper=toy", "fig=1", *extra), capture_output=True, text=True, env=env)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], out.stderr[-2000:]
    assert not (toy_root / "runs").exists() and not (toy_root / "results").exists()


def test_devices_accept_an_int_a_list_and_a_comma_string(toy_root, monkeypatch):
    from repro.runner import compose
    from repro.runner.figures import index

    monkeypatch.setattr(compose, "_cuda_count", lambda: 2)
    [entry] = index()["toy"]
    for value, want in [("auto", "auto"), ("cpu", "cpu"), ("1", [1]), ("[0,1]", [0, 1]), ("'0,1'", [0, 1])]:
        assert compose.load_spec(entry, [f"devices={value}"]).runtime["devices"] == want, value
    with pytest.raises(compose.UserError, match=r"no CUDA device 2 on this machine; present: 0, 1"):
        compose.load_spec(entry, ["devices=[0,2]"])


def test_slurm_falls_back_to_local_only_when_asked(toy_root, monkeypatch, capsys):
    from repro.runner import compose
    from repro.runner.figures import index

    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    [entry] = index()["toy"]
    spec = compose.load_spec(entry, ["launcher=slurm", "slurm.local_fallback=true"])
    assert spec.runtime["launcher"] == "local"


def test_dirs_resolve_from_the_project_root_not_the_current_folder(toy_root, repro_cmd, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    out = subprocess.run(repro_cmd("run", "paper=toy", "fig=1"), capture_output=True, text=True, cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    assert not (elsewhere / "runs").exists() and not (elsewhere / "results").exists()
    assert (toy_root / "results/toy/fig1_tiny.csv").exists() and (toy_root / "runs/toy/fig1").is_dir()
