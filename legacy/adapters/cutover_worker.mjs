#!/usr/bin/env node
// Serve one exported JavaScript function as a cutover worker, in one command line.
//
//     worker:node legacy/adapters/cutover_worker.mjs path/to/file.mjs#name
//     worker:node legacy/adapters/cutover_worker.mjs path/to/file.mjs        (the default export)
//
// Owns: importing the function, and speaking the worker protocol
// (legacy/PROTOCOL.md) on its behalf. Node.js 18 or later, standard library only.
//
// Input constraints
//   The one argument is FILE#NAME. FILE is a path, relative to the current
//   directory (cutover's working directory), of a module `import()` can load
//   (ES module, or CommonJS whose module.exports is the default export). The
//   argument is split at its last `#`; without one, the default export is
//   served (so a FILE whose path holds a `#` needs an explicit `#default`).
//   NAME is an export, or a dotted path into one (`obj.method`, called with
//   `this` = `obj`). It must be a function; it is called with one argument,
//   the request's `input` as JSON.parse gives it (numbers are doubles), in
//   the order the requests arrive. It may be synchronous or return a promise
//   (any thenable), which is awaited; promised calls run concurrently.
//
// Output guarantees
//   - Exactly one response per request, with the request's id: {"id", "output"}
//     holding the result as JSON.stringify writes it (so `undefined`
//     properties are dropped, `toJSON` is honoured, NaN and Infinity become
//     null, as a JavaScript service sending JSON.stringify's text did; a result
//     of `undefined` is `null`), or {"id", "error": {"type", "message"}} when
//     the function throws or its promise rejects (see Error semantics).
//     Answers of promised calls come when they settle, so not in request
//     order; cutover matches them by id.
//   - Pipelined and batched: every complete line of a read is handled before
//     anything is written; the answers ready then (all of them, for a
//     synchronous function) go out in one write, and answers settling later
//     are gathered and written together once the event loop turns. Requests
//     are read with blocking reads until a call returns a promise, then as a
//     stream (so promises settle while the adapter waits for input).
//   - Nothing but responses reaches the protocol stream: responses are written
//     on a descriptor of their own (on a pipe, /dev/fd/1 opened anew) set up
//     before the module is imported; `process.stdout` is replaced by `process.stderr`
//     and every `console` method writes to stderr, which cutover keeps as the
//     worker's log (-vv shows it). `process.stdin` is an empty stream: the
//     function cannot read the requests. Limit: Node cannot re-point fd 1
//     itself, so a native addon or a child process spawned with inherited
//     stdio that writes straight to fd 1 still corrupts the stream (give such
//     a child `stdio: ['ignore', 2, 2]`); the Python adapter has no such limit.
//
// Error semantics
//   - A thrown Error (or error-like object with a string `message`): type is
//     its `name`, unless that is the generic "Error" inherited by a subclass,
//     then its constructor's name (`class QuotaError extends Error {}` reports
//     "QuotaError"); message is its `message`. Any other thrown value: type is
//     its constructor's name for an object, else its typeof ("string",
//     "number", "undefined", ...), or "null"; message is the value as JSON for
//     an object, else String(value).
//   - A result JSON cannot carry (a BigInt, a circular structure, a function,
//     a string with a lone surrogate) is that record's error, type
//     `cutover.bad_output`, saying why. A lone surrogate in an error message
//     becomes U+FFFD.
//   - A module that cannot be imported, or a NAME that is missing or not a
//     function, is a start-up failure: a message on stderr (its last line),
//     exit status 2, before any request is read; cutover then reports that the
//     worker cannot start, quoting that stderr.
//   - A request line that is not a protocol request is answered with a
//     ProtocolError response with id null (cutover counts a protocol error).
//   - A promise rejection nobody handles is logged on stderr and the worker
//     goes on; an exception thrown outside any call (a timer's callback) ends
//     the worker, as it would end the old program: cutover restarts it.
//
// Non-goals
//   Limiting concurrency inside one worker (cutover bounds calls in flight),
//   worker threads, state carried between requests, reloading code.

