"""The NDJSON reader both streamed endpoints share: lines across chunks, blank lines, long lines, the last line."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from app.ndjson import Line, Splitter, lines, parsed


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def read(parts: list[bytes], max_line: int = 16) -> list[tuple[int, bytes | None]]:
    async def collect() -> list[Line]:
        return [line async for line in lines(_chunks(parts), max_line=max_line)]

    return [(line.number, line.data) for line in asyncio.run(collect())]


def every_split(body: bytes) -> list[list[bytes]]:
    """The body cut in two at every byte, and cut into single bytes."""
    return [[body[:i], body[i:]] for i in range(len(body) + 1)] + [[bytes([b]) for b in body]]


def test_lines_are_numbered_as_sent() -> None:
    assert read([b'{"a": 1}\n{"b": 2}\n']) == [(1, b'{"a": 1}'), (2, b'{"b": 2}')]


def test_a_chunk_may_end_anywhere_in_a_line() -> None:
    body = b'{"a": 1}\n{"bb": 22}\n'
    for parts in every_split(body):
        assert read(parts) == [(1, b'{"a": 1}'), (2, b'{"bb": 22}')], parts


def test_a_chunk_may_end_inside_a_character() -> None:
    body = '{"n": "Äijä"}\n{"n": "€"}\n'.encode()
    for parts in every_split(body):
        got = read(parts, max_line=64)
        assert [data.decode() for _, data in got if data is not None] == ['{"n": "Äijä"}', '{"n": "€"}'], parts


def test_blank_lines_are_skipped_but_counted() -> None:
    assert read([b"\n  \n\t\r\n{}\n\n{}\n   "]) == [(4, b"{}"), (6, b"{}")]


def test_the_last_line_needs_no_newline() -> None:
    assert read([b"{}\n", b'{"x"', b": 1}"]) == [(1, b"{}"), (2, b'{"x": 1}')]
    assert read([b"{}"]) == [(1, b"{}")]
    assert read([]) == []
    assert read([b""]) == []


def test_a_carriage_return_stays_with_its_line() -> None:
    # JSON allows the trailing whitespace; the parser, not the reader, decides.
    assert read([b"{}\r\n{}\r\n"]) == [(1, b"{}\r"), (2, b"{}\r")]


def test_a_line_over_the_limit_is_numbered_without_its_bytes() -> None:
    exactly, over = b"x" * 16, b"y" * 17
    body = exactly + b"\n" + over + b"\n{}\n"
    for parts in every_split(body):
        assert read(parts) == [(1, exactly), (2, None), (3, b"{}")], parts


def test_a_long_blank_line_is_still_too_long() -> None:
    assert read([b" " * 17 + b"\n{}\n"]) == [(1, None), (2, b"{}")]


@pytest.mark.parametrize("parts", [[b"{}\n" + b"z" * 40], [b"{}\n", b"z" * 10, b"z" * 10, b"z" * 20]])
def test_a_last_line_over_the_limit(parts: list[bytes]) -> None:
    assert read(parts) == [(1, b"{}"), (2, None)]


def split(parts: list[bytes], max_line: int) -> tuple[Splitter, list[Line]]:
    splitter = Splitter(max_line)
    found = []
    for part in parts:
        found += splitter.feed(part)
        assert splitter.held <= max_line  # never more than a line's worth held, however it comes
    return splitter, found + splitter.end()


def test_a_long_line_in_small_chunks_is_copied_in_linear_work() -> None:
    # A splitter that re-copies what it holds on every chunk copies a line of n bytes in k chunks k/2 times
    # over: here 8192 chunks, 4096 times the line. Each byte is copied at most twice here.
    size = 1 << 19
    splitter, found = split([b"a" * 64] * (size // 64) + [b"\n"], max_line=size)
    assert found == [Line(1, b"a" * size)]
    assert splitter.copied <= 2 * size


def test_many_lines_in_one_chunk_are_copied_once() -> None:
    body = b"".join(b'{"n": %d}\n' % i for i in range(10_000))
    splitter, found = split([body], max_line=64)
    assert len(found) == 10_000
    assert splitter.copied <= len(body)


def test_a_line_over_the_limit_is_not_held() -> None:
    splitter, found = split([b"{" + b"x" * 4096] * 256 + [b"}\n{}"], max_line=1024)
    assert found == [Line(1, None), Line(2, b"{}")]
    assert splitter.copied <= 2 * 1024


def test_parsed_numbers_each_line_and_parses_it_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    threads = set()

    def parse(data: bytes) -> int:
        threads.add(threading.get_ident())
        return len(data)

    async def collect() -> list[tuple[int, int | None]]:
        parts = [b"a\n\nbb\n", b"x" * 40, b"\nccc"] * 3000
        return [item async for item in parsed(_chunks(parts), max_line=16, parse=parse)]

    results = asyncio.run(collect())
    # Four lines a repeat, one of them blank; `ccc` runs on into the next repeat's `a`; the last has no newline.
    assert results[:5] == [(1, 1), (3, 2), (4, None), (5, 4), (7, 2)]
    assert len(results) == 3 * 3000 + 1
    assert results[-1] == (4 * 3000 + 1, 3)
    assert loop_thread not in threads
