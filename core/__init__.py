"""ptrun: prompt-based fine-tuning and evaluation of language models.

This module is the whole public API, for users (:func:`load`) and for plugin authors (the
``hookimpl`` marker, the task base classes, records and examples, label maps, model specs,
errors and ``echo``). Plugins import nothing else from ptrun, except the backend helpers the
README lists as public. Heavy libraries (torch, transformers) are never imported here.
"""

from ptrun.data.reading import read_records
from ptrun.data.records import Example, Record, example_id, require_field
from ptrun.data.textfile import open_text, read_text
from ptrun.errors import DataError, PtrunError, TemplateError
from ptrun.hookspecs import hookimpl
from ptrun.log import echo, warn
from ptrun.models import ModelSpec, package_dir
from ptrun.models import resolve as resolve_model
from ptrun.tasks.base import Task
from ptrun.tasks.classification import TextClassificationTask, classification_metrics
from ptrun.tasks.labels import LabelMap

__version__ = "0.1.0"


def load(model, task=None, **options):
    """Load a model once for predicting; see :func:`ptrun.predictor.load`."""
    from ptrun.predictor import load as _load

    return _load(model, task, **options)


__all__ = [
    "DataError",
    "Example",
    "LabelMap",
    "ModelSpec",
    "PtrunError",
    "Record",
    "Task",
    "TemplateError",
    "TextClassificationTask",
    "classification_metrics",
    "echo",
    "example_id",
    "hookimpl",
    "load",
    "open_text",
    "package_dir",
    "read_records",
    "read_text",
    "require_field",
    "resolve_model",
    "warn",
    "__version__",
]
