"""What a template may cost: a sandbox that refuses to build huge values, counts loop work and
stops a render that runs too long.

Templates are untrusted input. Jinja2's sandbox stops unsafe attribute access; this adds limits
on resources. Values a template builds (string and list repetition, concatenation, padding and
format widths, ``replace``, ``join``, integer powers) may not exceed ``max_chars``; ``range``
iterations are counted against ``max_iterations`` per render; a render that takes longer than
``max_seconds`` is interrupted; recursion deeper than Python allows is reported as such. Every
limit is a :class:`BudgetExceeded`, which the prompt turns into a TemplateError naming the file,
line and limit.
"""

from __future__ import annotations

import ctypes
import math
import re
import string
import threading
import time
from dataclasses import dataclass

from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment


@dataclass(frozen=True)
class Budget:
    #: Characters (or items) any one value, and any rendered piece, may have.
    max_chars: int = 1_000_000
    #: ``range()`` iterations per render, all loops together.
    max_iterations: int = 1_000_000
    #: Wall-clock seconds per render.
    max_seconds: float = 10.0
    #: Bits an integer power may produce.
    max_int_bits: int = 4096


class BudgetExceeded(Exception):
    """A template went over a limit of its :class:`Budget`."""


_PAD_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}
_PERCENT_WIDTH = re.compile(r"%[-+ #0]*(\d+|\*)?(?:\.(\d+|\*))?[a-zA-Z%]")


