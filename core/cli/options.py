"""``ptrun <task>``: its click options generated from :class:`ptrun.config.RunConfig`."""

from __future__ import annotations

import click


class SeedList(click.ParamType):
    """Comma-separated distinct integers (``13,21,42``), or a list of them from a config file."""

    name = "seeds"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        items = value if isinstance(value, list) else [v for v in str(value).replace(" ", "").split(",") if v]
        seeds = []
        for item in items:
            if isinstance(item, bool) or not (isinstance(item, int) or (isinstance(item, str) and item.lstrip("-").isdigit())):
                self.fail(f"{item!r} is not an integer seed (write them like 13,21,42).", param, ctx)
            seeds.append(int(item))
        if len(set(seeds)) != len(seeds):
            self.fail(f"seeds repeat in {value!r}; each seed runs once.", param, ctx)
        return tuple(seeds)


def _click_type(spec):
    if spec is None or spec is str:
        return None
    if spec in (int, float):
        return spec
    if spec == "path":
        return click.Path()
    if spec == "file":
        return click.Path(dir_okay=False)
    if spec == "dir":
        return click.Path(file_okay=False)
    if spec == "seeds":
        return SeedList()
    kind, *args = spec
    if kind == "int":
        return click.IntRange(*args)
    if kind == "float":
        return click.FloatRange(*args)
    if kind == "choice":
        return click.Choice(args[0])
    raise ValueError(f"unknown option type {spec!r}")


def _task_help(task, name: str, help_text: str) -> str:
    """Help that names the task's own defaults where the option leaves them to the task."""
    if name == "model":
        return help_text.replace("the task's", str(task.default_model))
    if name == "template":
        per_kind = [f"{t} for {kind} models" for kind, t in task.default_templates.items() if t != task.default_template]
        return help_text.replace("the task's", ", ".join([str(task.default_template), *per_kind]))
    if name == "format":
        return f"Data format when the file extension does not tell ({', '.join(sorted(set(task.formats.values())))}, or any reader's name)."
    if name == "epochs":
        return help_text.replace("the task's", f"{task.default_epochs:g}")
    if name == "lr":
        return help_text.replace("the task's", f"{task.default_lr:g}")
    return help_text


def click_option(f, task) -> click.Option:
    meta = f.metadata
    long = "--" + f.name.replace("_", "-")
    spec = meta.get("type")
    kwargs = dict(help=_task_help(task, f.name, meta.get("help") or None) if meta.get("help") else None)
    if meta.get("show_default"):
        kwargs["show_default"] = True
    if spec == "flag":
        decls = [long]
        kwargs.update(is_flag=True, default=f.default)
    elif spec == "switch":
        decls = [f"{long}/--no-{f.name.replace('_', '-')}"]
        kwargs.update(default=f.default)
    else:
        flags = [fl for fl in meta.get("flags", ()) if fl.startswith("--")]
        decls = flags or [long]
        kwargs.update(type=_click_type(spec), default=f.default)
        if meta.get("multiple"):
            kwargs.update(multiple=True, default=())
    decls += [fl for fl in meta.get("flags", ()) if not fl.startswith("--")]
    return click.Option(decls + [f.name], **kwargs)


def task_command(task) -> click.Command:
    """The ``ptrun <task>`` command: fine-tune, evaluate and predict."""
    from ptrun.config import cli_fields

    def callback(config_file=None, print_config=False, **options):
        from ptrun.run import configfile

        cfg = configfile.resolve(task, click.get_current_context(), options, config_file)
        if print_config:
            click.echo(configfile.to_yaml(task, cfg), nl=False)
            return
        if cfg.seeds:
            from ptrun.run.seeds import run_seeds

            run_seeds(cfg, cfg.seeds)
            return
        from ptrun.run.pipeline import run

        run(cfg)

    params = [click_option(f, task) for f in cli_fields()] + [
        click.Option(["--config", "config_file"], type=click.Path(dir_okay=False),
                     help="YAML or JSON file of options (keys as the long options); the command line overrides it. "
                          "A run folder's config.json replays that run."),
        click.Option(["--print-config"], is_flag=True,
                     help="Print the resolved configuration as YAML (usable with --config) and exit."),
    ]
    help_text = (
        f"{task.description}\n\nFine-tune, evaluate and predict. With no data options the task's demo data is used. "
        "Results go to a run folder: config.json, metrics.json, predictions/*.jsonl, model/, report.md."
    )
    return click.Command(task.name, params=params, callback=callback, help=help_text, short_help=task.description)