import fs from "node:fs";
import path from "node:path";
import { Console } from "node:console";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";

const PROG = "cutover_worker.mjs";
const CHUNK = 1 << 16;
const USAGE = `usage: node ${PROG} FILE#NAME

Serves the function NAME exported by FILE (the default export without #NAME)
as a cutover worker:
  --candidate "worker:node legacy/adapters/${PROG} lib/normalize.mjs#normalize"
FILE is relative to the current directory. See the comment at the top of
${PROG} for the contract.
`;

class StartupError extends Error {}

/**
 * Keeps fds 0 and 1 for the protocol; the process's own stdin/stdout become
 * empty/stderr. Returns the protocol's output fd, and a function creating
 * the stream of fd 0 (not created before it is needed: see serve).
 */
function claimStdio() {
  let out = 1;
  try {
    // On a pipe (as cutover runs it), a new open file description of it: the
    // protocol's writes stay blocking, apart from anything else done with fd 1.
    // A file or terminal keeps fd 1 itself, so that its offset stays shared.
    if (fs.fstatSync(1).isFIFO()) out = fs.openSync("/dev/fd/1", fs.constants.O_WRONLY);
  } catch {
    // cannot be reopened: fd 1 itself still carries only responses
  }
  const stdinGetter = Object.getOwnPropertyDescriptor(process, "stdin").get; // creates fd 0's stream
  const realStdin = () => stdinGetter.call(process);
  const own = (name, value) =>
    Object.defineProperty(process, name, { value, configurable: true, enumerable: true, writable: true });
  own("stdin", Readable.from([]));
  own("stdout", process.stderr);
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
  for (const key of Object.keys(console)) {
    if (typeof toStderr[key] === "function") console[key] = toStderr[key].bind(toStderr);
  }
  return { realStdin, out };
}

/** The function `target` (FILE#NAME) names, with `this` bound to its parent; or StartupError. */
async function resolveTarget(target) {
  const hash = target.lastIndexOf("#");
  const file = hash < 0 ? target : target.slice(0, hash);
  const name = hash < 0 ? "default" : target.slice(hash + 1);
  if (!file || !name) throw new StartupError(`${JSON.stringify(target)} is not FILE#NAME (e.g. lib/normalize.mjs#normalize)`);
  const full = path.resolve(file);
  if (!fs.existsSync(full)) {
    throw new StartupError(`${file} does not exist (looked for ${full}; FILE is relative to the current directory)`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(full).href);
  } catch (e) {
    process.stderr.write(`${e && e.stack ? e.stack : String(e)}\n`);
    throw new StartupError(`cannot import ${file}: ${describeThrow(e).type}: ${describeThrow(e).message}`);
  }
  const [first, ...rest] = name.split(".");
  if (!(first in mod)) {
    const names = Object.keys(mod).join(", ") || "none";
    const hint = hash < 0 ? "; name one with FILE#NAME" : "";
    throw new StartupError(`${file} has no export named ${JSON.stringify(first)} (its exports: ${names})${hint}`);
  }
  let owner = mod;
  let value = mod[first];
  let walked = `${file}#${first}`;
  for (const part of rest) {
    if (value === null || value === undefined || !(part in Object(value))) {
      throw new StartupError(`${walked} has no property ${JSON.stringify(part)}`);
    }
    owner = value;
    value = value[part];
    walked += `.${part}`;
  }
  if (typeof value !== "function") {
    throw new StartupError(`${walked} is ${value === null ? "null" : `a ${typeof value}`}, not a function`);
  }
  return rest.length ? value.bind(owner) : value;
}

function safeString(value) {
  try {
    return String(value);
  } catch {
    return "<a value String() cannot print>";
  }
}

function constructorName(value) {
  try {
    const name = value.constructor && value.constructor.name;
    return typeof name === "string" ? name : "";
  } catch {
    return "";
  }
}

