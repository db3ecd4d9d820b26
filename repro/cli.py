"""`repro`: the command line. Subcommands: list, run, plot, check, params, status, report, data.

    repro list [paper=P]
    repro run paper=P [fig=N|alias] [scale=tiny|full] [key=value ...] [--force] [--cfg] [-m]
    repro run all [scale=...]
    repro plot paper=P [fig=N] [scale=S]
    repro check [paper=P] [fig=N] [scale=S]
    repro status
    repro params [paper=P] [fig=N] [scale=S]  rewrite fig<N>.params.csv from the spec alone (nothing is rerun);
                                              a figure whose CSV's run keys do not match the spec is stale: skipped
    repro report
    repro data list|fetch [paper=P] [fig=N] [dataset=NAME] [data_dir=DIR] [base_url=URL]

Overrides use Hydra's syntax against the figure's config (`repro run paper=laprop fig=1 --cfg` prints it), e.g.
`panels.rosenbrock.params.T=500`, `devices=[0,1]`, `precision=bf16`. `-m` sweeps comma-separated values as a
Hydra multirun (`panels.rosenbrock.params.lr=1e-3,1e-2`). Bad input exits with status 2 and one line.
"""
from __future__ import annotations

import re
import sys

from repro.runner.figures import UserError, find, index

COMMANDS = ("list", "run", "plot", "check", "params", "status", "report", "data")


def _split(args: list[str]) -> tuple[dict, list[str], set[str]]:
    """Pull paper=, fig= and flags out of the argument list; the rest are Hydra overrides."""
    picked, rest, flags = {}, [], set()
    for a in args:
        if a in ("--cfg", "-m", "--multirun", "--force", "all", "-h", "--help"):
            flags.add({"--multirun": "-m"}.get(a, a))
        elif a.startswith(("paper=", "fig=")):
            k, v = a.split("=", 1)
            picked[k] = v
        elif a.startswith("-"):
            raise UserError(f"unknown flag {a!r}; flags: --cfg, -m, --force")
        else:
            rest.append(a)
    return picked, rest, flags


def _targets(picked: dict, flags: set, required: bool = True):
    """[(FigureEntry, panel alias or None)] for paper=/fig=/all."""
    if "all" in flags or ("paper" not in picked and not required):
        return [(e, None) for figs in index().values() for e in figs]
    if "paper" not in picked:
        raise UserError(f"say which paper: paper=<{'|'.join(index())}> (or `all`)")
    entries, panel = find(picked["paper"], picked.get("fig"))
    return [(e, panel) for e in entries]


def _scale_of(overrides: list[str]) -> str | None:
    for o in overrides:
        if o.startswith("scale="):
            return o.split("=", 1)[1]
    return None


def cmd_run(args: list[str]) -> int:
    from omegaconf import OmegaConf

    from repro.runner.compose import load_spec
    from repro.runner.pipeline import run_figures

    picked, overrides, flags = _split(args)
    if "--force" in flags:
        overrides.append("force=true")
    if "-m" not in flags:   # devices=0,1 is a list of GPUs here, not a Hydra sweep
        overrides = [f"devices=[{o[8:]}]" if re.fullmatch(r"devices=\d+(,\d+)+", o) else o for o in overrides]
    targets = _targets(picked, flags)
    if "-m" in flags:
        from repro.runner.multirun import multirun
        return max(multirun(e, overrides, panel) for e, panel in targets)
    specs = [load_spec(e, overrides, panel) for e, panel in targets]   # validate everything before running
    if "--cfg" in flags:
        for s in specs:
            print(OmegaConf.to_yaml({"paper": s.paper, "fig": s.fig, "title": s.title, "scale": s.scale,
                                     "runtime": s.runtime, "panels": s.panels}))
        return 0
    todo = []
    for s in specs:
        if all(p.get("skip") for p in s.panels.values()):
            print(f"{s.paper} fig{s.fig}: skipped: {next(iter(s.panels.values()))['skip']}")
        else:
            todo.append(s)
    from repro.runner import claims

    out = run_figures(todo, progress=sys.stderr.isatty())   # a progress bar only on a terminal, not in logs
    summary = []
    for s, (results, claim_results) in zip(todo, out):
        where = f"{s.paper} fig{s.fig} [{s.scale}]"
        errors: dict[str, int] = {}
        for r in results:
            if r["status"] != "done":
                errors[r.get("error", "?")] = errors.get(r.get("error", "?"), 0) + 1
        for error, n in errors.items():   # one line per failure (a distinct error of a figure)
            summary.append(f"repro: {where}: {n} run(s) failed, nothing written: {error}")
        bad = claims.gating_failures(claim_results)
        if bad:
            summary.append(f"repro: {where}: {len(bad)} gating claim(s) failed: {', '.join(f'{c.panel}/{c.id}' for c in bad)}")
    for line in summary:
        print(line, file=sys.stderr)
    return 1 if summary else 0


