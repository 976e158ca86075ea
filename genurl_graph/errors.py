"""The one exception type for bad input: raised where the problem is found, shown by the CLI as one
line."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user: a file, the line in it (when known), and what was wrong.

    The CLI prints ``str(err)`` on stderr and exits with status 2; anything else is a bug.
    """

    def __init__(self, what: str, path: str | None = None, line: int | None = None):
        self.what, self.path, self.line = what, None if path is None else str(path), line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + what)


class TrainingDiverged(InputError, FloatingPointError):
    """The loss became NaN or inf while training (badly scaled inputs, too high a learning
    rate); shown by the CLI as one line, as bad input is."""
