"""Data: records and examples, reading files by format, finding splits, the default readers."""
