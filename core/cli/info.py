"""The informational and template commands: tasks, plugins, models, templates, render, check, export."""

from __future__ import annotations

import json
import sys

import click

from ptrun import registry
from ptrun.errors import PtrunError


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.command()
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json):
    """List plugins: version, hooks and load errors."""
    registry.load_plugins()
    # Calling the hooks records their failures and what each plugin replaces.
    registry.tasks(), registry.readers(), registry.models(), registry.plugin_template_dirs()
    infos = [info.as_dict() for info in registry.PLUGINS.values()]
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
        for what in info["overrides"]:
            click.echo(f"    replaces {what}")


plugins_command.name = "plugins"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(as_json):
    """List model aliases."""
    rows = []
    for alias, spec in registry.models().items():
        try:
            where = str(spec.locate())
        except PtrunError as exc:
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


@click.command()
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
    from ptrun.prompts.templates import list_templates

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


@click.command()
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
    from ptrun.data.records import Record
    from ptrun.data.splits import find_splits
    from ptrun.prompts.render import Renderer, check_prompt_for_task, select_demos
    from ptrun.prompts.templates import load_prompt
    from ptrun.run.setup import build_label_map

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
            data_file = find_splits(demo, task_obj)["train"]
        source = task_obj.read(data_file, fmt, labeled=False)
        examples = source[:count]
    label_map = build_label_map(task_obj, prompt, {"train": source})
    pool = [ex for ex in source if ex.labeled and ex not in examples] or [ex for ex in source if ex.labeled]
    demos = select_demos(task_obj, pool, shots, seed, balanced_shots)
    rendered = Renderer(task_obj, prompt, label_map, demos).render_all(examples)
    click.echo(f"template {prompt.name} ({prompt.path})")
    for ex, r in zip(examples, rendered):
        origin = f" ({ex.path}:{ex.line})" if ex.path and ex.line else ""
        click.secho(f"\n--- example {ex.id}{origin}", bold=True)
        click.secho("input:", fg="cyan")
        click.echo(task_obj.display(ex, r.input))
        if r.target is not None:
            click.secho("target:", fg="cyan")
            click.echo(task_obj.display(ex, r.target))


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@template_dir_option
def check(paths, template_dirs):
    """Lint templates: syntax, variables, answer choices, sandbox violations.

    With no PATH, checks every template on the template path. Exits 1 if any error is found.
    """
    from ptrun.prompts.lint import check_file, template_files

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


@click.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--merge", is_flag=True, required=True, help="Merge the adapter into the base model's weights.")
@click.option("--output-dir", "-o", required=True, type=click.Path(), help="Folder for the standalone run.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder.")
def export(run, merge, output_dir, overwrite):
    """Write a LoRA run (RUN) as a standalone run folder with the adapter merged in.

    The result loads like any full fine-tuning run: ptrun TASK --model OUTPUT_DIR --eval-only.
    """
    from ptrun.run.folder import export_merged

    out = export_merged(run, output_dir, overwrite)
    click.echo(f"Merged model written to {out}")


def _warn_broken() -> None:
    for info in registry.load_errors():
        click.echo(f"warning: plugin '{info.name}' failed to load: {info.error}", err=True)


COMMANDS = (tasks, plugins_command, models, templates, render, check, export)
