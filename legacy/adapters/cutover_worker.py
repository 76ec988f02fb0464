#!/usr/bin/env python3
"""Serve one Python function as a cutover worker, in one command line.

    worker:python3 legacy/adapters/cutover_worker.py package.module:function
    worker:python3 legacy/adapters/cutover_worker.py path/to/file.py:Class.method

Owns: importing the function, and speaking the worker protocol
(``legacy/PROTOCOL.md``) on its behalf. Standard library only.

Input constraints
    The one argument is ``MODULE:ATTRIBUTE``. ``MODULE`` is either a dotted
    module name, imported with importlib from ``sys.path``, which starts with
    the current directory (cutover's working directory), then ``PYTHONPATH``,
    then the usual entries; or a path to a ``.py`` file, imported as a
    top-level module named after the file, with the file's directory first on
    ``sys.path`` so that its imports of its siblings work (as running the file
    would). ``ATTRIBUTE`` is a dotted path inside the module: ``function`` or
    ``Class.method``. It must be callable; it is called with one argument,
    the request's ``input`` as ``json.loads`` gives it, once per request, in
    the order the requests arrive, one at a time. Python functions are called
    synchronously: for an ``async def``, name a function that runs it.

Output guarantees
    - Exactly one response per request, with the request's ``id``:
      ``{"id", "output"}`` holding the return value as JSON, or ``{"id",
      "error": {"type", "message"}}`` when the function raises an
      ``Exception``: ``type`` is the exception's class name and ``message``
      ``str(exception)``, as ``legacy/worker.py`` reports them.
    - Pipelined and batched: the adapter reads whatever input is available
      (``os.read``), answers every complete line of it, and writes all those
      answers with one write; it never waits for more input before answering
      what it has read.
    - Nothing but responses reaches the protocol stream. At start-up, before
      the module is imported, the adapter keeps a private duplicate of fd 1
      for the protocol and points fd 1, ``sys.stdout`` and ``print`` at
      stderr, so a function's own output (``print``, ``sys.stdout.write``,
      ``os.write(1, ...)``, C extensions, child processes inheriting stdout)
      goes to stderr, which cutover keeps as the worker's log (``-vv`` shows
      it). Likewise fd 0 and ``sys.stdin`` become ``/dev/null``: the function
      cannot read the requests.

Error semantics
    - A function that cannot be imported, found or called is a start-up
      failure: a message naming the argument and the cause on stderr (its
      last line), exit status 2, before any request is read. cutover then
      reports that the worker cannot start, quoting that stderr.
    - A return value JSON cannot carry (a set, an arbitrary object, NaN or
      infinity, a circular structure, a string with a lone surrogate) is
      that record's error, type ``cutover.bad_output``, saying why. A lone
      surrogate in an error message becomes U+FFFD.
    - A request line that is not a protocol request is answered with a
      ``ProtocolError`` response, as ``legacy/worker.py`` does (cutover counts
      it as a protocol error).
    - ``SystemExit`` or ``KeyboardInterrupt`` raised by the function ends the
      worker, as they would end the old program; cutover restarts it and
      retries, then answers ``cutover.worker_died``.

Non-goals
    Concurrency inside one worker (cutover runs ``--workers`` processes),
    awaiting coroutines, state carried between requests, reloading code.
"""

import importlib
import importlib.util
import json
import os
import re
import sys
import traceback

CHUNK = 1 << 16
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
PROG = "cutover_worker.py"
USAGE = """usage: python3 %s MODULE:ATTRIBUTE

Serves MODULE's ATTRIBUTE (a function, or Class.method) as a cutover worker:
  --legacy "worker:python3 legacy/adapters/%s package.module:function"
  --legacy "worker:python3 legacy/adapters/%s path/to/file.py:function"
A dotted MODULE is imported from the current directory, then PYTHONPATH; a
.py file is imported with its directory first on sys.path. See the module
docstring for the contract.
""" % (PROG, PROG, PROG)


class StartupError(Exception):
    """The function cannot be served; the message says why and what to do."""


def claim_stdio():
    """Keeps fds 0 and 1 for the protocol; points the process's own at /dev/null and stderr.

    Returns the (input, output) file descriptors of the protocol.
    """
    sys.stdout.flush()
    protocol_in = os.dup(0)
    protocol_out = os.dup(1)  # os.dup's copies are not inherited by child processes
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    return protocol_in, protocol_out


