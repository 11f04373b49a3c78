"""Prompt templates shipped with ptrun, one folder per task (package data, no code)."""
