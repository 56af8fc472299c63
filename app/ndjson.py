"""NDJSON bodies read as they arrive: one line at a time, in time linear in the body, each line bounded."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from app.errors import Unprocessable


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line of the body; `data` is None when the line was longer than allowed (its bytes dropped)."""

    number: int
    data: bytes | None


async def lines(chunks: AsyncIterable[bytes], *, max_line: int) -> AsyncIterator[Line]:
    """The body's lines numbered from 1 as sent, blank ones skipped; a last line needs no newline.

    Lines end at `\\n` alone: a UTF-8 character never contains that byte, so a chunk may end anywhere, inside a
    character too. A line over `max_line` bytes (its newline not counted) is still numbered and yielded, without
    its bytes, which are dropped as they come: a runaway line must not grow without bound.
    """
    pending = bytearray()
    overlong = False
    number = 0
    async for chunk in chunks:
        view = memoryview(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            number += 1
            if overlong or len(pending) + end - start > max_line:
                yield Line(number, None)
            else:
                pending += view[start:end]
                if pending.strip():
                    yield Line(number, bytes(pending))
            pending.clear()
            overlong = False
            start = end + 1
        if not overlong:
            if len(pending) + len(chunk) - start > max_line:
                overlong = True
                pending.clear()
            else:
                pending += view[start:]
    if overlong:
        yield Line(number + 1, None)
    elif pending.strip():
        yield Line(number + 1, bytes(pending))


MAX_LISTED_ERRORS = 1000  # failed lines listed by number; the rest are counted


@dataclass
class LineReport:
    """What a body read line by line did where it did not: each failed line by number, never by value."""

    lines: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, line: int, problems: list[dict[str, Any]]) -> None:
        """Count a failed line, listing its problems while fewer than MAX_LISTED_ERRORS are listed."""
        self.failed += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append({"line": line, "errors": problems})

    def refusal(self, detail: str) -> Unprocessable:
        """The 422 that names every listed bad line, each problem located in the body."""
        refused = Unprocessable(detail)
        refused.errors = [
            {**problem, "loc": ["body", str(error["line"]), *problem["loc"]]}
            for error in self.errors
            for problem in error["errors"]
        ]
        return refused
