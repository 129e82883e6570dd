"""Typed errors that say which file, which line or record, and what is wrong."""

from __future__ import annotations


class FormatError(ValueError):
    """Bad input in an annotation file: `where` is "file line N" or "file record N"."""

    def __init__(self, file: str, message: str, *, line: int | None = None,
                 record: int | str | None = None) -> None:
        where = file
        if line is not None:
            where += f" line {line}"
        elif record is not None:
            where += f" record {record}"
        self.file, self.line, self.record, self.detail = file, line, record, message
        super().__init__(f"{where}: {message}")


class UnknownFormat(KeyError):
    def __init__(self, format_id: str) -> None:
        self.format_id = format_id
        super().__init__(format_id)

    def __str__(self) -> str:
        return f"unknown export format {self.format_id!r}"
