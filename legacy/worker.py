#!/usr/bin/env python3
"""cutover worker wrapping the legacy `normalize` service.

Speaks the cutover worker protocol (see PROTOCOL.md beside this file):
one JSON request per line on stdin, one JSON response per line on stdout,
matched by ``id``; many requests may be in flight (pipelining).

The loop reads whatever bytes are available, answers every complete line in
that chunk and writes all the answers with one write, so a pipelined caller
gets batched I/O and a lone request is still answered at once.

The wrapper is meant to cost next to nothing beside the legacy's own work
(``scripts/bench`` measures it against ``lean_batch.py``, the legacy in a
plain loop): the complete lines of a chunk are decoded from UTF-8 at once,
each request is parsed with json's C scanner directly, and each answer is
formatted around the C encoder's output with the request's id encoded once,
with no response dict built. Strict JSON both ways: ``NaN`` and
``Infinity`` are refused in requests and never written. Any request line
the fast path does not take (leading whitespace, invalid UTF-8, anything
that is not ``{"id": ..., "input": ...}``) goes through ``json.loads`` as
before, so a bad line gets the same ``ProtocolError`` answer it always did.
Standard library only.
"""

import json
import os
import sys
from json.encoder import encode_basestring_ascii

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from normalize import normalize  # noqa: E402

CHUNK = 1 << 16


def refuse_constant(name):
    raise ValueError("%s is not JSON" % name)


DECODER = json.JSONDecoder(parse_constant=refuse_constant)
SCAN = json.scanner.make_scanner(DECODER)
ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def protocol_error(exc):
    """The answer to a request line the protocol does not allow."""
    message = "bad request line: %s" % exc
    return ENCODE({"id": None, "error": {"type": "ProtocolError", "message": message}}) + "\n"


def parse_slowly(line):
    """Parses a request line the careful way; returns (id, input) or raises."""
    request = DECODER.decode(line if isinstance(line, str) else line.decode("utf-8"))
    return request["id"], request["input"]


def answer_error(request_id, exc):
    """The response line for a request whose answer raised `exc`."""
    error = {"type": type(exc).__name__, "message": str(exc)}
    try:
        return ENCODE({"id": request_id, "error": error}) + "\n"
    except Exception as unencodable:  # an id JSON cannot carry
        return protocol_error(unencodable)


def answer_slowly(line):
    """The response line for a request line the fast path did not take ("" if blank)."""
    if not line.strip():
        return ""
    try:
        request_id, payload = parse_slowly(line)
    except Exception as exc:  # a request the protocol does not allow
        return protocol_error(exc)
    try:
        return '{"id":%s,"output":%s}\n' % (ENCODE(request_id), ENCODE(normalize(payload)))
    except Exception as exc:  # the legacy code raised: report it, keep serving
        return answer_error(request_id, exc)


def answer_lines(text):
    """Response lines (one str) for complete request lines (str, "\n"-separated)."""
    out = []
    append = out.append
    for line in text.split("\n"):
        try:
            request, end = SCAN(line, 0)
            request_id = request["id"]
            payload = request["input"]
            if end != len(line) and line[end:].strip():
                raise ValueError("extra data")
            head = encode_basestring_ascii(request_id) if type(request_id) is str else ENCODE(request_id)
        except Exception:  # not the plain shape: the careful path says why
            append(answer_slowly(line))
            continue
        try:
            append('{"id":%s,"output":%s}\n' % (head, ENCODE(normalize(payload))))
        except Exception as exc:  # the legacy code raised: report it, keep serving
            append(answer_error(request_id, exc))
    return "".join(out)


def answer_chunk(complete):
    """Response bytes for a run of complete request lines (bytes, no final newline)."""
    try:
        text = complete.decode("utf-8")
    except UnicodeDecodeError:  # answer the good lines, refuse the bad ones
        out = []
        for raw in complete.split(b"\n"):
            try:
                out.append(answer_lines(raw.decode("utf-8")))
            except UnicodeDecodeError as exc:
                out.append(protocol_error(exc))
        return "".join(out).encode()
    return answer_lines(text).encode()


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def main():
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    pending = b""
    while True:
        chunk = os.read(stdin, CHUNK)
        if not chunk:
            break
        pending += chunk
        cut = pending.rfind(b"\n")
        if cut < 0:
            continue
        out = answer_chunk(pending[:cut])
        pending = pending[cut + 1:]
        write_all(stdout, out)
    if pending.strip():  # a last request without its newline
        write_all(stdout, answer_chunk(pending))


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
