"""A worker process for `AheadEvaluator`: reads (rows, sheet, date) requests on stdin, answers
each with the list of decisions on stdout, and ends at end of input. A request without a sheet
(None) uses the last one sent: the evaluator sends it once, with its first piece.

Each message is a pickle preceded by its length (8 bytes, little-endian), read whole and
unpickled from memory: unpickling straight from the pipe reads it in small pieces, measured at
three times the cost for a chunk's decisions (each carries its record, ~5 KB of JSON text).

Run as `python -m tasks.evaluate_worker`; it imports the pure core only (no Prefect, no
database), so it starts in well under a second. The cyclic garbage collector runs once per chunk,
after the answer is sent, not every few hundred allocations while a chunk is evaluated (measured:
~15% of the evaluation's time, the full collections rescanning every decision held).
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
from typing import IO, Any

from qualification.evaluate import evaluate_rows

HEADER = 8


def send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(HEADER, "little"))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message; EOFError at the end of input, or when the stream ends inside one."""
    return unpickle(receive_bytes(stream))


def receive_bytes(stream: IO[bytes]) -> bytes:
    """The next message, still pickled (the caller may send before it unpickles)."""
    header = stream.read(HEADER)
    if len(header) < HEADER:
        raise EOFError
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError(f"message cut short: {len(data)} of {size} bytes")
    return data


def unpickle(data: bytes) -> Any:
    return pickle.loads(data)


def main() -> None:
    requests = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    gc.freeze()  # what the imports made lives as long as the process: never scanned
    gc.disable()
    criteria = None
    while True:
        try:
            rows, sheet, today = receive(requests)
        except EOFError:
            return
        criteria = criteria if sheet is None else sheet
        if criteria is None:
            raise RuntimeError("the first request carries no sheet")
        decisions = evaluate_rows(rows, criteria, today)
        for decision in decisions:
            decision.record_json()  # encoded here, on the second core
        send(answers, decisions)
        del rows, sheet, decisions
        gc.collect()  # the piece's cycles, if any, with only the next request's data alive


if __name__ == "__main__":
    main()
