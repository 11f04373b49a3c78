"""``ptrun check``: find problems in templates before any model is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.nodes

from ptrun.errors import PtrunError, TemplateError
from ptrun.prompts.header import META_KEYS, parse_header
from ptrun.prompts.templates import SUFFIX, load_prompt, make_environment, search_path


@dataclass
class Problem:
    path: str
    line: int | None
    severity: str  # "error" or "warning"
    message: str

    def __str__(self):
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


def _sandbox_problems(ast, path) -> list[Problem]:
    """Attribute access the sandbox refuses at render time, found statically."""
    problems = []
    for node in ast.find_all((jinja2.nodes.Getattr, jinja2.nodes.Getitem)):
        name = node.attr if isinstance(node, jinja2.nodes.Getattr) else None
        if isinstance(node, jinja2.nodes.Getitem) and isinstance(node.arg, jinja2.nodes.Const):
            name = node.arg.value if isinstance(node.arg.value, str) else None
        if name and name.startswith("_"):
            problems.append(
                Problem(str(path), node.lineno, "error", f"sandbox violation: access to attribute '{name}' is not allowed")
            )
    return problems


def _missing_references(env, ast, path) -> list[Problem]:
    problems = []
    for node in ast.find_all((jinja2.nodes.Extends, jinja2.nodes.Include, jinja2.nodes.Import, jinja2.nodes.FromImport)):
        if not isinstance(node.template, jinja2.nodes.Const):
            continue
        ref = node.template.value
        try:
            env.loader.get_source(env, ref)
        except jinja2.TemplateNotFound:
            if isinstance(node, jinja2.nodes.Include) and node.ignore_missing:
                continue
            problems.append(Problem(str(path), node.lineno, "error", f"template '{ref}' not found on the template path"))
    return problems


def task_for(path: Path, meta: dict):
    from ptrun import registry

    name = meta.get("task") or path.parent.name
    return registry.tasks().get(name), name


def check_file(path, extra_dirs=(), samples: int = 3) -> list[Problem]:
    """All problems of one template file."""
    from ptrun.prompts.render import Renderer, allowed_variables
    from ptrun.run.setup import build_label_map

    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), None, "error", f"cannot read: {exc}")]
    problems: list[Problem] = []
    try:
        meta = parse_header(source, path)
    except TemplateError as exc:
        problems.append(Problem(str(path), exc.line, "error", exc.message))
        meta = {}
    for key in meta:
        if key not in META_KEYS:
            problems.append(
                Problem(str(path), 1, "warning", f"unknown metadata key '{key}' (known: {', '.join(META_KEYS)})")
            )

    dirs = [path.resolve().parent, path.resolve().parent.parent, *(d for _, d in search_path(extra_dirs))]
    env = make_environment(dirs)
    try:
        ast = env.parse(source, name=path.name, filename=str(path))
    except jinja2.TemplateSyntaxError as exc:
        problems.append(Problem(str(path), exc.lineno, "error", f"syntax error: {exc.message}"))
        return problems
    problems += _sandbox_problems(ast, path)
    problems += _missing_references(env, ast, path)
    if path.name.startswith("_"):
        return problems  # partials are checked through the templates that use them

    task, task_name = task_for(path, meta)
    if task is None:
        problems.append(
            Problem(str(path), None, "warning", f"no installed task '{task_name}': variables were not checked")
        )
        return problems
    if any(p.severity == "error" for p in problems):
        return problems

    try:
        prompt = load_prompt(str(path), extra_dirs)  # the same lookup a run uses
    except TemplateError as exc:  # compile-time problems (an unknown filter, say)
        return problems + [Problem(exc.path or str(path), exc.line, "error", exc.message)]
    except PtrunError as exc:
        return problems + [Problem(str(path), None, "error", exc.message)]
    allowed = allowed_variables(task)
    for name, (where, line) in sorted(prompt.variable_locations().items(), key=lambda kv: kv[1][1]):
        if name not in allowed:
            problems.append(
                Problem(
                    str(where),
                    line,
                    "error",
                    f"undefined variable '{name}' (task '{task.name}' provides: {', '.join(sorted(allowed))})",
                )
            )
    choices = prompt.answer_choices
    if isinstance(choices, dict) and task.labels is not None and set(map(str, choices)) != set(task.labels):
        problems.append(
            Problem(
                str(path),
                1,
                "error",
                f"answer_choices keys {sorted(map(str, choices))} do not match the labels of task "
                f"'{task.name}' {sorted(task.labels)}",
            )
        )
    if isinstance(choices, list) and task.labels is not None and len(choices) != len(task.labels):
        problems.append(
            Problem(str(path), 1, "error", f"{len(choices)} answer_choices for {len(task.labels)} labels {task.labels}")
        )
    if any(p.severity == "error" for p in problems):
        return problems
    try:
        task.check_prompt(prompt)
    except TemplateError as exc:
        problems.append(Problem(str(path), exc.line, "error", exc.message))
        return problems
    demo = task.demo_data()
    if demo is not None and samples:
        # A trial render on real examples catches what static analysis cannot (e.g. a.b on a string).
        from ptrun.data.splits import find_splits

        try:
            split_file = find_splits(demo, task).get("train")
            demo_examples = task.read(split_file) if split_file else []
            examples = demo_examples[:samples]
            label_map = build_label_map(task, prompt, {"train": demo_examples}) if examples else None
            if isinstance(choices, dict) and label_map is not None and task.labels is None:
                data_labels = {label_map.canonical(l) or l for ex in demo_examples for l in task.labels_of(ex)}
                if not data_labels <= set(map(str, choices)):
                    problems.append(
                        Problem(
                            str(path),
                            1,
                            "error",
                            f"answer_choices keys {sorted(map(str, choices))} do not cover the labels "
                            f"{sorted(data_labels)} of task '{task.name}' (in its demo data)",
                        )
                    )
                    return problems
            Renderer(task, prompt, label_map).render_all(examples)
        except TemplateError as exc:
            problems.append(Problem(exc.path or str(path), exc.line, "error", exc.message))
        except PtrunError as exc:
            problems.append(Problem(str(path), None, "error", exc.format()))
    return problems


def template_files(paths, extra_dirs=()) -> list[Path]:
    """Expand the arguments of ``ptrun check``: files, directories, or every template on the path."""
    if not paths:
        paths = [d for _, d in search_path(extra_dirs)]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.rglob(f"*{SUFFIX}")))
        elif p.is_file():
            files.append(p)
        else:
            raise PtrunError(f"ptrun check: {p}: no such file or directory.")
    return files
