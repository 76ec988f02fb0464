#!/usr/bin/env python3
"""The lean batch loop: the legacy `normalize` over a capture with nothing else.

    python3 legacy/lean_batch.py CAPTURE.jsonl > answers.jsonl

This is the baseline ``scripts/bench`` states every ratio against: the
legacy's own work (parse the record, strip, encode the answer) in the
plainest loop a careful engineer would write for a batch job, with the lean
paths of the standard library:

- input and output through 1 MiB buffers, decoded and encoded by the I/O
  layer in bulk (no per-line ``bytes`` decoding, no per-line syscalls);
- each line parsed by ``json``'s C scanner directly (``json.loads`` adds two
  regular-expression matches and a type check a line);
- answers encoded by one prebuilt C encoder with compact separators
  (``json.dumps`` with arguments builds an encoder per call).

Reads a cutover capture (JSON Lines, ``{"id", "key", "input"}``; ``id`` and
``key`` are parsed, not used) and writes one line per record, in input order:
the output, or ``{"error": {"type", "message"}}`` when the legacy raised.
Unlike ``batch.py`` it writes no ids (the line number is the id) and does no
per-record bookkeeping, so it is a floor for any wrapper around the legacy,
``legacy/worker.py`` included. Standard library only.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from normalize import normalize  # noqa: E402

BUFFER = 1 << 20


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: lean_batch.py CAPTURE.jsonl > answers.jsonl")
    scan = json.scanner.make_scanner(json.JSONDecoder())
    encode = json.JSONEncoder(separators=(",", ":")).encode
    with open(sys.argv[1], encoding="utf-8", buffering=BUFFER) as source, \
            open(sys.stdout.fileno(), "w", encoding="utf-8", buffering=BUFFER, closefd=False) as out:
        write = out.write
        for line in source:
            record = scan(line, 0)[0]
            try:
                answer = encode(normalize(record["input"]))
            except Exception as exc:  # the legacy raised: its error is the answer
                answer = encode({"error": {"type": type(exc).__name__, "message": str(exc)}})
            write(answer + "\n")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
