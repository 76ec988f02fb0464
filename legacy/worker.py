#!/usr/bin/env python3
"""cutover worker wrapping the legacy `normalize` service.

Speaks the cutover worker protocol (see PROTOCOL.md beside this file):
one JSON request per line on stdin, one JSON response per line on stdout,
matched by ``id``; many requests may be in flight (pipelining).

The loop reads whatever bytes are available, answers every complete line in
that chunk and writes all the answers with one write, so a pipelined caller
gets batched I/O and a lone request is still answered at once.
Standard library only.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from normalize import normalize  # noqa: E402

CHUNK = 1 << 16


def answer(line):
    """Turns one request line into one response line (bytes, newline included)."""
    try:
        request = json.loads(line)
        request_id = request["id"]
        payload = request["input"]
    except Exception as exc:  # a request the protocol does not allow
        return (json.dumps({"id": None, "error": {"type": "ProtocolError",
                                                   "message": "bad request line: %s" % exc}}) + "\n").encode()
    try:
        response = {"id": request_id, "output": normalize(payload)}
    except Exception as exc:  # the legacy code raised: report it, keep serving
        response = {"id": request_id, "error": {"type": type(exc).__name__, "message": str(exc)}}
    return (json.dumps(response) + "\n").encode()


def main():
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    pending = b""
    while True:
        chunk = os.read(stdin, CHUNK)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        out = b"".join(answer(line) for line in lines if line.strip())
        view = memoryview(out)
        while view:
            written = os.write(stdout, view)
            view = view[written:]


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
