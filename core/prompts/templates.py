"""Prompt templates: Jinja2 files rendered in a sandbox.

A template is a ``.j2`` file. Its first Jinja comment, if it opens the file, is a YAML header
with metadata (``description``, ``answer_choices``, ``metrics``, ``model_kinds``, ...). Block
``prompt`` holds what the model sees and block ``target`` what it must produce; a template
without blocks is all prompt. ``extends``, ``include`` and macros work as in any Jinja2 project.

Templates are untrusted input: they render in a sandbox (:mod:`ptrun.prompts.budget`: Jinja2's
immutable sandbox with limits on what a render may cost) with :class:`StrictUndefined`, so
unsafe attribute access, misspelt variables and runaway templates are errors.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.meta
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ptrun.prompts.budget import Budget, BudgetedEnvironment, BudgetExceeded

from ptrun.errors import DataError, PtrunError, TemplateError
from ptrun.prompts.header import META_KEYS, parse_header  # noqa: F401  (re-exported)
from ptrun.prompts.variables import top_level_names, undeclared_with_lines

TEMPLATE_PATH_ENV = "PTRUN_TEMPLATE_PATH"
SUFFIX = ".j2"
@dataclass
class Rendered:
    """A rendered example: the model input and (when the template has one) the target text."""

    input: str
    target: str | None = None
    #: Block ``system``: the system message for chat models (None when the template has none).
    system: str | None = None
    #: How many demonstrations the input holds (few-shot runs drop those that do not fit the
    #: model's context, re-rendering with fewer through the Renderer).
    demos: int = 0

    def without_target(self) -> "Rendered":
        return Rendered(self.input, None, self.system, self.demos)


@dataclass
class TemplateInfo:
    """A template file found on the search path (for listing)."""

    name: str
    path: Path
    origin: str
    description: str = ""
    shadowed: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- search path


def search_path(extra_dirs=()) -> list[tuple[str, Path]]:
    """(origin, directory) in lookup order: command line, environment, plugins."""
    from ptrun import registry

    entries: list[tuple[str, Path]] = [("--template-dir", Path(d)) for d in extra_dirs]
    for d in filter(None, os.environ.get(TEMPLATE_PATH_ENV, "").split(os.pathsep)):
        entries.append((TEMPLATE_PATH_ENV, Path(d)))
    entries.extend(registry.plugin_template_dirs())
    seen, unique = set(), []
    for origin, d in entries:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((origin, d))
    return unique


def list_templates(extra_dirs=(), task: str | None = None) -> list[TemplateInfo]:
    """Every template on the search path; partials (file names starting with ``_``) excluded."""
    found: dict[str, TemplateInfo] = {}
    for origin, d in search_path(extra_dirs):
        if not d.is_dir():
            continue
        for path in sorted(d.glob(f"*/*{SUFFIX}")):
            if path.name.startswith("_"):
                continue
            name = f"{path.parent.name}/{path.stem}"
            if task and path.parent.name != task:
                continue
            if name in found:
                found[name].shadowed.append(path)
                continue
            try:
                description = parse_header(read_source(path), path).get("description", "")
            except TemplateError as exc:
                description = f"(broken header: {exc.message})"
            found[name] = TemplateInfo(name, path, origin, description)
    return sorted(found.values(), key=lambda t: t.name)


# --------------------------------------------------------------------------- environment


def read_source(path) -> str:
    """A template file's text: UTF-8 (or UTF-16/32 with a BOM), else a TemplateError naming the
    file, line and byte offset (the data files' rules, :func:`ptrun.data.textfile.read_text`)."""
    from ptrun.data.textfile import read_text

    try:
        return read_text(path)
    except DataError as exc:
        raise TemplateError(exc.message, path=exc.path, line=exc.line, hint=exc.hint) from None


class _Loader(jinja2.BaseLoader):
    """Looks up ``task/name`` (``.j2`` optional) in each directory of the search path."""

    def __init__(self, dirs):
        self.dirs = [Path(d) for d in dirs]

    def get_source(self, environment, template):
        name = template if template.endswith(SUFFIX) else template + SUFFIX
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise jinja2.TemplateNotFound(template)
        for d in self.dirs:
            path = d / name
            if path.is_file():
                source = read_source(path)
                mtime = path.stat().st_mtime
                return source, str(path), lambda: path.is_file() and path.stat().st_mtime == mtime

        raise jinja2.TemplateNotFound(template)


def make_environment(dirs) -> ImmutableSandboxedEnvironment:
    from ptrun import registry

    env = BudgetedEnvironment(
        loader=_Loader(dirs),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    list(registry.in_registration_order("ptrun_jinja_env", env=env))  # the later plugin's filters win
    return env


# --------------------------------------------------------------------------- prompts


def _location(exc: BaseException, default_path=None) -> tuple[str | None, int | None]:
    """The template file and line an exception was raised from (Jinja rewrites tracebacks)."""
    lineno = getattr(exc, "lineno", None)
    filename = getattr(exc, "filename", None)
    if lineno:
        return filename or default_path, lineno
    tb = exc.__traceback__
    found = (default_path, None)
    while tb is not None:
        # Frames of compiled templates carry the template; map the Python line back to the file's.
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            found = (template.filename or default_path, template.get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return found


class Prompt:
    """A loaded template, ready to render examples of one task."""

    def __init__(self, name: str, env: ImmutableSandboxedEnvironment, template: jinja2.Template, source: str):
        self.name = name
        self.env = env
        self.template = template
        self.path = template.filename
        self.source = source
        self.meta = parse_header(source, self.path)
        # The header may raise the limits for a template that really needs more.
        limits = {k: self.meta[k] for k in ("max_chars", "max_seconds") if k in self.meta}
        if limits and isinstance(env, BudgetedEnvironment):
            env.budget = Budget(**{**env.budget.__dict__, **limits})

    def __repr__(self):
        return f"Prompt({self.name!r})"

    @property
    def description(self) -> str:
        return self.meta.get("description", "")

    @property
    def model_kinds(self) -> list[str] | None:
        return self.meta.get("model_kinds")

    @property
    def answer_choices(self) -> dict | list | None:
        return self.meta.get("answer_choices")

    @functools.cached_property
    def dependencies(self) -> dict[str, str]:
        """Name -> source of every template this one extends, includes or imports (transitively)."""
        deps: dict[str, str] = {}
        todo = [self.source]
        while todo:
            ast = self.env.parse(todo.pop())
            for ref in jinja2.meta.find_referenced_templates(ast):
                if ref is None or ref in deps:
                    continue
                try:
                    source, _, _ = self.env.loader.get_source(self.env, ref)
                except jinja2.TemplateNotFound:
                    continue  # reported by check() and by rendering
                deps[ref] = source
                todo.append(source)
        return deps

    @functools.cached_property
    def sha256(self) -> str:
        h = hashlib.sha256(self.source.encode("utf-8"))
        for name in sorted(self.dependencies):
            h.update(b"\0" + name.encode() + b"\0" + self.dependencies[name].encode("utf-8"))
        return h.hexdigest()

    def variables(self) -> dict[str, int]:
        """Variables the template (and what it references) reads without defining, with a line."""
        return {name: line for name, (_path, line) in self.variable_locations().items()}

    def variable_locations(self) -> dict[str, tuple[str, int]]:
        """Like :meth:`variables`, with the file each variable is read in: name -> (path, line)."""
        found: dict[str, tuple[str, int]] = {}
        defined: set[str] = set()
        sources = [(self.path, self.source)]
        for name, source in self.dependencies.items():
            try:
                _, filename, _ = self.env.loader.get_source(self.env, name)
            except jinja2.TemplateNotFound:
                filename = name
            sources.append((filename, source))
        for filename, source in sources:
            for name, line in undeclared_with_lines(self.env, source).items():
                found.setdefault(name, (filename, line))
            # Names a parent or included template defines at its top level (imported macros,
            # `set` variables) are visible to this template's blocks at render time.
            defined |= top_level_names(self.env.parse(source))
        return {name: loc for name, loc in found.items() if name not in defined}

    def render(self, variables: dict, target: bool = True, *, only_target: bool = False) -> Rendered:
        """Render the prompt (and, when ``target`` is true and the template has one, the target).
        ``only_target`` renders the target block alone (``input`` is then empty): what scoring
        each answer choice needs."""
        budgeted = isinstance(self.env, BudgetedEnvironment)
        if budgeted:
            self.env.begin_render()
        try:
            return self._render(variables, target, only_target)
        except BudgetExceeded as exc:
            path, line = _location(exc, self.path)
            raise TemplateError(
                f"the template went over its budget: {exc}",
                path=path,
                line=line,
                hint="Make the template do less; if it really needs more, raise the limit with "
                "`max_chars:` or `max_seconds:` in its header.",
            ) from None
        except RecursionError:
            raise TemplateError(
                "the template recursed deeper than the limit (a macro that calls itself without end?)",
                path=self.path,
                hint="Give the recursion an end, or use a loop.",
            ) from None
        except jinja2.exceptions.SecurityError as exc:
            path, line = _location(exc, self.path)
            raise TemplateError(
                f"the template tried something the sandbox forbids: {exc}",
                path=path,
                line=line,
                hint="Templates may only read example fields and call the filters ptrun provides.",
            ) from None
        except jinja2.UndefinedError as exc:
            path, line = _location(exc, self.path)
            known = ", ".join(sorted(variables)) or "none"
            raise TemplateError(
                f"{exc.message} (variables available: {known})",
                path=path,
                line=line,
                hint="Fix the variable name in the template or add the field to the data.",
            ) from None
        except jinja2.TemplateNotFound as exc:
            path, line = _location(exc, self.path)
            raise TemplateError(
                f"template '{exc.name}' not found on the template path",
                path=path,
                line=line,
                hint="Check the name in extends/include/import, or add its folder with --template-dir.",
            ) from None
        except jinja2.TemplateError as exc:
            path, line = _location(exc, self.path)
            raise TemplateError(str(exc), path=path, line=line) from None
        except (TypeError, ValueError, ZeroDivisionError, KeyError, IndexError) as exc:
            path, line = _location(exc, self.path)
            raise TemplateError(
                f"rendering failed: {type(exc).__name__}: {exc}", path=path, line=line
            ) from None
        finally:
            if budgeted:
                self.env.end_render()

    def _render(self, variables, target, only_target) -> Rendered:
        ctx = self.template.new_context(dict(variables))
        # A full render first, so that imports and the parents' blocks are in the context.
        full = self._collect(self.template.root_render_func(ctx), "template")
        if "prompt" not in ctx.blocks:
            return Rendered("" if only_target else full, None)
        if only_target:
            return Rendered("", self._collect(ctx.blocks["target"][0](ctx), "target") if "target" in ctx.blocks else None)
        text = self._collect(ctx.blocks["prompt"][0](ctx), "prompt")
        system = self._collect(ctx.blocks["system"][0](ctx), "system").strip() or None if "system" in ctx.blocks else None
        if target and "target" in ctx.blocks:
            return Rendered(text, self._collect(ctx.blocks["target"][0](ctx), "target"), system)
        return Rendered(text, None, system)

    def _collect(self, chunks, piece: str) -> str:
        """The rendered text, refused as soon as it grows past the budget's max_chars."""
        limit = self.env.budget.max_chars if isinstance(self.env, BudgetedEnvironment) else None
        out, size = [], 0
        for chunk in chunks:
            size += len(chunk)
            if limit is not None and size > limit:
                raise BudgetExceeded(f"the rendered {piece} passed {limit:,} characters")
            out.append(chunk)
        return "".join(out)

    def save_bundle(self, directory) -> str:
        """Copy this template and its dependencies under ``directory``; return its name there."""
        from ptrun.run.folder import atomic_write_text

        directory = Path(directory)
        main = self.name if not self.name.endswith(SUFFIX) else self.name[: -len(SUFFIX)]
        if Path(main).is_absolute() or "/" not in main or ".." in Path(main).parts:
            main = "custom/" + Path(main).stem
        atomic_write_text(directory / (main + SUFFIX), self.source)
        for name, source in self.dependencies.items():
            atomic_write_text(directory / (name if name.endswith(SUFFIX) else name + SUFFIX), source)
        return main


def load_prompt(ref: str, extra_dirs=()) -> Prompt:
    """Load a template by name (``task/name``) or by path (``./my.j2``)."""
    dirs = [d for _, d in search_path(extra_dirs)]
    path = Path(ref)
    as_file = path.suffix == SUFFIX and path.is_file()
    if as_file:
        # Siblings by bare name, and `task/name` references when the file sits in a task folder.
        dirs = [path.resolve().parent, path.resolve().parent.parent, *dirs]
    env = make_environment(dirs)
    try:
        if as_file:
            source = read_source(path)
            code = env.compile(source, name=path.name, filename=str(path))
            template = env.template_class.from_code(env, code, env.make_globals(None), None)
            name = str(path)
        else:
            template = env.get_template(ref if ref.endswith(SUFFIX) else ref + SUFFIX)
            source = read_source(template.filename)
            name = ref[: -len(SUFFIX)] if ref.endswith(SUFFIX) else ref
    except jinja2.TemplateNotFound as exc:
        if exc.name in (ref, ref + SUFFIX) and path.suffix == SUFFIX:
            raise TemplateError("no such template file", path=ref, hint="Check the path.") from None
        known = ", ".join(t.name for t in list_templates(extra_dirs)) or "none"
        missing = ref if exc.name in (ref, ref + SUFFIX) else exc.name
        raise PtrunError(
            f"Unknown template '{missing}' (templates found: {known}).",
            hint="Run `ptrun templates` to list them, or pass a path to a .j2 file.",
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template syntax error: {exc.message}",
            path=exc.filename or ref,
            line=exc.lineno,
            hint="Run `ptrun check` on the file for all problems at once.",
        ) from None
    return Prompt(name, env, template, source)
