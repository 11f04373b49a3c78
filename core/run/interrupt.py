"""Ctrl-C (SIGINT) and SIGTERM during a run: nothing is lost.

While a run folder exists, :func:`watch` installs handlers for both signals. The first signal
marks the run ``interrupted`` in config.json; during training the Trainer stops after the
current step (saving a checkpoint when ``--save-steps`` is set, through :func:`callback`),
during evaluation or prediction the work stops at once (result files are written atomically,
so none is half-written). The run then ends with :class:`Interrupted`: one paragraph giving the
exact ``--resume`` command, exit status 130 (SIGINT) or 143 (SIGTERM). A second signal exits at
once with the same status.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from ptrun.errors import PtrunError
from ptrun.log import echo

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is 128 + the signal's number. A
    KeyboardInterrupt (not an Exception), so no ``except Exception`` on the way swallows it."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 130):
        self.message, self.hint, self.exit_code = message, hint, exit_code
        super().__init__(self.format())

    format = PtrunError.format

    def where(self) -> str:
        return ""


class _Watch:
    def __init__(self, out: Path, config: dict, cfg):
        self.out, self.config, self.cfg = Path(out), config, cfg
        self.signum: int | None = None
        self.phase = "loading the model"
        self.training = False
        self.previous = {}

    def handle(self, signum, frame):
        if self.signum is not None:
            # Second signal: the user wants out now; the status already says interrupted.
            os.write(2, f"\n{signal.Signals(signum).name} again: exiting at once.\n".encode())
            os._exit(128 + signum)
        self.signum = signum
        self.mark()
        name = signal.Signals(signum).name
        if self.training:
            saving = " and saving a checkpoint" if self.cfg.save_steps else ""
            echo(f"\n{name}: stopping after this training step{saving} (press Ctrl-C again to exit at once)...")
            return
        raise self.error()

    def mark(self, status: str = "interrupted", **extra) -> None:
        """config.json says ``interrupted`` (or ``failed``), and when, and during what."""
        from ptrun.run import folder

        self.config.update(status=status, **{status: time.strftime("%Y-%m-%dT%H:%M:%S%z"), f"{status}_during": self.phase},
                           **extra)
        try:
            folder.write_json(self.out / folder.RUN_CONFIG, self.config)
        except OSError:
            pass  # the message below still tells the user what to do

    def error(self) -> Interrupted:
        from ptrun.run import folder

        name = signal.Signals(self.signum).name
        checkpoints = sorted((self.out / folder.CHECKPOINTS).glob("checkpoint-*"), key=lambda p: _step(p.name))
        what = f"{name}: the run was interrupted during {self.phase}; {self.out}/{folder.RUN_CONFIG} says \"interrupted\"."
        if self.cfg.eval_only:
            hint = "Nothing was being trained, so there is nothing to resume: run the same command again with --overwrite."
        elif checkpoints:
            hint = f"Its latest checkpoint is {checkpoints[-1]}. Continue it with: {resume_command(self.cfg, self.out)}"
        else:
            hint = (f"No checkpoint was saved ({'none was due yet' if self.cfg.save_steps else 'the run had no --save-steps'}), "
                    f"so it cannot be resumed; start it again with --overwrite"
                    + ("" if self.cfg.save_steps else " (add --save-steps N to make a run resumable)") + ".")
        return Interrupted(what, hint=hint, exit_code=128 + self.signum)


_current: _Watch | None = None


def _step(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def watch(out, config: dict, cfg) -> None:
    """Handle SIGINT and SIGTERM for the run writing ``out`` (``config``: its config.json, which
    the run keeps updating in place). Only in the main thread (signals are delivered there)."""
    global _current
    if threading.current_thread() is not threading.main_thread():
        return
    unwatch()
    _current = _Watch(out, config, cfg)
    if _left_to_caller:
        return  # the caller's handlers stay; an exception they raise still marks the run (finish)
    for sig in SIGNALS:
        _current.previous[sig] = signal.signal(sig, _current.handle)


_left_to_caller = 0


class signals_left_to_caller:
    """Context: runs inside keep the caller's SIGINT/SIGTERM handlers (a sweep stops after the
    current trial on the first Ctrl-C); a KeyboardInterrupt they raise still marks the run."""

    def __enter__(self):
        global _left_to_caller
        _left_to_caller += 1
        return self

    def __exit__(self, *exc):
        global _left_to_caller
        _left_to_caller -= 1
        return False


_process_ends_with_run = False


def process_ends_with_run() -> None:
    """Called by the command line: the process exits when the run does, so after a first signal
    the "again: exit at once" handler stays installed until then (a second Ctrl-C that comes
    while the interrupted run is being wound up must not become a KeyboardInterrupt traceback)."""
    global _process_ends_with_run
    _process_ends_with_run = True


def unwatch() -> None:
    """Put back the handlers that were there before :func:`watch`."""
    global _current
    if _current is None:
        return
    if not (_process_ends_with_run and _current.signum is not None):
        for sig, handler in _current.previous.items():
            signal.signal(sig, handler)
    _current = None


def phase(what: str) -> None:
    """Name what the run is doing now (for the message): ``training``, ``evaluation of test``..."""
    if _current is not None:
        _current.phase = what


def defer() -> None:
    """From now until the end of :class:`training`, a signal stops the Trainer after its next step
    instead of raising at once (so one that comes while the Trainer is being set up still leaves a
    checkpoint)."""
    if _current is not None:
        _current.phase, _current.training = "training", True


class training:
    """Context: a signal now stops the Trainer after its step instead of raising at once."""

    def __enter__(self):
        defer()
        return self

    def __exit__(self, *exc):
        if _current is not None:
            _current.training = False
        if exc[0] is None:
            raise_if_interrupted()


def requested() -> bool:
    return _current is not None and _current.signum is not None


def raise_if_interrupted() -> None:
    if requested():
        raise _current.error()


def finish(exc: BaseException | None) -> None:
    """At the end of a run that raised ``exc``: an interrupt (ours, or a KeyboardInterrupt that
    got past the handler) leaves config.json saying ``interrupted``, any other error ``failed``
    (with the error), never ``running``."""
    if _current is None or exc is None:
        return
    if isinstance(exc, (Interrupted, KeyboardInterrupt)):
        if _current.signum is None:
            _current.signum = signal.SIGINT
        _current.mark()
    elif not isinstance(exc, SystemExit):
        message = exc.format() if isinstance(exc, PtrunError) else f"{type(exc).__name__}: {exc}"
        _current.mark("failed", error=message[:2000])


def callback():
    """A Trainer callback: after the step in which a signal came, save (with --save-steps) and stop."""
    from transformers import TrainerCallback

    class StopOnSignal(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if requested():
                control.should_training_stop = True
                if args.save_strategy != "no":
                    control.should_save = True
            return control

    return StopOnSignal()


def resume_command(cfg, out) -> str:
    """The command that continues this run: the original arguments (or, when ptrun was called
    from Python, the options that differ from their defaults) with ``--resume`` and ``-o OUT``."""
    args = sys.argv[1:]
    if cfg.task not in args[:1]:
        args = [cfg.task, *_options_of(cfg)]
    args = [a for a in args if a != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    if not any(a in ("-o", "--output-dir") or a.startswith(("--output-dir=", "-o")) and a != "-o" for a in args):
        args += ["-o", str(out)]
    return "ptrun " + shlex.join(args)


def _options_of(cfg) -> list[str]:
    from ptrun.config import RunConfig, cli_fields

    defaults = RunConfig()
    args: list[str] = []
    for f in cli_fields():
        value, default = getattr(cfg, f.name), getattr(defaults, f.name)
        if value == default or value is None or f.name in ("resume", "overwrite", "output_dir"):
            continue
        flag = (f.metadata.get("flags") or ())
        name = next((x for x in flag if x.startswith("--")), "--" + f.name.replace("_", "-"))
        if isinstance(value, bool):
            args.append(name if value else "--no-" + name[2:])
        elif isinstance(value, (tuple, list)):
            for item in value:
                args += [name, str(item)]
        else:
            args += [name, f"{value:g}" if isinstance(value, float) else str(value)]
    return args
