"""The command layer: the entry point, options, the error boundary and one module per command."""
