"""The ``ptrun`` command line. Task commands (``ptrun ner``, ...) come from the task registry."""

from __future__ import annotations

import json
import os
import sys

import click

from ptrun import plugin_manager as plugins
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
            command = task_command(registry.tasks()[name])
        return command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
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
    ptrun TASK [OPTIONS]          fine-tune, evaluate and predict (e.g. ptrun ner)
    """


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tasks(as_json):
    """List installed tasks and the plugins that provide them."""
    found = registry.tasks()
    rows = [
        {
            "name": t.name,
            "description": t.description,
            "plugin": t.plugin,
            "default_template": t.default_template,
            "default_templates": dict(t.default_templates),
            "default_model": t.default_model,
            "model_kinds": list(t.model_kinds),
        }
        for t in found.values()
    ]
    if as_json:
        _echo_json(rows)
        return
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        click.echo(f"{r['name'].ljust(width)}  {r['description']}  [{r['plugin']}]")
    _warn_broken()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json):
    """List plugins: version, hooks and load errors."""
    plugins.load_plugins()
    registry.tasks()  # hook failures while providing tasks are recorded as plugin errors
    infos = [info.as_dict() for info in plugins.PLUGINS.values()]
    if as_json:
        _echo_json(infos)
        return
    for info in infos:
        version = f" {info['version']}" if info["version"] else ""
        dist = f" ({info['distribution']}{version})" if info["distribution"] else ""
        click.echo(f"{info['name']}{dist}: {info['module']}")
        if info["error"]:
            click.echo(f"    ERROR: {info['error']}")
        else:
            click.echo(f"    hooks: {', '.join(info['hooks'])}")


plugins_command.name = "plugins"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(as_json):
    """List model aliases."""
    from ptrun.errors import PtrunError as _Err

    rows = []
    for alias, spec in registry.models().items():
        try:
            where = str(spec.locate())
        except _Err as exc:
            where = f"not available: {exc.format()}"
        rows.append({"alias": alias, "kind": spec.kind, "description": spec.description, "path": where})
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['alias']}  ({r['kind']}) {r['description']}\n    {r['path']}")


template_dir_option = click.option(
    "--template-dir",
    "template_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra directory of <task>/<name>.j2 templates (searched first; repeatable).",
)


@cli.command()
@click.argument("task", required=False)
@template_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def templates(task, template_dirs, as_json):
    """List templates (optionally of one TASK) with their descriptions and origins.

    \b
    A template is a .j2 file in <dir>/<task>/. Its leading {# ... #} comment is a YAML header:
      description:     one line shown here
      answer_choices:  {label: word, ...} (or a list in label order): the verbalizer
      metrics:         metrics the template is meant for
      model_kinds:     [encoder, causal-lm]: models it suits
    Block `prompt` is the model input, block `target` the expected output.
    """
    from ptrun.prompts import list_templates

    if task:
        registry.get_task(task)
    found = list_templates(template_dirs, task)
    if as_json:
        _echo_json(
            [
                {"name": t.name, "path": str(t.path), "origin": t.origin, "description": t.description,
                 "shadows": [str(p) for p in t.shadowed]}
                for t in found
            ]
        )
        return
    if not found:
        click.echo("No templates found." + (f" (task {task})" if task else ""))
        return
    width = max(len(t.name) for t in found)
    for t in found:
        shadow = f" (overrides {len(t.shadowed)} other)" if t.shadowed else ""
        click.echo(f"{t.name.ljust(width)}  {t.description}")
        click.echo(f"{''.ljust(width)}  from {t.origin}: {t.path}{shadow}")


@cli.command()
@click.argument("task")
@click.option("--template", "-t", help="Template name (task/name) or path to a .j2 file.")
@click.option("--data", "data_file", type=click.Path(dir_okay=False), help="Data file to take examples from.")
@click.option("--example", "example_json", help="One example as a JSON object.")
@click.option("-n", "count", default=3, show_default=True, help="Number of examples to show.")
@click.option("--format", "fmt", help="Data format when the extension does not tell.")
@click.option("--shots", type=click.IntRange(0), default=0, show_default=True,
              help="Show K demonstrations, drawn from the data file (or the demo train split).")
@click.option("--balanced-shots", is_flag=True, help="Draw the demonstrations evenly over the labels.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for drawing demonstrations.")
@template_dir_option
def render(task, template, data_file, example_json, count, fmt, shots, balanced_shots, seed, template_dirs):
    """Show the rendered model input and target of TASK's template for real examples."""
    from ptrun.data import Record, find_splits
    from ptrun.runner import build_label_map, check_prompt_for_task, render_all, select_demos
    from ptrun.prompts import load_prompt

    task_obj = registry.get_task(task)
    ref = template or task_obj.default_template
    if ref is None or ref == "none":
        raise PtrunError(f"Task '{task}' has no default template; pass --template.")
    prompt = load_prompt(ref, template_dirs)
    check_prompt_for_task(prompt, task_obj)
    if example_json:
        try:
            fields = json.loads(example_json)
        except json.JSONDecodeError as exc:
            raise PtrunError(f"--example is not valid JSON: {exc.msg} at column {exc.colno}.") from None
        if not isinstance(fields, dict):
            raise PtrunError("--example must be a JSON object, e.g. '{\"text\": \"Great film\", \"label\": \"positive\"}'.")
        examples = [task_obj.from_record(Record(fields, "--example", 1), labeled=False)]
        source = examples
    else:
        if data_file is None:
            demo = task_obj.demo_data()
            if demo is None:
                raise PtrunError(f"Task '{task}' ships no demo data; pass --data FILE or --example JSON.")
            data_file = find_splits(demo, task_obj.extensions)["train"]
        source = task_obj.read(data_file, fmt, labeled=False)
        examples = source[:count]
    label_map = build_label_map(task_obj, prompt, {"train": source})
    pool = [ex for ex in source if ex.labeled and ex not in examples] or [ex for ex in source if ex.labeled]
    demos = select_demos(task_obj, pool, shots, seed, balanced_shots)
    rendered = render_all(task_obj, prompt, examples, label_map, demos)
    click.echo(f"template {prompt.name} ({prompt.path})")
    for ex, r in zip(examples, rendered):
        origin = f" ({ex.path}:{ex.line})" if ex.path and ex.line else ""
        click.secho(f"\n--- example {ex.id}{origin}", bold=True)
        click.secho("input:", fg="cyan")
        click.echo(task_obj.display(ex, r.input))
        if r.target is not None:
            click.secho("target:", fg="cyan")
            click.echo(task_obj.display(ex, r.target))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@template_dir_option
def check(paths, template_dirs):
    """Lint templates: syntax, variables, answer choices, sandbox violations.

    With no PATH, checks every template on the template path. Exits 1 if any error is found.
    """
    from ptrun.lint import check_file, template_files

    files = template_files(paths, template_dirs)
    errors = warnings = 0
    for path in files:
        for problem in check_file(path, template_dirs):
            click.echo(str(problem))
            errors += problem.severity == "error"
            warnings += problem.severity == "warning"
    click.echo(f"checked {len(files)} template(s): {errors} error(s), {warnings} warning(s)")
    if errors:
        sys.exit(1)


@cli.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--merge", is_flag=True, required=True, help="Merge the adapter into the base model's weights.")
@click.option("--output-dir", "-o", required=True, type=click.Path(), help="Folder for the standalone run.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder.")
def export(run, merge, output_dir, overwrite):
    """Write a LoRA run (RUN) as a standalone run folder with the adapter merged in.

    The result loads like any full fine-tuning run: ptrun TASK --model OUTPUT_DIR --eval-only.
    """
    from ptrun.runner import export_run

    out = export_run(run, output_dir, overwrite)
    click.echo(f"Merged model written to {out}")


def _warn_broken() -> None:
    for info in plugins.load_errors():
        click.echo(f"warning: plugin '{info.name}' failed to load: {info.error}", err=True)


def _default_templates(task) -> str:
    per_kind = [f"{t} for {kind} models" for kind, t in task.default_templates.items() if t != task.default_template]
    return ", ".join([str(task.default_template)] + per_kind) if per_kind else str(task.default_template)


def task_command(task) -> click.Command:
    """The ``ptrun <task>`` command: fine-tune, evaluate and predict."""
    from ptrun.methods import METHODS
    from ptrun.runner import RunConfig, run

    def callback(**options):
        cfg = RunConfig(task=task.name, **options)
        run(cfg)

    params = [
        click.Option(["--data"], type=click.Path(), help="Directory with train/dev/test files (found by name)."),
        click.Option(["--train"], type=click.Path(dir_okay=False), help="Training file."),
        click.Option(["--validation"], type=click.Path(dir_okay=False), help="Validation (dev) file."),
        click.Option(["--test"], type=click.Path(dir_okay=False), help="Test file."),
        click.Option(["--predict"], type=click.Path(dir_okay=False), help="Unlabelled file to predict."),
        click.Option(["--format"], help="Data format when the file extension does not tell (tsv, csv, jsonl, json, conll)."),
        click.Option(["--model", "-m"], help=f"Model alias, local model folder or ptrun run folder [default: {task.default_model}]."),
        click.Option(["--template", "-t"], help=f"Template name or .j2 path; 'none' for no prompt [default: {_default_templates(task)}]."),
        click.Option(["--template-dir", "template_dirs"], multiple=True, type=click.Path(file_okay=False), help="Extra template directory (repeatable)."),
        click.Option(["--epochs"], type=float, help=f"Training epochs [default: {getattr(task, 'default_epochs', 3.0):g}]."),
        click.Option(["--lr"], type=float, help=f"Learning rate [default: {getattr(task, 'default_lr', 5e-5):g}]."),
        click.Option(["--batch-size"], type=click.IntRange(1), default=16, show_default=True),
        click.Option(["--max-length"], type=click.IntRange(8), help="Maximum tokens per example [default: 128 for encoders, the model's context (at most 2048) for causal LMs]."),
        click.Option(["--seed"], type=int, default=42, show_default=True),
        click.Option(["--output-dir", "-o"], type=click.Path(), help="Run folder [default: runs/<task>-<time>]."),
        click.Option(["--limit-train"], type=click.IntRange(1), help="Use only the first N training examples."),
        click.Option(["--limit-eval"], type=click.IntRange(1), help="Use only the first N examples of each evaluation split."),
        click.Option(["--eval-only"], is_flag=True, help="Evaluate (and predict) without training."),
        click.Option(["--overwrite"], is_flag=True, help="Replace an existing run folder."),
        click.Option(
            ["--method"],
            type=click.Choice(METHODS),
            default="full",
            show_default=True,
            help="full: train every weight; the others train a peft adapter or soft prompt plus the task head.",
        ),
        click.Option(["--num-virtual-tokens"], type=click.IntRange(1), default=20, show_default=True,
                     help="Soft-prompt length for prompt-tuning, prefix-tuning and p-tuning."),
        click.Option(["--lora-r"], type=click.IntRange(1), default=8, show_default=True, help="LoRA rank."),
        click.Option(["--lora-alpha"], type=click.IntRange(1), default=16, show_default=True, help="LoRA scaling alpha."),
        click.Option(["--lora-dropout"], type=click.FloatRange(0, 1), default=0.1, show_default=True),
        click.Option(["--lora-targets"], help="Comma-separated module names LoRA adapts [default: per model type, e.g. query,value]."),
        click.Option(["--save-steps"], type=click.IntRange(1), help="Save a checkpoint every N optimizer steps (enables --resume)."),
        click.Option(["--save-total-limit"], type=click.IntRange(1), default=2, show_default=True, help="Checkpoints to keep."),
        click.Option(["--resume"], is_flag=True, help="Continue the latest checkpoint in --output-dir (same options as the first start)."),
        click.Option(["--bf16"], is_flag=True, help="Train in bfloat16 mixed precision."),
        click.Option(["--fp16"], is_flag=True, help="Train in float16 mixed precision (CUDA only)."),
        click.Option(["--gradient-checkpointing"], is_flag=True, help="Recompute activations in the backward pass: much less training memory, for a second forward pass through each layer."),
        click.Option(["--device"], type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True),
        click.Option(["--inference"], type=click.Choice(["auto", "score", "generate"]), default="auto", show_default=True,
                     help="Causal LMs: score ranks the answer choices by log-likelihood; generate writes an answer and maps it back. auto: score when the task has answer choices."),
        click.Option(["--chat/--no-chat"], default=None, help="Causal LMs: wrap the prompt in the model's chat template [default: when the model has one]."),
        click.Option(["--shots"], type=click.IntRange(0), default=0, show_default=True, help="Causal LMs: demonstrations drawn from the train split into each prompt."),
        click.Option(["--balanced-shots"], is_flag=True, help="Draw the demonstrations evenly over the labels."),
        click.Option(["--calibrate"], is_flag=True, help="Contextual calibration of answer-choice scores (Zhao et al. 2021)."),
        click.Option(["--length-norm/--no-length-norm"], default=True, show_default=True,
                     help="Score multi-token answer choices by mean (not summed) token log-probability."),
        click.Option(["--max-new-tokens"], type=click.IntRange(1), help="Causal LMs: most tokens to generate per answer [default: per task]."),
        click.Option(
            ["--group-by-length/--no-group-by-length"],
            default=True,
            show_default=True,
            help="Batch training examples of similar length (less padding, faster).",
        ),
    ]
    help_text = (
        f"{task.description}\n\nFine-tune, evaluate and predict. With no data options the task's demo data is used. "
        "Results go to a run folder: config.json, metrics.json, predictions/*.jsonl, model/, report.md."
    )
    return click.Command(task.name, params=params, callback=callback, help=help_text, short_help=task.description)


def main(argv=None):
    # Plugins add their commands once; a plugin whose hook raises is reported, not fatal.
    list(plugins.call_each("ptrun_commands", cli=cli))
    return cli.main(args=argv, prog_name="ptrun")


if __name__ == "__main__":
    main()
