"""``ptrun sweep``: an Optuna study over run options, each trial a normal run folder.

The study lives in an RDB storage (a SQLite file in the sweep folder unless ``--storage`` names
another, e.g. PostgreSQL shared by several machines), so workers share it and a rerun continues
it. Trials are counted in the storage, so N trials are run in all, by however many workers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import time
from pathlib import Path

from ptrun.errors import PtrunError
from ptrun.log import echo, result
from ptrun.run.folder import atomic_write_text, write_json

#: Metric names where lower is better, for --direction auto.
_LOWER_IS_BETTER = ("loss", "perplexity", "error", "unparseable")


def metric_of(metric: str | None, task) -> tuple[str, str]:
    """``(split, name)`` of ``--metric`` (``f1``, ``validation.f1``, ``test.accuracy``)."""
    split, _, name = (metric or task.main_metric).rpartition(".")
    split = split or "validation"
    if split not in ("validation", "test"):
        raise PtrunError(f"--metric {metric}: the split must be validation or test.", hint="E.g. --metric validation.f1.")
    return split, name


def direction_of(name: str, direction: str) -> str:
    if direction != "auto":
        return direction
    return "minimize" if any(word in name for word in _LOWER_IS_BETTER) else "maximize"


def shown_url(url: str) -> str:
    """A storage URL with its password hidden, for reports and messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def pruning_callback(trial, metric: str):
    """A TrainerCallback reporting ``eval_<metric>`` at each evaluation during training to the
    Optuna trial, and stopping training when the pruner says so (``.pruned`` is then set)."""
    from transformers import TrainerCallback

    class OptunaPruning(TrainerCallback):
        pruned_at: int | None = None

        @property
        def pruned(self) -> bool:
            return self.pruned_at is not None

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            value = (metrics or {}).get(f"eval_{metric}")
            if value is None:
                return
            trial.report(float(value), step=int(state.global_step))
            if trial.should_prune():
                self.pruned_at = int(state.global_step)
                control.should_training_stop = True

    return OptunaPruning()


