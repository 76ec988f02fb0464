#!/usr/bin/env python3
"""The legacy `normalize` as a small REST service (the worked HTTP migration).

    python3 legacy/http_service.py --port 8001
    python3 legacy/http_service.py --port 0            # a free port, printed
    python3 legacy/http_service.py --port 0 --fixed-date "Wed, 25 Nov 2026 12:00:00 GMT"

Binds 127.0.0.1 and prints one line, ``listening on http://127.0.0.1:PORT``, to
stdout (flushed) once it accepts connections; nothing else goes to stdout and
requests are not logged, nor are clients that reset their connection (stderr
carries only real errors). It serves until killed. Standard library only: a
``ThreadingHTTPServer`` (one daemon thread per connection) speaking HTTP/1.1
with keep-alive, ``TCP_NODELAY`` on every accepted socket and a listen backlog
of 1024. The logic is ``legacy/normalize.py``, imported, never copied.

``--fixed-date`` answers every ``Date`` header with that HTTP date instead of
the clock. Only ``fixtures/http/generate.py`` uses it, so the capture it
records is byte-stable; a real run leaves it off.

Routes (the README's "A worked HTTP migration" lists them with examples):

- ``GET /health``: ``{"status": "ok"}``.
- ``POST /normalize``: ``application/json`` body, the legacy input
  (``{"items": [...]}``), or a ``text/plain`` body, one item per ``\\n``-separated
  line. 200 with the legacy output; 422 ``{"error": {"type", "message"}}`` with
  the exception the legacy raised; 400 for a body that is not JSON (or not
  UTF-8 text); 415 for another content type.
- ``GET /normalize?item=A&item=B``: the items are the ``item`` query
  parameters, in order (form decoding: ``+`` is a space, ``%XX`` a byte).
- ``GET /items?owner=U&limit=N&offset=M``: the fixture store
  (``fixtures/http/store.json``), filtered by owner, paged (limit 0..50,
  default 10; offset 0..9999, default 0).
- ``GET /items/{id}[?fields=a,b]``: one item, its labels normalized (the
  accepted ones); ``etag`` ``"ID-VERSION"``; ``if-none-match`` gives 304.
- ``PUT /items/{id}``: needs ``authorization: Bearer <token>`` (any non-empty
  token), an ``application/json`` body ``{"name": str, "labels": [...]}``;
  answers the item as it would be (200, or 201 with ``location`` for a new id)
  with its next version; ``if-match`` must name the current etag (else 412).
- ``DELETE /items/{id}``: same authorization; 204, 404 for an unknown id, 412
  for a failed ``if-match``.

Common to every route: the body is JSON (``application/json``) or, when
``accept`` prefers it, ``text/plain; charset=utf-8`` with one ``key=JSON`` line
per top-level key; an ``accept`` naming neither gives 406. ``x-request-id`` is
echoed. A successful ``GET`` is ``cache-control: max-age=60``, everything else
``no-store``. An unknown path is 404, a known path with another method 405 with
``allow``. JSON is written compact, keys sorted, non-ASCII as UTF-8.

State: the store is read once per process and never changes. ``PUT`` and
``DELETE`` answer what they would do without doing it, so every answer depends
on its request alone, never on which requests came first: a capture replayed
concurrently, in any order, gets the same answers.

Bounds: a body must come with ``content-length`` (chunked: 411) and be at most
1 MiB (413); both close the connection, before routing.

Non-goals: methods
other than GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS and TRACE (501, as
``http.server`` answers them), JSON that only Python reads (``NaN``, lone
surrogates, numbers past 64 bits, nesting past 128: the Rust replacement
rejects or reads them differently; the bundled capture has none).
"""

import argparse
import datetime
import email.utils
import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from normalize import normalize  # noqa: E402

