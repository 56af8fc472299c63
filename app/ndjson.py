"""NDJSON bodies read as they arrive: one line at a time, in time linear in the body, each line bounded.

One reader for every NDJSON body (the import, the campaign check, a suppression list): a `Splitter` cuts the
chunks into numbered lines, and `parsed` hands each line to the endpoint's parser in a worker thread, so that no
body, however hostile (one line of 64 MiB, a line of ten thousand keys, a million empty objects), holds the
event loop for more than a few milliseconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.errors import Unprocessable

T = TypeVar("T")

GROUP_BYTES = 16 * 1024  # bytes of body split in one trip to a worker thread
LINES_PER_TRIP = 1024  # lines parsed in one trip: what waits to be handed on stays small
STEP = 256  # lines handed on between two turns of the event loop


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line of the body; `data` is None when the line was longer than allowed (its bytes dropped)."""

    number: int
    data: bytes | None


class Splitter:
    """Cut a body into lines, chunk by chunk, numbered from 1 as sent; blank lines are counted, not returned.

    Lines end at `\\n` alone: a UTF-8 character never contains that byte, so a chunk may end anywhere, inside a
    character too. Each byte is searched once and copied at most twice (into the start of a line that waits for
    its end, and out as the line), so the work is linear in the body however it is cut; `copied` counts the
    copies. A line over `max_line` bytes (its newline not counted) is still numbered and returned, without its
    bytes, which are dropped as they come: no more than `max_line` bytes are ever held for one line.
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.copied = 0
        self._pending = bytearray()  # the start of a line whose end has not come yet
        self._overlong = False
        self._number = 0

    @property
    def held(self) -> int:
        """Bytes held for the line not yet ended."""
        return len(self._pending)

    def feed(self, chunk: bytes) -> list[Line]:
        """The lines this chunk ends."""
        found: list[Line] = []
        view = memoryview(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            self._number += 1
            if self._overlong or len(self._pending) + end - start > self.max_line:
                found.append(Line(self._number, None))
            elif self._pending:
                self._hold(view[start:end])
                self._take(found, self._number, self._pending)
            else:
                self._take(found, self._number, view[start:end])
            self._pending.clear()
            self._overlong = False
            start = end + 1
        if not self._overlong and len(self._pending) + len(chunk) - start > self.max_line:
            self._overlong = True
            self._pending.clear()
        elif not self._overlong:
            self._hold(view[start:])
        return found

    def end(self) -> list[Line]:
        """The last line, which needs no newline."""
        found: list[Line] = []
        if self._overlong:
            found.append(Line(self._number + 1, None))
        else:
            self._take(found, self._number + 1, self._pending)
        self._pending.clear()
        self._overlong = False
        return found

    def _hold(self, part: memoryview) -> None:
        self._pending += part
        self.copied += len(part)

    def _take(self, found: list[Line], number: int, data: bytearray | memoryview) -> None:
        line = bytes(data)
        self.copied += len(line)
        if line and not line.isspace():
            found.append(Line(number, line))


async def lines(chunks: AsyncIterable[bytes], *, max_line: int) -> AsyncIterator[Line]:
    """The body's non-blank lines, numbered from 1 as sent; a last line needs no newline (see `Splitter`)."""
    splitter = Splitter(max_line)
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            yield line
    for line in splitter.end():
        yield line


async def paced(items: Iterable[T], every: int = STEP) -> AsyncIterator[T]:
    """The items, with a turn of the event loop after every `every` of them: work per item never adds up."""
    for index, item in enumerate(items, 1):
        yield item
        if index % every == 0:
            await asyncio.sleep(0)


async def parsed(
    chunks: AsyncIterable[bytes], *, max_line: int, parse: Callable[[bytes], T]
) -> AsyncIterator[tuple[int, T | None]]:
    """Each non-blank line's number and what `parse` made of it (None: the line was over `max_line` bytes).

    The body is split and its lines parsed in a worker thread, so the event loop only passes chunks along;
    `parse` must be safe to run in a thread. The results are handed on STEP at a time, a turn of the loop
    between two: the caller's work per line, however little, does not add up to a stall either.
    """
    splitter = Splitter(max_line)
    waiting: deque[Line] = deque()

    def work(group: list[bytes], last: bool) -> list[tuple[int, T | None]]:
        for chunk in group:
            waiting.extend(splitter.feed(chunk))
        if last:
            waiting.extend(splitter.end())
        taken = [waiting.popleft() for _ in range(min(len(waiting), LINES_PER_TRIP))]
        return [(line.number, None if line.data is None else parse(line.data)) for line in taken]

    async def trips(group: list[bytes], last: bool) -> AsyncIterator[tuple[int, T | None]]:
        results = await asyncio.to_thread(work, group, last)
        while True:
            async for result in paced(results):
                yield result
            if not waiting:
                return
            results = await asyncio.to_thread(work, [], False)

    group: list[bytes] = []
    size = 0
    async for chunk in chunks:
        group.append(chunk)
        size += len(chunk)
        if size >= GROUP_BYTES:
            async for result in trips(group, last=False):
                yield result
            group, size = [], 0
    async for result in trips(group, last=True):
        yield result


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