def _existing_specs(picked, overrides, flags, require_csv=False):
    """Specs of the chosen figures at the chosen scale(s). Without scale=, only those with a CSV; with scale=,
    all of them (`check` then reports a missing CSV as a failed claim) unless require_csv."""
    from repro.runner.collect import results_path
    from repro.runner.compose import load_spec

    scale = _scale_of(overrides)
    scales = [scale] if scale else ["tiny", "full"]
    rest = [o for o in overrides if not o.startswith("scale=")]
    for e, panel in _targets(picked, flags, required=False):
        for sc in scales:
            spec = load_spec(e, [*rest, f"scale={sc}"], panel)
            if all(p.get("skip") for p in spec.panels.values()):
                continue
            if results_path(spec.runtime["results_dir"], spec.paper, spec.fig, sc).exists() or (scale and not require_csv):
                yield spec


def cmd_plot(args: list[str]) -> int:
    from repro.runner.pipeline import plot_figure

    picked, overrides, flags = _split(args)
    n = 0
    for spec in _existing_specs(picked, overrides, flags, require_csv=True):
        print(plot_figure(spec))
        n += 1
    if not n:
        print("nothing to plot: no results CSV yet (repro run ... first)")
    return 0


def cmd_check(args: list[str]) -> int:
    from repro.runner import claims
    from repro.runner.collect import results_path
    from repro.runner.pipeline import check_figure

    picked, overrides, flags = _split(args)
    specs = list(_existing_specs(picked, overrides, flags))
    if not specs:
        what = " ".join(f"{k}={v}" for k, v in picked.items()) or "any figure"
        print(f"repro check: no results for {what}{' at scale=' + _scale_of(overrides) if _scale_of(overrides) else ''}"
              f" (run `repro run ...` first)", file=sys.stderr)
        return 1
    res, missing = [], 0
    for spec in specs:
        csv = results_path(spec.runtime["results_dir"], spec.paper, spec.fig, spec.scale)
        if not csv.exists():
            print(f"repro check: {spec.paper} fig{spec.fig} [{spec.scale}]: no results ({csv} is missing; run "
                  f"`repro run paper={spec.paper} fig={spec.fig} scale={spec.scale}` first)", file=sys.stderr)
            missing += 1
            continue
        res += check_figure(spec)
    bad = len(claims.gating_failures(res))
    reported = sum(r.passed is False and not r.gate for r in res)
    na = sum(claims.not_on_device(r.passed, r.detail) for r in res)
    not_run = sorted({r.panel for r in res if claims.panel_not_run(r.passed, r.detail)})
    unrun = sum(claims.panel_not_run(r.passed, r.detail) for r in res)
    print(f"claims passed {sum(r.passed is True for r in res)}; gating failures {bad}; "
          f"reported-only failures {reported}; not evaluated {sum(r.passed is None for r in res) - na - unrun}"
          + (f"; not evaluated on this device {na}" if na else "")
          + (f"; panels without results {len(not_run)} ({', '.join(not_run)})" if not_run else "")
          + (f"; figures without results {missing}" if missing else ""))
    return 1 if bad or missing or not_run else 0


def cmd_params(args: list[str]) -> int:
    from repro.runner.collect import params_stale, results_path, write_params
    from repro.runner.pipeline import code_version, plan

    picked, overrides, flags = _split(args)
    stale = 0
    for spec in _existing_specs(picked, overrides, flags, require_csv=True):
        csv = results_path(spec.runtime["results_dir"], spec.paper, spec.fig, spec.scale)
        runs = plan(spec)
        why = params_stale(pd_read(csv), runs)
        if why:
            stale += 1
            print(f"repro params: {spec.paper} fig{spec.fig} [{spec.scale}]: stale, not written ({why})",
                  file=sys.stderr)
            continue
        print(write_params(spec, runs, spec.runtime["results_dir"], version_of=code_version))
    return 1 if stale else 0


def pd_read(csv):
    import pandas as pd

    return pd.read_csv(csv, low_memory=False)


def cmd_list(args: list[str]) -> int:
    from repro.runner.status import list_lines

    picked, _, flags = _split(args)
    if picked.get("paper") and picked["paper"] not in index():
        raise UserError(f"unknown paper {picked['paper']!r}; choose one of: {', '.join(index())}")
    print("\n".join(list_lines(picked.get("paper"))))
    return 0


def cmd_status(args: list[str]) -> int:
    from repro.runner.status import status_grid

    print(status_grid())
    return 0


def cmd_report(args: list[str]) -> int:
    from repro.runner.report import write_report

    print(write_report())
    return 0


def cmd_data(args: list[str]) -> int:
    from repro.data.fetch import main as data_main   # repro/data/fetch.py: the registry's list and downloads

    return data_main(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    try:
        if cmd not in COMMANDS:
            raise UserError(f"unknown command {cmd!r}; choose one of: {', '.join(COMMANDS)}")
        code = globals()[f"cmd_{cmd}"](args)
    except UserError as e:
        print(f"repro: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    return code


if __name__ == "__main__":
    sys.exit(main())