/** {type, message} for anything `throw` can throw. */
function describeThrow(e) {
  if (e === null) return { type: "null", message: "null" };
  if (typeof e !== "object" && typeof e !== "function") return { type: typeof e, message: safeString(e) };
  const ctor = constructorName(e);
  let name;
  let message;
  try {
    name = e.name;
    message = e.message;
  } catch {
    // a getter that throws: fall back on the constructor
  }
  if (typeof message === "string" || e instanceof Error) {
    const generic = name === "Error" && ctor && ctor !== "Error";
    const type = typeof name === "string" && name && !generic ? name : ctor || "Error";
    return { type, message: message === undefined ? "" : safeString(message) };
  }
  let text;
  try {
    text = JSON.stringify(e);
  } catch {
    // circular or BigInt: String() below
  }
  return { type: ctor || "Object", message: text === undefined ? safeString(e) : text };
}

// A lone surrogate, as JSON.stringify escapes it (paired ones it writes as
// they are): `\udXXX` after an even number of backslashes. cutover cannot
// read such a line (it is not UTF-8 once unescaped).
const LONE_SURROGATE = /(?<!\\)((?:\\\\)*)\\u(d[89a-f][0-9a-f]{2})/g;

function errorLine(id, type, message) {
  return `${JSON.stringify({ id, error: { type, message } })}\n`;
}

function thrownLine(id, e) {
  const { type, message } = describeThrow(e);
  return errorLine(id, type, message);
}

function badOutput(id, why) {
  return errorLine(id, "cutover.bad_output", `the function's result is not JSON: ${why}`);
}

function outputLine(id, value) {
  let text;
  try {
    text = JSON.stringify(value === undefined ? null : value);
  } catch (e) {
    const { type, message } = describeThrow(e);
    return badOutput(id, `${type}: ${message}`);
  }
  if (text === undefined) return badOutput(id, `it is a ${typeof value}`);
  return `{"id":${JSON.stringify(id)},"output":${text}}\n`;
}

/**
 * `line` (a response) as cutover can read it: an output holding a lone
 * surrogate becomes that record's cutover.bad_output error; an error message
 * holding one gets U+FFFD in its place.
 */
function readable(line) {
  if (!line.includes("\\ud")) return line;
  LONE_SURROGATE.lastIndex = 0;
  const lone = LONE_SURROGATE.exec(line);
  if (!lone) return line;
  const response = JSON.parse(line);
  if (!Object.hasOwn(response, "output")) return line.replace(LONE_SURROGATE, "$1\\ufffd");
  const code = lone[2].toUpperCase();
  return badOutput(response.id, `a string holds a lone surrogate (U+${code}), which JSON text cannot carry`);
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd, text) {
  const bytes = Buffer.from(text, "utf8");
  let done = 0;
  while (done < bytes.length) {
    try {
      done += fs.writeSync(fd, bytes, done, bytes.length - done);
    } catch (e) {
      if (e.code === "EAGAIN") {
        Atomics.wait(pause, 0, 0, 1); // a non-blocking fd 1 is full: wait for cutover to read
      } else if (e.code === "EPIPE") {
        process.exit(0); // cutover stopped reading: it is done with this worker
      } else {
        throw e;
      }
    }
  }
}

/**
 * Answers requests from fd 0 on `out` until fd 0 ends. While every call has
 * answered synchronously, fd 0 is read with blocking reads (no event-loop
 * turn per read, the cheapest way); from the first call that returns a
 * promise on (or if fd 0 is non-blocking), it is read as a stream, so the
 * event loop runs and promises settle while the adapter waits for input.
 */
