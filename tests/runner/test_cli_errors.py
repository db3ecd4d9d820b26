"""Bad input: exit status 2, one line naming the valid choices, nothing written."""
import subprocess

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
