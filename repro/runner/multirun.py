"""`repro run ... -m`: a Hydra multirun over the figure's config, so comma-separated override values sweep
(`panels.rosenbrock.params.lr=1e-3,1e-2`) and Hydra launcher plugins (`hydra/launcher=submitit_slurm`) work as
Hydra users expect. Each Hydra job runs the whole figure pipeline for its combination of overrides."""
from __future__ import annotations

import sys

from repro.runner.figures import FigureEntry, UserError, conf_dir


def multirun(entry: FigureEntry, overrides: list[str], panel: str | None) -> int:
    import hydra
    from hydra.core.hydra_config import HydraConfig

    from repro.runner.compose import load_spec, resolve
    from repro.runner.pipeline import run_figure

    select = f"+{entry.paper}={entry.name}"
    for combo in _combinations(overrides):   # fail fast, with one line, on any bad key or value
        load_spec(entry, combo, panel)
    codes: list[int] = []

    def task(cfg) -> None:
        hc = HydraConfig.get()
        job_overrides = [o for o in hc.overrides.task if o != select]
        try:
            spec = resolve(cfg, job_overrides, panel)
            if not any(o.startswith("results_dir=") for o in overrides):
                # each job's CSV and plot go beside its runs; results/ keeps the canonical configuration
                name = ",".join(o for o in job_overrides if not o.startswith(("runs_dir=", "devices=", "slots_per")))
                spec.runtime["results_dir"] = f"{spec.runtime['runs_dir']}/_multirun/{name.replace('/', '_') or hc.job.num}"
            results, claim_results = run_figure(spec)
            failed = any(r["status"] != "done" for r in results) or any(c.gate and c.passed is False
                                                                         for c in claim_results)
            codes.append(1 if failed else 0)
        except UserError as e:
            print(f"repro: {e}", file=sys.stderr)
            codes.append(2)

    main = hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(task)
    argv = sys.argv
    sys.argv = ["repro", "-m", select, *overrides]
    try:
        main()
    finally:
        sys.argv = argv
    return max(codes or [0])


def _combinations(overrides: list[str], limit: int = 256) -> list[list[str]]:
    """The overrides of every job a multirun will launch (Hydra's basic sweeper: the cartesian product)."""
    import itertools

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from repro.runner.compose import override_keys

    override_keys(overrides)   # a syntax error becomes one line
    choices = []
    for o in OverridesParser.create().parse_overrides(overrides):
        key = o.get_key_element()
        values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
        choices.append([f"{key}={v}" for v in values])
    return [list(c) for c in itertools.islice(itertools.product(*choices), limit)]