STORE_PATH = os.path.join(HERE, "..", "fixtures", "http", "store.json")
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
NO_STORE = [("cache-control", "no-store")]
CACHEABLE = [("cache-control", "max-age=60")]
FIELDS = ("id", "labels", "name", "owner", "version")
MAX_BODY = 1 << 20  # bytes; a longer body is refused (413) before it is read


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def render(obj, kind):
    """The body bytes of an answer object in the negotiated format."""
    if kind == "text":
        return "".join("%s=%s\n" % (key, dumps(obj[key])) for key in sorted(obj)).encode()
    return dumps(obj).encode()


def error(status, kind, message, headers=NO_STORE):
    return status, {"error": {"type": kind, "message": message}}, headers


def load_store():
    with open(STORE_PATH, encoding="utf-8") as f:
        return {item["id"]: item for item in json.load(f)}


STORE = load_store()


class Request:
    """What a route handler sees: the route argument, query pairs, headers, body."""

    def __init__(self, arg, query, headers, body):
        self.arg = arg
        self.pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        self.headers = headers
        self.body = body

    def param(self, name):
        """The first value of a query parameter, or None."""
        return next((value for key, value in self.pairs if key == name), None)

    def header(self, name):
        """The first value of a header, or None."""
        values = self.headers.get_all(name)
        return values[0] if values else None

    def header_all(self, name):
        return self.headers.get_all(name)


def media_type(value):
    """`type/subtype` of a content-type value, ASCII-lower-cased; None if absent or not ASCII."""
    if value is None or not value.isascii():
        return None
    return value.split(";")[0].strip(" \t").lower()


def negotiate(values):
    """"json", "text" or None (406) for the accept header values, first acceptable range wins."""
    if values is None:
        return "json"
    for value in values:
        if not value.isascii():
            continue
        for part in value.split(","):
            media = media_type(part)
            if media in ("application/json", "application/*", "*/*"):
                return "json"
            if media in ("text/plain", "text/*"):
                return "text"
    return None


def whole_number(text, maximum, digits):
    """An ASCII decimal of at most `digits` digits and at most `maximum`, else None."""
    if text.isascii() and text.isdigit() and len(text) <= digits and int(text) <= maximum:
        return int(text)
    return None


def etag(item_id, version):
    return '"%d-%d"' % (item_id, version)


def tag_matches(values, tag):
    """Whether if-match / if-none-match header values name `tag` (or `*`); weak tags compare equal."""
    for value in values:
        for token in value.split(","):
            token = token.strip(" \t")
            if token == "*" or token.removeprefix("W/") == tag:
                return True
    return False


def view(item):
    return {"id": item["id"], "labels": normalize({"items": item["labels"]})["accepted"],
            "name": item["name"], "owner": item["owner"], "version": item["version"]}


def authorized(req):
    value = req.header("authorization")
    return value is not None and value.startswith("Bearer ") and value[7:].strip(" \t") != ""


def unauthorized():
    return error(401, "Unauthorized", "a bearer token is required",
                 [("www-authenticate", "Bearer"), ("cache-control", "no-store")])


def parse_id(req):
    return whole_number(req.arg, 999999, 6)


def bad_id():
    return error(400, "BadRequest", "item id must be a whole number")


def run_normalize(payload, headers):
    try:
        result = normalize(payload)
    except Exception as exc:  # the legacy raised: say what, as the worker does
        return error(422, type(exc).__name__, str(exc))
    return 200, result, headers


def health(req):
    return 200, {"status": "ok"}, NO_STORE


def normalize_get(req):
    return run_normalize({"items": [value for key, value in req.pairs if key == "item"]}, CACHEABLE)


def normalize_post(req):
    media = media_type(req.header("content-type"))
    if media == "application/json":
        try:
            payload = json.loads(req.body)
        except (ValueError, RecursionError):
            return error(400, "BadRequest", "body is not valid JSON")
    elif media == "text/plain":
        try:
            payload = {"items": req.body.decode("utf-8").split("\n")}
        except UnicodeDecodeError:
            return error(400, "BadRequest", "body is not valid UTF-8")
    else:
        return error(415, "UnsupportedMediaType", "content-type must be application/json or text/plain")
    return run_normalize(payload, NO_STORE)


