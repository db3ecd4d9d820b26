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
    first = [o.split(",")[0] if "=" in o and "[" not in o else o for o in overrides]
    load_spec(entry, first, panel)   # fail fast, with one line, on a bad key before Hydra starts
    codes: list[int] = []

    def task(cfg) -> None:
        job_overrides = [o for o in HydraConfig.get().overrides.task if o != select]
        try:
            results, _ = run_figure(resolve(cfg, job_overrides, panel))
            codes.append(1 if any(r["status"] != "done" for r in results) else 0)
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
