"""The ``genurl`` command line: a thin typer app over :mod:`genurl_graph`."""