function serve(fn, realStdin, out) {
  const ready = []; // response lines not written yet
  let inFlight = 0; // promised calls not settled yet
  let ended = false;
  let flushQueued = false;
  let partial = []; // bytes of a line that spans reads

  const flush = () => {
    flushQueued = false;
    if (ready.length) {
      let text = ready.join("");
      // One look per write; each line is looked at only when one needs it.
      if (text.includes("\\ud")) text = ready.map(readable).join("");
      writeAll(out, text);
      ready.length = 0;
    }
    if (ended && inFlight === 0) process.exit(0);
  };
  const settled = (line) => {
    ready.push(line);
    inFlight -= 1;
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };

  const handle = (line) => {
    let id;
    let payload;
    try {
      const request = JSON.parse(line);
      id = request.id;
      payload = request.input;
      if (typeof id !== "string") throw new Error(`id is ${id === null ? "null" : typeof id}, not a string`);
      if (!Object.hasOwn(request, "input")) throw new Error("it has no input");
    } catch (e) {
      process.stderr.write(`${PROG}: bad request line (${describeThrow(e).message}): ${JSON.stringify(line.slice(0, 200))}\n`);
      ready.push(errorLine(null, "ProtocolError", `bad request line: ${describeThrow(e).message}`));
      return;
    }
    let result;
    try {
      result = fn(payload);
      if (result !== null && (typeof result === "object" || typeof result === "function") && typeof result.then === "function") {
        inFlight += 1;
        Promise.resolve(result).then(
          (value) => settled(outputLine(id, value)),
          (e) => settled(thrownLine(id, e)),
        );
        return;
      }
    } catch (e) {
      ready.push(thrownLine(id, e));
      return;
    }
    ready.push(outputLine(id, result));
  };

  // `chunk` may be overwritten by the next read: what is kept is copied.
  const onChunk = (chunk) => {
    const end = chunk.lastIndexOf(10);
    if (end < 0) {
      partial.push(Buffer.from(chunk));
      return;
    }
    let text;
    if (partial.length) {
      partial.push(chunk.subarray(0, end));
      text = Buffer.concat(partial).toString("utf8");
    } else {
      text = chunk.toString("utf8", 0, end);
    }
    partial = end + 1 < chunk.length ? [Buffer.from(chunk.subarray(end + 1))] : [];
    for (const line of text.split("\n")) {
      if (line.length !== 0 && (line.charCodeAt(0) === 123 || line.trim())) handle(line); // 123: "{"
    }
    flush();
  };
  const onEnd = () => {
    const rest = Buffer.concat(partial).toString("utf8");
    if (rest.trim()) handle(rest); // a last request without its newline
    ended = true;
    flush();
  };
  const cannotRead = (e) => {
    process.stderr.write(`${PROG}: cannot read requests: ${e.message}\n`);
    process.exit(2);
  };

  const buffer = Buffer.allocUnsafe(CHUNK);
  while (inFlight === 0) {
    let read;
    try {
      read = fs.readSync(0, buffer, 0, CHUNK, null);
    } catch (e) {
      if (e.code === "EAGAIN") break;
      cannotRead(e);
    }
    if (read === 0) return onEnd();
    onChunk(buffer.subarray(0, read));
  }
  const input = realStdin();
  input.on("data", onChunk);
  input.on("end", onEnd);
  input.on("error", cannotRead);
}

async function main(args) {
  if (args.length === 1 && (args[0] === "-h" || args[0] === "--help")) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.length !== 1) {
    process.stderr.write(`${PROG}: expected one argument, FILE#NAME, got ${args.length}\n${USAGE}`);
    process.exit(2);
  }
  const { realStdin, out } = claimStdio();
  let fn;
  try {
    fn = await resolveTarget(args[0]);
  } catch (e) {
    const why = e instanceof StartupError ? e.message : describeThrow(e).message;
    process.stderr.write(`${PROG}: cannot serve ${args[0]}: ${why}\n`);
    process.exit(2);
  }
  process.on("unhandledRejection", (reason) => {
    const { type, message } = describeThrow(reason);
    process.stderr.write(`${PROG}: a promise nobody awaited was rejected (${type}: ${message}); going on\n`);
  });
  serve(fn, realStdin, out);
}

await main(process.argv.slice(2));
