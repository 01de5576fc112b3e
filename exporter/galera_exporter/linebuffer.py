"""Appended bytes in, complete lines out, with bounded memory; no I/O, no threads.

The log follower (follow.py) reads a file in chunks that end anywhere; this turns them into
blocks of complete lines (each ending in b"\\n") for its consumer:

- a partial line waits in `pending` until its newline arrives;
- a line still unfinished after `max_line` bytes is cut there (its start is handed over with a
  newline added) and the rest of it is skipped up to its newline;
- a line that arrives whole within one chunk is handed over whole, whatever its length (the
  chunk is already in memory; copying it to cut it would cost more than it saves).

So memory is bounded by one chunk plus `max_line`. Lines no longer than `max_line` come out
the same whatever the chunking; a longer line comes out whole or as its first `max_line`
bytes plus b"\\n" (counted as cut), depending on where the chunk boundaries fell.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pushed:
    """What one push produced: blocks of complete lines in order, and how many lines were cut."""

    blocks: list[bytes] = field(default_factory=list)
    cut: int = 0


class LineBuffer:
    """Holds the partial last line between pushes; see the module docstring for the bounds."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.pending = b""  # the start of a line whose newline has not come yet
        self.skipping = False  # inside an over-long line, dropping bytes until its newline

    def reset(self, pending: bytes = b"", *, skipping: bool = False) -> None:
        """Start over (a new or truncated file), optionally inside a line already begun."""
        self.pending = pending
        self.skipping = skipping

    def push(self, chunk: bytes) -> Pushed:
        """Add the bytes that follow; return the complete lines they finish."""
        blocks: list[bytes] = []
        cut = 0
        if self.skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                return Pushed()
            chunk = chunk[nl + 1 :]
            self.skipping = False
        last_nl = chunk.rfind(b"\n")
        if last_nl < 0:
            self.pending += chunk
        else:
            if self.pending:
                first_nl = chunk.find(b"\n")
                head = self.pending + chunk[: first_nl + 1]
                self.pending = b""
                if len(head) > self.max_line + 1:
                    head = head[: self.max_line] + b"\n"
                    cut += 1
                blocks.append(head)
                body = chunk[first_nl + 1 : last_nl + 1]
            else:
                body = chunk[: last_nl + 1] if last_nl + 1 < len(chunk) else chunk
            if body:
                blocks.append(body)
            self.pending = chunk[last_nl + 1 :]
        if len(self.pending) > self.max_line:
            # The partial line outgrew the limit: hand over its start, skip the rest.
            blocks.append(self.pending[: self.max_line] + b"\n")
            cut += 1
            self.pending = b""
            self.skipping = True
        return Pushed(blocks, cut)