def number_param(req, name, default, maximum):
    """(value, None) for a paging parameter, or (None, the 400 answer)."""
    text = req.param(name)
    value = default if text is None else whole_number(text, maximum, 4)
    if value is None:
        return None, error(400, "BadRequest", "%s must be a whole number from 0 to %d" % (name, maximum))
    return value, None


def list_items(req):
    limit, refused = number_param(req, "limit", 10, 50)
    if refused:
        return refused
    offset, refused = number_param(req, "offset", 0, 9999)
    if refused:
        return refused
    owner = req.param("owner")
    chosen = [STORE[key] for key in sorted(STORE) if owner is None or STORE[key]["owner"] == owner]
    page = [view(item) for item in chosen[offset:offset + limit]]
    return 200, {"items": page, "limit": limit, "offset": offset, "total": len(chosen)}, CACHEABLE


def get_item(req):
    item_id = parse_id(req)
    if item_id is None:
        return bad_id()
    item = STORE.get(item_id)
    if item is None:
        return error(404, "NotFound", "no such item")
    shown = view(item)
    fields = req.param("fields")
    if fields is not None:
        names = [name for name in fields.split(",") if name]
        if not names or any(name not in FIELDS for name in names):
            return error(400, "BadRequest", "fields must name some of: " + ", ".join(FIELDS))
        shown = {name: shown[name] for name in names}
    tag = etag(item_id, item["version"])
    headers = [("etag", tag)] + CACHEABLE
    if_none_match = req.header_all("if-none-match")
    if if_none_match is not None and tag_matches(if_none_match, tag):
        return 304, None, headers
    return 200, shown, headers


def write_target(req):
    """(item id, None) for a PUT or DELETE, or (None, the 401 or 400 answer)."""
    if not authorized(req):
        return None, unauthorized()
    item_id = parse_id(req)
    if item_id is None:
        return None, bad_id()
    return item_id, None


def precondition_failed(req, item_id, current):
    """Whether an `if-match` is present and does not name the current item's etag."""
    if_match = req.header_all("if-match")
    return if_match is not None and (current is None or not tag_matches(if_match, etag(item_id, current["version"])))


def put_item(req):
    item_id, refused = write_target(req)
    if refused:
        return refused
    if media_type(req.header("content-type")) != "application/json":
        return error(415, "UnsupportedMediaType", "content-type must be application/json")
    try:
        payload = json.loads(req.body)
    except (ValueError, RecursionError):
        return error(400, "BadRequest", "body is not valid JSON")
    if not isinstance(payload, dict):
        return error(422, "ValidationError", "body must be a JSON object")
    name = payload.get("name")
    if not isinstance(name, str):
        return error(422, "ValidationError", "name must be a string")
    labels = payload.get("labels")
    if not isinstance(labels, list):
        return error(422, "ValidationError", "labels must be a list")
    try:
        accepted = normalize({"items": labels})["accepted"]
    except Exception as exc:  # a label the legacy cannot strip
        return error(422, type(exc).__name__, str(exc))
    current = STORE.get(item_id)
    if precondition_failed(req, item_id, current):
        return error(412, "PreconditionFailed", "if-match does not name the current etag")
    version = current["version"] + 1 if current else 1
    shown = {"id": item_id, "labels": accepted, "name": name,
             "owner": current["owner"] if current else None, "version": version}
    headers = [("etag", etag(item_id, version))] + NO_STORE
    if current is None:
        return 201, shown, headers + [("location", "/items/%d" % item_id)]
    return 200, shown, headers


def delete_item(req):
    item_id, refused = write_target(req)
    if refused:
        return refused
    current = STORE.get(item_id)
    if current is None:
        return error(404, "NotFound", "no such item")
    if precondition_failed(req, item_id, current):
        return error(412, "PreconditionFailed", "if-match does not name the current etag")
    return 204, None, NO_STORE


# Exact paths, then the one parameterised path; methods in the order `allow` lists them.
ROUTES = {
    "/health": {"GET": health},
    "/normalize": {"GET": normalize_get, "POST": normalize_post},
    "/items": {"GET": list_items},
}
ITEM_ROUTE = {"GET": get_item, "PUT": put_item, "DELETE": delete_item}


