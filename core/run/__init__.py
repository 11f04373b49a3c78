"""A run: its setup (task, model, template, data, label map), the pipeline, the run folder, reports."""