class StopAfterTrial:
    """The first Ctrl-C asks the sweep to stop after the current trial; a second stops it now."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: Ctrl-C keeps its default meaning
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        echo("\nCtrl-C: the sweep stops after the current trial (Ctrl-C again to stop now; rerun the command to continue).")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


class Sweep:
    """One worker of a sweep: runs trials of ``base`` (a RunConfig) with options from ``params``."""

    def __init__(self, base, task, params, space_path, trials: int, metric=None, direction="auto",
                 storage=None, study_name=None, out=None):
        import optuna

        self.base, self.task, self.params, self.trials = base, task, params, trials
        self.split, self.metric = metric_of(metric, task)
        self.direction = direction_of(self.metric, direction)
        self.out = Path(out or Path("runs") / f"sweep-{task.name}")
        self.out.mkdir(parents=True, exist_ok=True)
        self.storage = storage or f"sqlite:///{(self.out / 'study.db').resolve()}"
        self.study_name = study_name or self.out.name
        space = {p.name: p.to_dict() for p in params}
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # ptrun prints its own line per trial
        storage_obj = _open_storage(self.storage)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
        self.study = optuna.create_study(storage=storage_obj, study_name=self.study_name, direction=self.direction,
                                         pruner=pruner, load_if_exists=True)
        self._check_same_study(space)
        # A reproducible sampler per study position; workers that share a study differ by pid.
        seed = base.seed + len(self.study.trials) + (os.getpid() if storage else 0)
        self.study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, trials // 3)))

    def _check_same_study(self, space: dict) -> None:
        what = {"task": self.task.name, "space": space, "metric": f"{self.split}.{self.metric}"}
        attrs = self.study.user_attrs
        if "ptrun" not in attrs:
            self.study.set_user_attr("ptrun", what)
            return
        before = attrs["ptrun"]
        if json.dumps(before, sort_keys=True) != json.dumps(what, sort_keys=True):
            changed = ", ".join(k for k in what if before.get(k) != what[k])
            raise PtrunError(
                f"The study '{self.study_name}' in {shown_url(self.storage)} was started with another {changed} "
                f"({json.dumps({k: before.get(k) for k in what if before.get(k) != what[k]})}).",
                hint="Rerun with the same options to continue it, or pass another --study-name (or -o) for a new study.",
            )

    # -- counting trials in the storage (shared by every worker) -----------------------
    def _counted(self, frozen) -> bool:
        import optuna

        TS = optuna.trial.TrialState
        return frozen.state in (TS.COMPLETE, TS.PRUNED, TS.RUNNING, TS.WAITING) and not frozen.user_attrs.get("surplus")

    def taken(self) -> int:
        import warnings

        import optuna

        # A dead worker's trial (no heartbeat for grace_period) is failed first, so it frees its place.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental" in Optuna's terms
            optuna.storages.fail_stale_trials(self.study)
        return sum(self._counted(t) for t in self.study.get_trials(deepcopy=False))

    def _objective(self, trial):
        import optuna

        self.current = trial.number
        earlier = sum(self._counted(t) for t in self.study.get_trials(deepcopy=False) if t.number < trial.number)
        if earlier >= self.trials:  # another worker took the last trial between our check and ask
            trial.set_user_attr("surplus", True)
            raise _Surplus()
        options = {p.name: p.suggest(trial) for p in self.params}
        folder = self.out / f"trial-{trial.number:04d}"
        trial.set_user_attr("run", folder.name)
        cfg = dataclasses.replace(self.base, **options, output_dir=str(folder), overwrite=True, resume=False)
        # With --seeds a trial is the few-shot protocol (one run per seed) and its value the mean
        # over seeds; evaluations of different seeds cannot feed one pruning curve.
        callback = pruning_callback(trial, self.metric) if not cfg.seeds else None
        try:
            value = self._run(cfg, [callback] if callback else [])
        except Exception as exc:
            trial.set_user_attr("error", exc.format() if isinstance(exc, PtrunError) else f"{type(exc).__name__}: {exc}")
            trial.set_user_attr("user_error", isinstance(exc, PtrunError))
            raise
        if value is None:
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
            value = (metrics.get(self.split) or {}).get(self.metric)
        else:
            metrics = {self.split: {k: v["mean"] for k, v in value.get(self.split, {}).items()}}
            value = metrics[self.split].get(self.metric)
        if not isinstance(value, (int, float)):
            found = ", ".join(k for k, v in (metrics.get(self.split) or {}).items() if isinstance(v, (int, float))) or "none"
            message = (f"--metric {self.split}.{self.metric}: the run wrote no such metric (its {self.split} metrics: {found})."
                       if metrics.get(self.split) else f"--metric {self.split}.{self.metric}: the run has no {self.split} split.")
            trial.set_user_attr("error", message)
            trial.set_user_attr("user_error", True)
            raise PtrunError(message, hint=f"Pass --metric with one of those, or give the runs a {self.split} split.")
        if callback is not None and callback.pruned:
            trial.set_user_attr("pruned_at_step", callback.pruned_at)
            trial.set_user_attr("value_when_pruned", value)
            raise optuna.TrialPruned()
        return float(value)

    def _run(self, cfg, callbacks):
        """Run one trial; with --seeds return the summary's metrics (mean per split), else None."""
        import contextlib
        import io

        from ptrun.run import pipeline

        # A trial's summary table is in its report.md; the sweep prints one line per trial.
        with contextlib.redirect_stdout(io.StringIO()):
            if cfg.seeds:
                from ptrun.run.seeds import run_seeds

                return run_seeds(cfg, cfg.seeds, callbacks=callbacks)["metrics"]
            pipeline.run(cfg, callbacks=callbacks)
        return None

    def optimize(self) -> None:
        import optuna

        from ptrun.run import interrupt

        failures = 0
        with StopAfterTrial() as stop, interrupt.signals_left_to_caller():
            while not stop.requested and self.taken() < self.trials:
                completed_before = any(t.state == optuna.trial.TrialState.COMPLETE for t in self.study.trials)
                self.current = None
                start = time.perf_counter()
                self.study.optimize(self._objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
                frozen = next((t for t in self.study.get_trials(deepcopy=False) if t.number == self.current), None)
                if frozen is None or frozen.user_attrs.get("surplus"):
                    break
                self._say(frozen, time.perf_counter() - start)
                self.write_tables()
                if frozen.state == optuna.trial.TrialState.FAIL:
                    failures += 1
                    error = frozen.user_attrs.get("error", "unknown error")
                    if not completed_before and failures == 1 and frozen.user_attrs.get("user_error"):
                        # Bad input before any trial worked: every trial would fail the same way.
                        raise PtrunError(f"The sweep stopped: its first trial failed: {error}")
                    if failures >= 3:
                        raise PtrunError(f"The sweep stopped after 3 trials in a row failed; the last: {error}",
                                         hint="Fix the options or narrow the space, then rerun the command to continue.")
                else:
                    failures = 0
        self.write_tables()
        self.write_report()
        result(f"Sweep folder: {self.out} (trials.csv, best.yaml, report.html)")

    def _say(self, t, seconds: float) -> None:
        import optuna

        options = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())
        what = {optuna.trial.TrialState.COMPLETE: lambda: f"{self.split} {self.metric} {t.value:.4f}",
                optuna.trial.TrialState.PRUNED: lambda: f"pruned at step {t.user_attrs.get('pruned_at_step')}",
                }.get(t.state, lambda: f"failed: {t.user_attrs.get('error', 'unknown error')}")()
        best = self.best()
        tail = f"best so far: trial {best.number} {best.value:.4f}" if best else "no completed trial yet"
        done = sum(s.state.is_finished() and not s.user_attrs.get("surplus") and s.state != optuna.trial.TrialState.FAIL
                   for s in self.study.trials)
        result(f"trial {t.number} ({done}/{self.trials}) {what} ({options}) in {seconds:.1f}s; {tail}")

    def best(self):
        import optuna

        complete = [t for t in self.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            return None
        pick = min if self.direction == "minimize" else max
        return pick(complete, key=lambda t: t.value)

    # -- what the sweep folder holds --------------------------------------------------
    def rows(self) -> list[dict]:
        names = [p.name for p in self.params]
        rows = []
        for t in self.study.trials:
            if t.user_attrs.get("surplus"):
                continue
            duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
            rows.append({
                "number": t.number, "state": t.state.name.lower(), "value": t.value,
                **{n: t.params.get(n) for n in names},
                "seconds": None if duration is None else round(duration, 1),
                "started": t.datetime_start.isoformat(timespec="seconds") if t.datetime_start else None,
                "run": t.user_attrs.get("run"), "error": t.user_attrs.get("error"),
            })
        return rows

    def write_tables(self) -> None:
        import csv
        import io

        rows = self.rows()
        write_json(self.out / "trials.json", {"study": self.study_name, "storage": shown_url(self.storage),
                                               "metric": f"{self.split}.{self.metric}", "direction": self.direction,
                                               "trials": rows})
        buffer = io.StringIO()
        columns = list(rows[0]) if rows else ["number", "state", "value"]
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.out / "trials.csv", buffer.getvalue())
        best = self.best()
        if best is not None:
            atomic_write_text(self.out / "best.yaml", self.best_yaml(best))

    def best_yaml(self, best) -> str:
        """The best trial's options (the command line's plus the trial's), as long options."""
        import yaml
        from ptrun.config import RunConfig

        defaults = RunConfig(task=self.task.name)
        chosen = {f.name: getattr(self.base, f.name) for f in dataclasses.fields(RunConfig)
                  if f.name not in ("task", "output_dir", "overwrite", "resume") and getattr(self.base, f.name) != getattr(defaults, f.name)}
        chosen.update(best.params)
        options = {k.replace("_", "-"): list(v) if isinstance(v, tuple) else v for k, v in chosen.items()}
        head = (f"# Best trial {best.number} of study '{self.study_name}': {self.split} {self.metric} = {best.value:.6g} "
                f"({self.direction}); run folder {best.user_attrs.get('run')}\n"
                f"# Replay: ptrun {self.task.name} --config best.yaml\n")
        return head + yaml.safe_dump(options, sort_keys=False)

    def write_report(self) -> None:
        from ptrun.run.report import _draw, write_documents
        from ptrun.run.sweep_plots import specs

        rows = self.rows()
        states = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running")}
        best = self.best()
        facts = [f"study `{self.study_name}` in `{shown_url(self.storage)}`",
                 f"objective: {self.split} `{self.metric}` ({self.direction}), TPE sampler, median pruning",
                 (f"trials: {states['complete']} complete, {states['pruned']} pruned, {states['fail']} failed, "
                 f"{states['running']} running (of {self.trials})")]
        if best is not None:
            facts.append(f"best: trial {best.number} ({best.user_attrs.get('run')}) {best.value:.4f} with "
                         + ", ".join(f"`{k}={_short(v)}`" for k, v in best.params.items()))
        header = ["trial", "state", "value", *(p.name for p in self.params), "seconds", "run"]
        table = [[str(r["number"]), r["state"], "-" if r["value"] is None else f"{r['value']:.4f}",
                  *(_short(r[p.name]) for p in self.params), "-" if r["seconds"] is None else str(r["seconds"]), r["run"] or "-"]
                 for r in rows]
        blocks = [("h1", f"ptrun sweep: {self.task.name}"), ("ul", facts), ("h2", "Trials"), ("table", header, table)]
        drawn = _draw(self.out, specs(self.study), echo_warning)
        if drawn:
            blocks += [("h2", "Plots"), *(("img", title, path) for title, path in drawn)]
        write_documents(self.out, f"ptrun sweep: {self.task.name}", blocks)


