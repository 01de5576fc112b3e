"""LineBuffer on its own: bytes to complete lines, bounded, whatever the chunking."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from galera_exporter.linebuffer import LineBuffer

MAX_LINE = 16


def run(chunks: list[bytes], max_line: int = MAX_LINE) -> tuple[list[bytes], int, LineBuffer]:
    """All blocks a buffer hands over for these chunks, the lines cut, and the buffer."""
    buffer = LineBuffer(max_line)
    blocks: list[bytes] = []
    cut = 0
    for chunk in chunks:
        pushed = buffer.push(chunk)
        blocks += pushed.blocks
        cut += pushed.cut
        # The bound: what waits is never more than one line's limit.
        assert len(buffer.pending) <= max_line
    for block in blocks:
        assert block.endswith(b"\n")  # only complete lines, never an empty block
    return blocks, cut, buffer


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# Line contents never contain the newline; short ones fit the limit, long ones may not.
short_line = st.binary(max_size=MAX_LINE).map(lambda b: b.replace(b"\n", b"x"))
any_line = st.binary(max_size=4 * MAX_LINE).map(lambda b: b.replace(b"\n", b"x"))
cut_points = st.lists(st.integers(min_value=0, max_value=10_000), max_size=30)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(short_line, max_size=20), tail=short_line, cuts=cut_points)
def test_any_chunking_of_short_lines_gives_the_same_lines(
    lines: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(line + b"\n" for line in lines) + tail
    blocks, cut, buffer = run(chunked(stream, cuts))
    assert b"".join(blocks).split(b"\n")[:-1] == lines
    assert cut == 0
    assert buffer.pending == tail
    assert not buffer.skipping
    # One chunk or one byte at a time: the same lines again.
    assert b"".join(run([stream])[0]) == b"".join(blocks)
    assert b"".join(run([stream[i : i + 1] for i in range(len(stream))])[0]) == b"".join(blocks)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(any_line, max_size=20), tail=any_line, cuts=cut_points)
def test_long_lines_come_out_whole_or_cut_and_counted(
    lines: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(line + b"\n" for line in lines) + tail
    blocks, cut, buffer = run(chunked(stream, cuts))
    out = b"".join(blocks).split(b"\n")[:-1]
    tail_cut = len(tail) > MAX_LINE
    assert len(out) == len(lines) + tail_cut
    cut_lines = 0
    for got, line in zip(out, lines, strict=False):
        if len(line) <= MAX_LINE:
            assert got == line
        elif got != line:
            assert got == line[:MAX_LINE]
            cut_lines += 1
    if tail_cut:
        assert out[-1] == tail[:MAX_LINE]
        assert buffer.skipping
        assert buffer.pending == b""
    else:
        assert buffer.pending == tail
    assert cut == cut_lines + tail_cut


def test_a_long_line_whole_in_one_chunk_is_kept_whole() -> None:
    line = b"y" * (3 * MAX_LINE) + b"\n"
    assert run([line])[:2] == ([line], 0)
    blocks, cut, _ = run([b"a\n", line])
    assert blocks == [b"a\n", line]
    assert cut == 0


def test_a_long_line_split_is_cut_and_its_rest_skipped() -> None:
    blocks, cut, buffer = run([b"z" * (MAX_LINE + 5), b"zzz", b"zz\nnext\n"])
    assert blocks == [b"z" * MAX_LINE + b"\n", b"next\n"]
    assert cut == 1
    assert not buffer.skipping


def test_reset_starts_inside_a_line() -> None:
    buffer = LineBuffer(MAX_LINE)
    buffer.reset(b"par")
    assert buffer.push(b"tial\nrest").blocks == [b"partial\n"]
    buffer.reset(skipping=True)
    pushed = buffer.push(b"tail of a long one\nnew\n")
    assert pushed.blocks == [b"new\n"]
    assert buffer.pending == b""
