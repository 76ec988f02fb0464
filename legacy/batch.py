#!/usr/bin/env python3
"""Batch loop: the legacy `normalize` over a capture file, one output line per record.

Reads a cutover capture (JSON Lines, ``{"id", "key", "input"}``) from the
file given or stdin, writes ``{"id", "output"}`` or ``{"id", "error"}`` per
record to stdout. This is how the legacy service's work looks with no harness
around it; ``scripts/bench`` uses it as the baseline cutover is measured
against. Standard library only.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from normalize import normalize  # noqa: E402


def answer(text):
    """One input line's answer line: the output, or the legacy's error."""
    try:
        return json.dumps(normalize(json.loads(text)))
    except Exception as exc:
        return json.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}})


def pipe():
    """Answers stdin's lines in order, writing the answers of each read at once."""
    pending = b""
    out = sys.stdout.buffer
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        if lines:
            out.write("".join(answer(line) + "\n" for line in lines).encode())
            out.flush()
    if pending.strip():
        out.write((answer(pending) + "\n").encode())
        out.flush()


def main():
    if sys.argv[1:] == ["--pipe"]:
        return pipe()
    source = open(sys.argv[1], "rb") if len(sys.argv) > 1 else sys.stdin.buffer
    out = sys.stdout
    for number, line in enumerate(source, 1):
        record = json.loads(line)
        record_id = record.get("id", str(number))
        try:
            response = {"id": record_id, "output": normalize(record["input"])}
        except Exception as exc:
            response = {"id": record_id, "error": {"type": type(exc).__name__, "message": str(exc)}}
        out.write(json.dumps(response))
        out.write("\n")


if __name__ == "__main__":
    main()