def _open_storage(url: str, attempts: int = 5):
    """Optuna's RDBStorage for ``url``. Workers started together race to create its tables, so a
    failed first open is retried; SQLite waits for a locked file instead of failing at once."""
    import warnings

    import optuna

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's terms
                warnings.simplefilter("ignore")
                # A worker that dies (SIGKILL, a lost machine) stops its heartbeat; its trial is
                # then failed, so it does not count against --trials.
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=30, grace_period=120)
        except ImportError as exc:
            raise PtrunError(f"--storage {shown_url(url)}: its database driver is not installed ({exc}).",
                             hint="Install it (psycopg2-binary for postgresql://, pymysql for mysql+pymysql://).") from None
        except Exception as exc:  # noqa: BLE001 - a bad URL, an unreachable server, or another worker creating the tables
            from sqlalchemy.exc import IntegrityError, OperationalError

            racing = isinstance(exc, (OperationalError, IntegrityError))  # e.g. two workers creating the tables
            if attempt + 1 == attempts or not racing:
                raise PtrunError(f"--storage {shown_url(url)}: cannot open the study storage ({type(exc).__name__}: "
                                 f"{shown_url(str(exc).splitlines()[0])}).",
                                 hint="Use sqlite:///FILE.db, postgresql://USER:PASS@HOST/DB or mysql+pymysql://USER:PASS@HOST/DB.") from None
            time.sleep(0.5 + attempt)


class _Surplus(Exception):
    """This worker's trial would exceed --trials: another worker took the last one."""


def echo_warning(message: str) -> None:
    from ptrun.log import warn

    warn(message)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
