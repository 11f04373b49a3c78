"""A sweep's plots, drawn by Optuna's matplotlib visualisations: the optimization history and,
with at least two completed trials whose parameters vary, the parameters' importance."""

from __future__ import annotations

import warnings


def _figure(axes):
    fig = axes.figure
    fig.set_size_inches(8, 4.5)
    fig.tight_layout()
    return fig


def history(study):
    import optuna

    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        return None
    from optuna.visualization.matplotlib import plot_optimization_history

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        return _figure(plot_optimization_history(study))


def importance(study):
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    varying = {name for name in {n for t in complete for n in t.params}
               if len({repr(t.params.get(name)) for t in complete}) > 1}
    if len(complete) < 2 or not varying:
        return None
    from optuna.visualization.matplotlib import plot_param_importances

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _figure(plot_param_importances(study))


def specs(study):
    return [("optimization-history", "Optimization history", lambda: history(study)),
            ("param-importances", "Parameter importance", lambda: importance(study))]