def import_file(path):
    """Imports a .py file as a top-level module named after it, its directory first on sys.path."""
    if not os.path.isfile(path):
        raise StartupError("%s is not a file (give a dotted module name, or the path of a .py file)" % path)
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier():
        raise StartupError("%s: %r is not a Python module name; rename the file" % (path, name))
    if name in sys.modules:
        raise StartupError(
            "%s: a module named %r is already imported (from %s); rename the file or use a dotted module name"
            % (path, name, getattr(sys.modules[name], "__file__", "built in")))
    path = os.path.abspath(path)
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def resolve(target):
    """The callable `target` (MODULE:ATTRIBUTE) names, or StartupError."""
    module_name, colon, attribute = target.rpartition(":")
    if not colon or not module_name or not attribute:
        raise StartupError("%r is not MODULE:ATTRIBUTE (e.g. package.module:function)" % target)
    # Running this file put its own directory first on sys.path; the
    # function's home is cutover's working directory instead.
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and sys.path[0] == here:
        sys.path[0] = os.getcwd()
    else:
        sys.path.insert(0, os.getcwd())
    is_file = module_name.endswith(".py") or os.sep in module_name
    try:
        module = import_file(module_name) if is_file else importlib.import_module(module_name)
    except StartupError:
        raise
    except (Exception, SystemExit) as exc:
        missing = isinstance(exc, ModuleNotFoundError) and exc.name is not None and (
            module_name == exc.name or module_name.startswith(exc.name + "."))
        if not missing:  # the module itself failed: its traceback says where
            traceback.print_exc()
        hint = "; the current directory (%s) and PYTHONPATH are searched" % os.getcwd() if missing else ""
        raise StartupError("cannot import %s: %s: %s%s" % (module_name, type(exc).__name__, exc, hint)) from None
    value = module
    walked = module_name
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise StartupError("%s has no attribute %r" % (walked, part)) from None
        walked += (":" if walked == module_name else ".") + part
    if not callable(value):
        raise StartupError("%s is a %s, not a function" % (target, type(value).__name__))
    return value


def message_of(exc):
    try:
        return str(exc)
    except Exception as inner:  # an exception whose __str__ fails
        return "<str() of the %s raised %s>" % (type(exc).__name__, type(inner).__name__)


def answerer(function):
    """A function turning one request line (bytes) into its response line (bytes, newline included)."""
    loads = json.loads
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode

    def error_line(request_id, kind, message):
        text = encode({"id": request_id, "error": {"type": kind, "message": message}}) + "\n"
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot carry
            return LONE_SURROGATE.sub("\ufffd", text).encode()

    def bad_output(request_id, exc):
        if isinstance(exc, UnicodeEncodeError):
            why = "a string holds a lone surrogate (U+%04X), which JSON text cannot carry" % ord(
                exc.object[exc.start])
        else:
            why = "%s: %s" % (type(exc).__name__, message_of(exc))
        return error_line(request_id, "cutover.bad_output", "the function's result is not JSON: " + why)

    def answer(line):
        try:
            request = loads(line)
            request_id = request["id"]
            payload = request["input"]
            if type(request_id) is not str:
                raise TypeError("id is %s, not a string" % type(request_id).__name__)
        except Exception as exc:  # cutover never sends this; say so loudly
            print("%s: bad request line (%s): %.200r" % (PROG, exc, line), file=sys.stderr)
            return error_line(None, "ProtocolError", "bad request line: %s" % exc)
        try:
            result = function(payload)
        except Exception as exc:  # the function raised: that is this record's answer
            return error_line(request_id, type(exc).__name__, message_of(exc))
        try:
            return ('{"id":%s,"output":%s}\n' % (encode(request_id), encode(result))).encode()
        except Exception as exc:
            return bad_output(request_id, exc)

    return answer


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(function, fd_in, fd_out):
    """Answers requests from fd_in on fd_out until fd_in ends."""
    answer = answerer(function)
    partial = []  # bytes of the line being read, when it spans reads
    while True:
        chunk = os.read(fd_in, CHUNK)
        if not chunk:
            break
        end = chunk.rfind(b"\n")
        if end < 0:
            partial.append(chunk)
            continue
        if partial:
            partial.append(chunk)
            chunk = b"".join(partial)
            end = chunk.rfind(b"\n")
            partial = []
        if end + 1 < len(chunk):
            partial.append(chunk[end + 1:])
        lines = chunk[:end].split(b"\n")
        write_all(fd_out, b"".join([answer(line) for line in lines if line and not line.isspace()]))
    rest = b"".join(partial)
    if rest and not rest.isspace():  # a last request without its newline
        write_all(fd_out, answer(rest))


def main(argv):
    if len(argv) == 1 and argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    if len(argv) != 1:
        sys.stderr.write("%s: expected one argument, MODULE:ATTRIBUTE, got %d\n%s" % (PROG, len(argv), USAGE))
        return 2
    try:
        fd_in, fd_out = claim_stdio()
    except OSError as exc:
        print("%s: stdin and stdout must be open (cutover pipes them): %s" % (PROG, exc), file=sys.stderr)
        return 2
    try:
        function = resolve(argv[0])
    except StartupError as exc:
        print("%s: cannot serve %s: %s" % (PROG, argv[0], exc), file=sys.stderr)
        return 2
    try:
        serve(function, fd_in, fd_out)
    except BrokenPipeError:  # cutover stopped reading: it is done with this worker
        pass
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
