"""Errors that reach the user, each carrying the exit code the interface spec assigns."""

from __future__ import annotations

from pathlib import Path


class MonitorError(Exception):
    """A failure the CLI reports as one clear line instead of a traceback."""

    exit_code = 1


class ConfigError(MonitorError):
    """Bad configuration or usage: exit code 2, naming the file and line (or the option)."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        if self.key:
            where += f"{self.key}: "
        return f"{where}{self.message}"


class RecordError(MonitorError):
    """One input record that cannot be used; it is reported and skipped (exit code 3 at the end)."""

    exit_code = 3

    def __init__(self, message: str, *, record_id: object = None, line: int | None = None) -> None:
        self.message = message
        self.record_id = record_id
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record_id is not None:
            parts.append(f"record {self.record_id}")
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


def yaml_error(exc: Exception, path: str | Path, text: str) -> ConfigError:
    """A PyYAML error as a ConfigError naming the file and line, whatever kind it is."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    position = getattr(exc, "position", None)  # yaml.reader.ReaderError: a bad character
    if line is None and isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        problem = f"character #x{getattr(exc, 'character', 0):04x} is not allowed in YAML"
    return ConfigError(f"invalid YAML: {problem or exc}", file=path, line=line)
