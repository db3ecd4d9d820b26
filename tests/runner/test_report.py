"""results/README.md shows only what is committed (issue 15, item 12): no untracked (tiny) plot or table is
embedded, and regenerating it on a clean clone changes nothing."""
import os
import shutil
import subprocess

from repro.cli import main

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]


def _git(cwd, *args):
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_gallery_shows_only_committed_files_and_a_clean_clone_regenerates_it_unchanged(toy_root, monkeypatch,
                                                                                       tmp_path_factory):
    (toy_root / ".gitignore").write_text("/runs/\nresults/**/*_tiny.*\nresults/**/*_tiny_claims.csv\n")
    assert main(["run", "paper=toy", "fig=1", "scale=full"]) == 0
    assert main(["run", "paper=toy", "fig=1"]) == 0                       # tiny results on disk, ignored by git
    _git(toy_root, "init", "-q")
    _git(toy_root, "add", "-A")
    _git(toy_root, "commit", "-qm", "results")
    (toy_root / "results/toy/fig7.png").write_bytes(b"an untracked plot")
    assert main(["report"]) == 0
    report = (toy_root / "results/README.md").read_text()
    assert "(toy/fig1.png)" in report and "| quad/matches_theory" in report
    assert "tiny" not in report.replace("tiny ones are never committed", "") and "fig7" not in report
    _git(toy_root, "add", "results/README.md")
    _git(toy_root, "commit", "-qm", "report")
    # a clean clone regenerates it byte for byte
    clone = tmp_path_factory.mktemp("clone") / "repo"
    _git(toy_root.parent, "clone", "-q", str(toy_root), str(clone))
    monkeypatch.setenv("REPRO_ROOT", str(clone))
    assert main(["report"]) == 0
    assert _git(clone, "status", "--porcelain") == ""
    # and the checkout with tiny results on disk gives the same bytes again
    monkeypatch.setenv("REPRO_ROOT", str(toy_root))
    assert main(["report"]) == 0
    assert (toy_root / "results/README.md").read_text() == (clone / "results/README.md").read_text()


def test_outside_git_only_full_scale_files_are_shown(toy_root):
    assert main(["run", "paper=toy", "fig=1"]) == 0
    assert main(["report"]) == 0
    report = (toy_root / "results/README.md").read_text()
    assert "fig1_tiny" not in report and "Status: full missing" in report
