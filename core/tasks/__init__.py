"""Tasks: the Task base class, the text-classification family, and label maps."""
