"""The ``ptrun`` command line. Task commands (``ptrun <task>``) come from the task registry."""

from __future__ import annotations

import os
import sys

import click

from ptrun import registry
from ptrun.errors import PtrunError

DEBUG_ENV = "PTRUN_DEBUG"


class PtrunGroup(click.Group):
    """A click group that adds one command per task and turns PtrunError into a clean exit."""

    def list_commands(self, ctx):
        builtin = super().list_commands(ctx)
        return builtin + [name for name in registry.tasks() if name not in builtin]

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in registry.tasks():
            from ptrun.cli.options import task_command

            command = task_command(registry.tasks()[name])
        return command

    def invoke(self, ctx):
        from ptrun.run import interrupt
        from ptrun.run.interrupt import Interrupted

        interrupt.process_ends_with_run()
        try:
            return super().invoke(ctx)
        except Interrupted as exc:
            error = click.ClickException(exc.format())
            error.exit_code = exc.exit_code
            raise error from None
        except PtrunError as exc:
            raise click.ClickException(exc.format()) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # `ptrun tasks | head`: the reader went away; nothing is wrong with ptrun.
            sys.stderr.close()
            os._exit(0)
        except MemoryError:
            raise click.ClickException(
                "Out of memory. Lower --batch-size or --max-length, or limit the data with --limit-train."
            ) from None
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            raise click.ClickException(
                f"Internal error: {type(exc).__name__}: {exc}. This is a bug in ptrun or one of its plugins; "
                f"rerun with {DEBUG_ENV}=1 to see the traceback and report it."
            ) from None


@click.group(cls=PtrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ptrun")
def cli():
    """Prompt-based fine-tuning and evaluation of language models.

    \b
    ptrun tasks                   list installed tasks
    ptrun templates [TASK]        list prompt templates
    ptrun render TASK             show rendered examples for a template
    ptrun check [PATH...]         lint templates
    ptrun TASK [OPTIONS]          fine-tune, evaluate and predict (one command per task)
    """


def _register_commands() -> None:
    from ptrun.cli import info, predict, runs, serve, sweep

    for command in (*info.COMMANDS, predict.predict, serve.serve, *runs.COMMANDS, sweep.sweep):
        cli.add_command(command)


_register_commands()


def main(argv=None):
    # Plugins add their commands once; a plugin whose hook raises is reported, not fatal.
    list(registry.in_registration_order("ptrun_commands", cli=cli))  # the later plugin's command wins
    return cli.main(args=argv, prog_name="ptrun")


if __name__ == "__main__":
    main()