def route(path):
    """(methods, argument) for a raw (still percent-encoded) path, or (None, None)."""
    if path in ROUTES:
        return ROUTES[path], None
    rest = path.removeprefix("/items/")
    if rest != path and rest and "/" not in rest:
        return ITEM_ROUTE, rest
    return None, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY on the accepted socket (StreamRequestHandler)
    fixed_date = None

    def version_string(self):
        return "legacy-normalize/1.0"

    def date_time_string(self, timestamp=None):
        return self.fixed_date or super().date_time_string(timestamp)

    def log_message(self, *args):
        pass

    def answer(self, method):
        """(kind, (status, object or None, headers)) for the request; kind is "json" or "text"."""
        if "transfer-encoding" in self.headers:
            self.close_connection = True
            return "json", error(411, "LengthRequired", "send the body with content-length")
        length = self.headers.get("content-length", "0")
        if not (length.isascii() and length.isdigit()):
            self.close_connection = True
            return "json", error(400, "BadRequest", "content-length must be a whole number")
        if int(length) > MAX_BODY:
            self.close_connection = True
            return "json", error(413, "PayloadTooLarge", "the body must be at most %d bytes" % MAX_BODY)
        body = self.rfile.read(int(length))
        path, _, query = self.path.partition("?")
        methods, arg = route(path)
        if methods is None:
            return "json", error(404, "NotFound", "no route for this path")
        handler = methods.get("GET" if method == "HEAD" else method)
        if handler is None:
            allow = ", ".join(methods)
            return "json", error(405, "MethodNotAllowed", "this path allows " + allow,
                                 [("allow", allow), ("cache-control", "no-store")])
        kind = negotiate(self.headers.get_all("accept"))
        if kind is None:
            return "json", error(406, "NotAcceptable", "accept must allow application/json or text/plain")
        return kind, handler(Request(arg, query, self.headers, body))

    def dispatch(self, method):
        try:
            kind, (status, obj, headers) = self.answer(method)
        except Exception:  # a bug here must not kill the connection silently
            self.close_connection = True
            kind, (status, obj, headers) = "json", error(500, "InternalServerError", "unexpected error")
        self.send_response(status)
        if obj is not None:
            data = render(obj, kind)
            self.send_header("content-type", TEXT_TYPE if kind == "text" else JSON_TYPE)
            self.send_header("content-length", str(len(data)))
        request_id = self.headers.get_all("x-request-id")
        if request_id:
            self.send_header("x-request-id", request_id[0])
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if obj is not None and method != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_OPTIONS(self):
        self.dispatch("OPTIONS")

    def do_TRACE(self):
        self.dispatch("TRACE")


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a kept-alive connection never holds up exit
    request_queue_size = 1024  # the listen backlog (socketserver's default is 5)
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """A client gone mid-exchange (reset, broken pipe) is routine: a load generator
        resets its connections when it stops. Anything else is printed as socketserver does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description="The legacy normalize as an HTTP service on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on; 0 picks a free one (default 8001)")
    parser.add_argument("--fixed-date", metavar="HTTP_DATE",
                        help="answer every Date header with this date, e.g. 'Wed, 25 Nov 2026 12:00:00 GMT' "
                             "(for byte-stable recordings; default: the clock)")
    args = parser.parse_args()
    if args.fixed_date is not None:
        try:
            when = email.utils.parsedate_to_datetime(args.fixed_date)
        except (TypeError, ValueError):
            when = None
        if when is None or when.tzinfo is None:
            parser.error("--fixed-date %r is not an HTTP date such as 'Wed, 25 Nov 2026 12:00:00 GMT'"
                         % args.fixed_date)
        Handler.fixed_date = email.utils.format_datetime(when.astimezone(datetime.timezone.utc),
                                                         usegmt=True)
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as exc:
        sys.exit("http_service.py: cannot listen on 127.0.0.1:%d: %s" % (args.port, exc.strerror or exc))
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