class _CheckedConcat(CodeGenerator):
    """Compiles ``a ~ b`` through the environment, so that concatenation counts against the
    budget like ``+`` does (Jinja2 calls a plain join for it)."""

    def visit_Concat(self, node, frame):
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every template renders in, with :class:`Budget` limits."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _CheckedConcat

    def checked_concat(self, values) -> str:
        parts = [str(v) for v in values]
        self._too_big("a joined value", sum(map(len, parts)))
        return "".join(parts)

    def __init__(self, *args, budget: Budget | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget or Budget()
        self._state = threading.local()
        self.globals["range"] = self._range
        for name in ("center", "indent", "format", "replace", "join"):
            self.filters[name] = self._checked_filter(name, self.filters[name])

    # -- limits ------------------------------------------------------------------------
    def _too_big(self, what: str, size) -> None:
        if size > self.budget.max_chars:
            raise BudgetExceeded(f"{what} would be {size:,} characters or items, over the limit of {self.budget.max_chars:,}")

    def _chars(self, value) -> int:
        if isinstance(value, str):
            return len(value)
        if isinstance(value, (list, tuple)):
            return len(value) + sum(len(v) for v in value if isinstance(v, str))
        return 0

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and not isinstance(n, bool):
                self._too_big("a repeated value", self._chars(seq) * max(0, n))
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
            bits = right * math.log2(abs(left))
            if bits > self.budget.max_int_bits:
                raise BudgetExceeded(f"a power of {bits:,.0f} bits, over the limit of {self.budget.max_int_bits:,}")
        elif operator == "%" and isinstance(left, str):
            self._check_percent(left, right)
        result = super().call_binop(context, operator, left, right)
        if operator == "+" and isinstance(result, (str, list, tuple)):
            self._too_big("a joined value", self._chars(result))
        return result

    def _check_percent(self, fmt: str, args) -> None:
        for width, precision in _PERCENT_WIDTH.findall(fmt):
            for number in (width, precision):
                if number.isdigit():
                    self._too_big("a %-format width", int(number))
        if "*" in fmt:
            for value in args if isinstance(args, tuple) else (args,):
                if isinstance(value, int):
                    self._too_big("a %-format width", value)

    def _check_format(self, fmt: str, args, kwargs) -> None:
        try:
            specs = [spec for _text, _field, spec, _conv in string.Formatter().parse(fmt) if spec]
        except ValueError:
            return  # str.format reports it
        for spec in specs:
            for number in re.findall(r"\d+", spec):
                self._too_big("a format width", int(number))
            if "{" in spec:  # nested widths come from the arguments
                for value in (*args, *kwargs.values()):
                    if isinstance(value, int):
                        self._too_big("a format width", value)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja2's own signature)
        target = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "")
        if isinstance(owner, str):
            if name in _PAD_METHODS:
                for value in args:
                    if isinstance(value, int):
                        __self._too_big(f"a {name}() width", value)
            elif name in ("format", "format_map"):
                __self._check_format(owner, args, kwargs)
            elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                __self._too_big("a replaced value", len(owner) + owner.count(args[0] or " ") * len(args[1]))
            elif name == "join" and args:
                items = list(args[0])
                __self._too_big("a joined value", sum(len(str(i)) for i in items) + len(owner) * len(items))
                args = (items, *args[1:])
        return super().call(__context, __obj, *args, **kwargs)

    def _checked_filter(self, name, original):
        env = self

        def checked(*args, **kwargs):
            values = [a for a in args if not hasattr(a, "environment")]  # drop the eval context
            if name in ("center", "indent"):
                for value in [*values[1:], *kwargs.values()]:
                    if isinstance(value, int):
                        env._too_big(f"the {name} filter's width", value)
            elif name == "format" and values and isinstance(values[0], str):
                env._check_percent(values[0], tuple(values[1:]))
            elif name == "replace" and len(values) >= 3:
                text, old, new = (str(v) for v in values[:3])
                env._too_big("a replaced value", len(text) + text.count(old or " ") * len(new))
            elif name == "join" and values:
                items = list(values[0]) if not isinstance(values[0], str) else values[0]
                sep = str(values[1]) if len(values) > 1 else ""
                env._too_big("a joined value", sum(len(str(i)) for i in items) + len(sep) * len(items))
                args = tuple(items if a is values[0] else a for a in args)
            return original(*args, **kwargs)

        for attr in ("jinja_pass_arg",):  # keep pass_context / pass_environment markers
            if hasattr(original, attr):
                setattr(checked, attr, getattr(original, attr))
        return checked

    def _range(self, *args):
        counted = range(*args)
        state = self._state
        if len(counted) > self.budget.max_iterations:
            raise BudgetExceeded(f"range() of {len(counted):,} items, over the limit of {self.budget.max_iterations:,} iterations")
        for item in counted:
            state.iterations = getattr(state, "iterations", 0) + 1
            if state.iterations > self.budget.max_iterations:
                raise BudgetExceeded(f"loops ran over the limit of {self.budget.max_iterations:,} iterations")
            yield item

    # -- one render --------------------------------------------------------------------
    def begin_render(self) -> None:
        self._state.iterations = 0
        _watchdog.start(self.budget.max_seconds)

    def end_render(self) -> None:
        _watchdog.stop()

    def check_output(self, text: str | None, piece: str) -> None:
        if text is not None and len(text) > self.budget.max_chars:
            raise BudgetExceeded(f"the rendered {piece} is {len(text):,} characters, over the limit of {self.budget.max_chars:,}")


class _Watchdog:
    """One daemon thread interrupting renders that run past their deadline (in any thread), by
    raising BudgetExceeded in the rendering thread."""

    def __init__(self):
        self.deadlines: dict[int, float] = {}
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self, seconds: float) -> None:
        with self.lock:
            self.deadlines[threading.get_ident()] = time.monotonic() + seconds
            if self.thread is None:
                self.thread = threading.Thread(target=self._watch, name="ptrun-template-watchdog", daemon=True)
                self.thread.start()

    def stop(self) -> None:
        with self.lock:
            self.deadlines.pop(threading.get_ident(), None)

    def _watch(self) -> None:
        while True:
            time.sleep(0.05)
            now = time.monotonic()
            with self.lock:
                late = [tid for tid, deadline in self.deadlines.items() if now > deadline]
                for tid in late:
                    del self.deadlines[tid]
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(_RenderTimeout))


class _RenderTimeout(BudgetExceeded):
    def __init__(self, *args):
        super().__init__("the render ran over its time limit" if not args else args[0])


_watchdog = _Watchdog()
