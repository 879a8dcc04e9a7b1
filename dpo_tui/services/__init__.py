"""The Python API: one module per user verb, named like the CLI module that calls it."""
