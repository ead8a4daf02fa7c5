"""Subcommands: one module each, typed inputs in, results out; the CLI prints them."""
