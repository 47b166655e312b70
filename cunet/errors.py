"""The one exception type for bad input, so every command can report it the same way."""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad input data: names the offending file (or folder, or config key) and the problem."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")

    def __reduce__(self):  # crosses process boundaries (--jobs) with both fields intact
        return (type(self), (self.path, self.problem))
