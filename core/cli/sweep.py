"""``ptrun sweep TASK --space space.yaml --trials N [task options]``: an Optuna search over run
options (:mod:`ptrun.run.sweep`). The task options are parsed by ``ptrun TASK``'s own command,
so a sweep takes exactly the options a run does."""

from __future__ import annotations

import click
from ptrun.errors import PtrunError


@click.command("sweep", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("task_name", metavar="TASK")
@click.option("--space", required=True, type=click.Path(dir_okay=False), help="YAML search space: per option a range ({low, high, log, step}) or choices.")
@click.option("--trials", required=True, type=click.IntRange(1), help="Trials in the study in all (a rerun or another worker continues to this number).")
@click.option("--metric", help="Objective, e.g. f1 or validation.f1 or test.accuracy [default: the task's main metric on validation].")
@click.option("--direction", type=click.Choice(["auto", "maximize", "minimize"]), default="auto", show_default=True,
              help="auto: minimize losses and perplexity, maximize the rest.")
@click.option("--storage", help="Optuna RDB URL shared by workers: sqlite:///study.db, postgresql://USER:PASS@HOST/DB, "
                                "mysql+pymysql://USER:PASS@HOST/DB [default: SWEEP_DIR/study.db].")
@click.option("--study-name", help="Study in the storage [default: the sweep folder's name].")
@click.option("-o", "--sweep-dir", type=click.Path(file_okay=False), help="Sweep folder: one run folder per trial, trials.csv/json, best.yaml, report [default: runs/sweep-TASK].")
@click.pass_context
def sweep(ctx, task_name, space, trials, metric, direction, storage, study_name, sweep_dir):
    """Search run options with Optuna (TPE, median pruning): TASK's options after these are fixed
    for every trial (e.g. --train FILE --epochs 2); the space's options vary.

    TASK's options are those of `ptrun TASK --help`. Ctrl-C stops after the current trial;
    rerunning the same command continues the study."""
    from ptrun import registry
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise PtrunError("ptrun sweep needs Optuna.", hint="pip install 'ptrun[sweep]' (or pip install optuna).") from None
    from ptrun.run.space import load_space
    from ptrun.run.sweep import Sweep

    task = registry.get_task(task_name)
    params = load_space(space)
    from ptrun.cli.options import task_command

    command = task_command(task)
    sub = command.make_context(f"ptrun sweep {task_name} [sweep options]", list(ctx.args), parent=ctx)
    given = {k for k, v in sub.params.items() if sub.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    owned = given & {"output_dir", "overwrite", "resume"}
    if owned:
        raise PtrunError(f"ptrun sweep sets each trial's run folder; --{min(owned).replace('_', '-')} is not an option of a sweep.",
                         hint="Use -o SWEEP_DIR for the sweep folder; rerun the same command to continue a study.")
    both = given & {p.name for p in params}
    if both:
        raise PtrunError(f"--{min(both).replace('_', '-')} is both on the command line and in the search space {space}.",
                         hint="Keep it in one place: the space to search it, the command line to fix it.")
    from ptrun.run import configfile

    options = dict(sub.params)
    options.pop("print_config", None)
    base = configfile.resolve(task, sub, options, options.pop("config_file", None))
    Sweep(base, task, params, space, trials, metric, direction, storage, study_name, sweep_dir).optimize()
