"""What the template budget costs: rendering SST-2 dev with 8 demonstrations through ptrun's
budgeted sandbox vs Jinja2's plain immutable sandbox (the peer), same templates, same process.

    python bench/template_budget.py --repeats 5 --json-out bench/out/template_budget.json

Rounds alternate between the two sides, so both get the same share of the machine. Prints JSON
and a short table.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ptrun import Example, registry
from ptrun.prompts.render import Renderer, select_demos
from ptrun.prompts.templates import Prompt, load_prompt
from ptrun.run.setup import build_label_map

REPO = Path(__file__).resolve().parents[1]
SST2 = REPO.parent / "shared" / "datasets" / "sst2"


def read(path: Path, limit: int | None = None) -> list[Example]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:limit]
    return [Example(f"{path.stem}-{i}", {"text": r["sentence"].strip(), "label": r["label"]}, str(path), i + 2)
            for i, r in enumerate(rows)]


def plain(prompt: Prompt) -> Prompt:
    """The same template in Jinja2's own immutable sandbox, without ptrun's budget."""
    env = ImmutableSandboxedEnvironment(loader=prompt.env.loader, undefined=jinja2.StrictUndefined,
                                        trim_blocks=True, lstrip_blocks=True, autoescape=False)
    template = env.get_template(prompt.name + ".j2")
    return Prompt(prompt.name, env, template, prompt.source)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--template", default="sentiment/review")
    p.add_argument("--shots", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json-out")
    args = p.parse_args()
    task = registry.get_task("sentiment")
    dev, train = read(SST2 / "dev.tsv"), read(SST2 / "train.tsv", 2000)
    budgeted = load_prompt(args.template)
    label_map = build_label_map(task, budgeted, {"train": train})
    demos = select_demos(task, train, args.shots, 42, True)
    sides = {"peer (plain sandbox)": plain(budgeted), "ptrun (budgeted sandbox)": budgeted}
    outputs, times = {}, {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, prompt in sides.items():
            renderer = Renderer(task, prompt, label_map, demos)
            start = time.perf_counter()
            rendered = renderer.render_all(dev)
            times[name].append(time.perf_counter() - start)
            outputs[name] = [(r.input, r.target) for r in rendered]
    assert outputs["peer (plain sandbox)"] == outputs["ptrun (budgeted sandbox)"], "the two sides render differently"
    peer, ours = (statistics.median(times[n]) for n in sides)
    result = {
        "examples": len(dev), "shots": args.shots, "template": args.template, "repeats": args.repeats,
        "median_seconds": {n: statistics.median(t) for n, t in times.items()},
        "extra_cost_percent": 100 * (ours / peer - 1),
        "target_at_most_5_percent": ours / peer - 1 <= 0.05,
    }
    print(json.dumps(result, indent=2))
    print(f"\n{len(dev)} examples, {args.shots} shots, {args.template}, median of {args.repeats}")
    for name in sides:
        print(f"{name:28s} {statistics.median(times[name]):7.3f} s")
    print(f"extra cost: {result['extra_cost_percent']:+.1f}%")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
