"""The control endpoint, /_emulator/ on the emulator's port: JSON over HTTP,
no signature.  Tests, benchmarks and the quickstart use it; the product
never does.  The contract (documented in ../README.md):

  POST   faults            {fault fields} -> {"id": ...}
  GET    faults            -> [faults with their seen/hits counters]
  DELETE faults            clears them -> {"cleared": N}
  POST   clock/advance     {"seconds": N} -> {"now": epoch, "offset": seconds}
  GET    clock             -> {"now": epoch, "offset": seconds}
  POST   streams/split     {"stream_arn": ..., "shard_id": optional,
                            "children": 2 (default) or 1 (a plain rollover)}
                           -> {"closed": [...], "created": [...]}
  POST   firehose/flush    {"delivery_stream": optional} -> {"objects": [keys]}
  GET    requests?service=&operation=  -> recent requests, oldest first
  POST   config            {settings} -> the whole configuration
  GET    config            -> the whole configuration
  POST   reset             {} -> {"reset": true}
  GET    health            -> {"ok": true}

Errors are {"error": "message"} with status 400 (bad input) or 404.
"""
import base64
import json
from urllib.parse import parse_qsl

from .core import AwsError
from .faults import FaultError


def json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def handle(emu, method, path, raw_query, body):
    """(status, JSON-able result) of a control request."""
    path = path.strip("/")
    try:
        args = json.loads(body) if body.strip() else {}
    except ValueError as e:
        return 400, {"error": "malformed JSON: %s" % e}
    if not isinstance(args, dict):
        return 400, {"error": "the body must be a JSON object"}
    query = dict(parse_qsl(raw_query))
    try:
        return 200, _route(emu, method, path, args, query)
    except (FaultError, ValueError, TypeError, KeyError) as e:
        return 400, {"error": str(e)}
    except AwsError as e:
        return 400, {"error": e.message, "code": e.code}
    except LookupError as e:
        return 404, {"error": str(e)}


def _route(emu, method, path, args, query):
    if path == "faults":
        if method == "POST":
            return {"id": emu.faults.add(args).id}
        if method == "DELETE":
            n = len(emu.faults.list())
            emu.faults.clear()
            return {"cleared": n}
        if method == "GET":
            return emu.faults.list()
    elif path == "clock/advance" and method == "POST":
        emu.clock.advance(float(args["seconds"]))
        return {"now": emu.clock.now(), "offset": emu.clock.offset}
    elif path == "clock" and method == "GET":
        return {"now": emu.clock.now(), "offset": emu.clock.offset}
    elif path == "streams/split" and method == "POST":
        svc = emu.service("dynamodbstreams")
        with svc.lock:
            return svc.split(args["stream_arn"], args.get("shard_id"),
                             int(args.get("children", 2)))
    elif path == "firehose/flush" and method == "POST":
        svc = emu.service("firehose")
        with svc.lock:
            return {"objects": svc.flush(args.get("delivery_stream"))}
    elif path == "requests" and method == "GET":
        return emu.recent_requests(query.get("service"), query.get("operation"),
                                   int(query.get("since", 0)))
    elif path == "requests/mark" and method == "GET":
        return {"seq": emu.request_mark()}
    elif path == "config":
        if method == "POST":
            return emu.configure(args)
        if method == "GET":
            return dict(emu.config)
    elif path == "reset" and method == "POST":
        emu.reset()
        return {"reset": True}
    elif path == "health" and method == "GET":
        return {"ok": True}
    raise LookupError("no control operation %s /_emulator/%s" % (method, path))
