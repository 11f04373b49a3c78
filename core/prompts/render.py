"""Rendering a task's examples through its template: one :class:`Renderer` per run.

The renderer owns what a template sees (the task's context, what plugins add, the label words,
the demonstrations) and is the only thing that renders; backends call it back to render an
example with fewer demonstrations or with another label (to score each answer choice).
"""

from __future__ import annotations

import random

from ptrun.errors import PtrunError, TemplateError

#: Variables every template may read, whatever the task.
CORE_VARIABLES = {
    "labels": "the task's labels in id order",
    "label_words": "the verbalizer word of each label, in id order",
    "task": "the task's name",
    "demos": "few-shot demonstrations (--shots K): a list of the demonstration examples' variables, "
    "each with its rendered `input` and `target`",
}


def allowed_variables(task) -> set[str]:
    return set(task.variables) | set(CORE_VARIABLES)


def check_prompt_for_task(prompt, task) -> None:
    """Raise TemplateError when the template reads a variable the task does not provide, or
    the task refuses the template (:meth:`ptrun.Task.check_prompt`)."""
    allowed = allowed_variables(task)
    unknown = {n: loc for n, loc in prompt.variable_locations().items() if n not in allowed}
    if unknown:
        path, line = min(unknown.values(), key=lambda loc: (loc[0] != prompt.path, loc[1]))
        raise TemplateError(
            f"undefined variable(s) {', '.join(sorted(unknown))}: task '{task.name}' provides "
            f"{', '.join(sorted(allowed))}",
            path=path,
            line=line,
            hint="Fix the variable name in the template.",
        )
    task.check_prompt(prompt)


class Renderer:
    """Renders examples of ``task`` through ``prompt`` (None: no template) with ``label_map``
    and the demonstration examples ``demos`` shown in every prompt."""

    def __init__(self, task, prompt, label_map, demos: list | None = None):
        self.task = task
        self.prompt = prompt
        self.label_map = label_map
        demos = list(demos or [])
        if demos and prompt is not None and "demos" not in prompt.variables():
            raise TemplateError(
                "--shots needs a template that lays out demonstrations (it never reads `demos`)",
                path=prompt.path,
                hint="Pick a few-shot template (`ptrun templates`) or add a `{% for d in demos %}` loop.",
            )
        self.demo_examples = demos
        self._demo_vars: list[dict] | None = None

    def context(self, example) -> dict:
        """The template variables of ``example``."""
        from ptrun import registry

        ctx = self.task.context(example, self.label_map)
        for _plugin, extra in registry.in_registration_order("ptrun_render_context", dict, task=self.task, example=example):
            ctx.update(extra)  # the plugin registered later wins
        if self.label_map is not None:
            ctx.setdefault("labels", list(self.label_map.labels))
            ctx.setdefault("label_words", [self.label_map.word(l) for l in self.label_map.labels])
        ctx.setdefault("task", self.task.name)
        return ctx

    @property
    def demo_vars(self) -> list[dict]:
        """Each demonstration's variables plus its own rendered ``input`` and ``target``."""
        if self._demo_vars is None:
            out = []
            for ex in self.demo_examples:
                ctx = self.context(ex)
                r = self._render(ctx, ex, [], True)
                out.append({**ctx, "input": r.input, "target": r.target or ""})
            self._demo_vars = out
        return self._demo_vars

    def render(self, example, k: int | None = None, *, target: bool | None = None):
        """``example`` rendered with the first ``k`` demonstrations (all by default); the target
        too when ``target`` (by default: when the example has a gold label). None without a template."""
        if self.prompt is None:
            return None
        demos = self.demo_vars
        k = len(demos) if k is None else min(k, len(demos))
        return self._render(self.context(example), example, demos[:k], example.labeled if target is None else target)

    def render_target(self, example) -> str | None:
        """The target block alone for ``example`` (no demonstrations): an answer choice's text."""
        if self.prompt is None:
            return None
        try:
            return self.prompt.render({**self.context(example), "demos": []}, only_target=True).target
        except TemplateError as exc:
            raise _at_example(exc, example) from None

    def render_all(self, examples, *, demos: bool = True) -> list:
        """Every example rendered once; ``demos=False`` for training prompts (kept zero-shot)."""
        return [self.render(ex, None if demos else 0) for ex in examples]

    def _render(self, ctx, example, demo_vars, target):
        try:
            rendered = self.prompt.render({**ctx, "demos": demo_vars}, target=target)
        except TemplateError as exc:
            raise _at_example(exc, example) from None
        rendered.demos = len(demo_vars)
        if not rendered.input.strip() and any(isinstance(v, str) and v.strip() for v in example.fields.values()):
            # (A content-free calibration input may render empty: all its fields are.)
            raise TemplateError(
                f"the prompt renders empty for example {example.id}"
                + (f" ({example.path}:{example.line})" if example.path else ""),
                path=self.prompt.path,
                hint="The model would read nothing: show the example's fields in the prompt block.",
            )
        return rendered


def _at_example(exc: TemplateError, example) -> TemplateError:
    """``exc`` with the example being rendered named after its message."""
    where = f" (while rendering example {example.id} from {example.path}:{example.line})" if example.path else ""
    return TemplateError(exc.message + where, path=exc.path, line=exc.line, hint=exc.hint)


def select_demos(task, train: list, k: int, seed: int, balanced: bool) -> list:
    """``k`` demonstrations from the training examples, seeded; ``balanced`` takes them round-robin
    over the labels (as evenly as the data allows)."""
    if k <= 0:
        return []
    if not train:
        raise PtrunError("--shots needs training examples to draw demonstrations from.", hint="Pass --train or --data.")
    rng = random.Random(seed)
    pool = list(train)
    rng.shuffle(pool)
    if not balanced:
        return pool[:k]
    by_label: dict = {}
    for ex in pool:
        by_label.setdefault(tuple(task.labels_of(ex)[:1]), []).append(ex)
    chosen, groups = [], [by_label[key] for key in sorted(by_label)]
    while len(chosen) < min(k, len(pool)):
        for group in groups:
            if group and len(chosen) < k:
                chosen.append(group.pop(0))
    rng.shuffle(chosen)
    return chosen


def render_all(task, prompt, examples, label_map, demos: list | None = None) -> list:
    """Render ``examples`` of ``task`` through ``prompt`` (a shortcut for one-off renders)."""
    return Renderer(task, prompt, label_map, demos).render_all(examples)


def render_context(task, example, label_map) -> dict:
    """The template variables of ``example`` (a shortcut for one-off renders)."""
    return Renderer(task, None, label_map).context(example)
