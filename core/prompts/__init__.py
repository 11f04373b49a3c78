"""Prompts: template files (search path, sandbox, header, analysis), rendering, and ``ptrun check``."""
