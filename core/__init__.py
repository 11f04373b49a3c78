"""ptrun: prompt-based fine-tuning and evaluation of language models.

The public surface for plugin authors is re-exported here: ``hookimpl`` (the pluggy marker),
``Task``, ``Example``, ``LabelMap`` and the error classes. Heavy libraries (torch,
transformers) are never imported at package import time.
"""

from ptrun.errors import DataError, PtrunError, TemplateError
from ptrun.hookspecs import hookimpl
from ptrun.data import Example
from ptrun.labels import LabelMap
from ptrun.tasks import Task

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Example",
    "LabelMap",
    "PtrunError",
    "Task",
    "TemplateError",
    "hookimpl",
    "__version__",
]
