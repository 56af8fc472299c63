"""The NDJSON reader both streamed endpoints share: lines across chunks, blank lines, long lines, the last line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from app.ndjson import Line, lines


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


def test_time_is_linear_in_a_long_line_sent_in_small_chunks() -> None:
    # A splitter that copies what it holds on every chunk takes time quadratic in the line's length.
    def once(size: int) -> float:
        parts = [b"a" * 64] * (size // 64) + [b"\n"]
        started = time.perf_counter()
        assert read(parts, max_line=size) == [(1, b"a" * size)]
        return time.perf_counter() - started

    def seconds(size: int) -> float:
        return min(once(size) for _ in range(3))  # the best of three: a busy machine only adds

    small, large = seconds(1 << 18), seconds(1 << 20)
    assert large < small * 12  # four times the input: about four times the time, far from sixteen
