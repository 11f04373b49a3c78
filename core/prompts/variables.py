"""Static analysis of templates: the variables a template reads without defining them."""

from __future__ import annotations

import jinja2.meta
import jinja2.nodes


def top_level_names(ast) -> set[str]:
    names: set[str] = set()
    for node in ast.body:
        if isinstance(node, jinja2.nodes.FromImport):
            names |= {n[1] if isinstance(n, tuple) else n for n in node.names}
        elif isinstance(node, jinja2.nodes.Import):
            names.add(node.target)
        elif isinstance(node, jinja2.nodes.Macro):
            names.add(node.name)
        elif isinstance(node, jinja2.nodes.Assign):
            names |= {n.name for n in node.target.find_all(jinja2.nodes.Name)} | (
                {node.target.name} if isinstance(node.target, jinja2.nodes.Name) else set()
            )
    return names


def undeclared_with_lines(env, source: str) -> dict[str, int]:
    ast = env.parse(source)
    names = jinja2.meta.find_undeclared_variables(ast) - set(env.globals)
    lines: dict[str, int] = {}
    for node in ast.find_all(jinja2.nodes.Name):
        if node.name in names and node.ctx == "load":
            lines.setdefault(node.name, node.lineno)
    for name in names:
        lines.setdefault(name, 1)
    return lines
