"""``ptrun predict MODEL FILE -o OUT.jsonl``: predict a large unlabelled file as a stream.

Only click is imported here; the model libraries load inside the command (``ptrun --help`` stays fast).
"""

from __future__ import annotations

import click

#: The options of ``ptrun.load`` that ``ptrun predict`` takes (RunConfig fields, same flags and help).
LOAD_OPTIONS = ("template_dirs", "max_length", "batch_size", "device", "inference", "chat", "shots",
                "balanced_shots", "calibrate", "length_norm", "max_new_tokens", "seed", "train")
HELP = {"train": "Labelled file the --shots demonstrations (and, for a model that is not a run folder, the label set) come from."}


def _load_options() -> list[click.Option]:
    from ptrun.cli.options import click_option
    from ptrun.config import cli_fields

    fields = {f.name: f for f in cli_fields()}
    options = [click_option(fields[name], None) for name in LOAD_OPTIONS]
    for option in options:
        option.help = HELP.get(option.name, option.help)
    return options


@click.command("predict", short_help="Predict a large file as a stream (resumable, sharded under torchrun).")
@click.argument("model")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="The JSONL file to write (it appears only when complete).")
@click.option("--task", help="The task, when MODEL is an alias or model folder rather than a run folder.")
@click.option("--template", "-t", help="Template name or .j2 path; 'none' for no prompt [default: the run's, else the task's].")
@click.option("--format", "fmt", help="Input format when the file extension does not tell (a reader name: tsv, csv, jsonl, json, or a plugin's).")
@click.option("--chunk-size", type=click.IntRange(1), default=256, show_default=True,
              help="Examples read, predicted and written at a time (memory grows with it, not with the file).")
@click.option("--resume", is_flag=True, help="Continue the partial output a killed run left (same options).")
@click.option("--skip-bad", is_flag=True, help="Write bad records to OUT.rejects.jsonl and go on, instead of stopping at the first.")
@click.option("--merge-timeout", type=click.FloatRange(0), default=600.0, show_default=True,
              help="Under torchrun: seconds process 0 waits for the others after its own shard.")
def predict(model, file, out, task, template, fmt, chunk_size, resume, skip_bad, merge_timeout, **options):
    """Predict FILE (unlabelled records) with MODEL into OUT.jsonl, as a stream.

    MODEL is a ptrun run folder, or a model alias or folder used zero/few-shot with --task
    (the options of ptrun.load apply). FILE is read record by record in chunks of --chunk-size;
    each chunk is predicted and its lines written at once, so memory stays bounded. Line formats
    (TSV, CSV, JSONL and the plugins' line readers) stream; JSON, a whole-document format, is read whole.

    \b
    Output: one JSON line per input, in input order:
      {"id": ..., "line": N, ...the task's prediction record (as in predictions/*.jsonl)}
    "line" is the record's source line (its item number in a JSON file).

    A bad record is an error naming FILE:LINE (exit 1, nothing written); with --skip-bad it goes
    to OUT.rejects.jsonl ({"line", "raw" or "fields", "error"}) and is counted in the summary.
    Lines are written to OUT.jsonl.partial and renamed to OUT.jsonl when complete; after a
    kill, --resume continues without duplicates or gaps. Under torchrun --nproc_per_node N each
    process predicts every Nth chunk and process 0 merges them in input order.
    Progress goes to stderr; the summary (examples, rejects, seconds, examples/s) to stdout.
    """
    from pathlib import Path

    from ptrun.deploy.predict_file import (
        PredictJob,
        distributed,
        run_predict,
        summary_line,
    )

    job = PredictJob(model=model, input=Path(file), out=Path(out), task=task, format=fmt, chunk_size=chunk_size,
                     resume=resume, skip_bad=skip_bad, merge_timeout=merge_timeout,
                     options={"template": template, **options})
    summary = run_predict(job)
    if distributed()[0] == 0:
        click.echo(summary_line(summary, job.out, skip_bad))


predict.params.extend(_load_options())  # after the options above, in RunConfig's order
