"""Wire formats: requests parsed and validated against botocore's models,
responses and errors serialized per protocol (json, query, rest-xml).

Rules kept here:
  - every input is checked against the operation's input shape the way AWS
    checks it: a value of the wrong JSON type is a SerializationException,
    a missing required member or a length/range violation a
    ValidationException ("N validation error(s) detected: ...", members named
    in lowerCamelCase as AWS names them);
  - output dicts are walked with the output shape: blobs base64, timestamps
    epoch seconds (JSON) or ISO 8601 (XML bodies) or RFC 1123 (headers);
    a key that the shape does not have is a bug in the service and fails
    loudly;
  - shape walks are cached per shape so that the hot paths (GetRecords,
    PutRecordBatch) stay cheap.
"""
import base64
import binascii
import datetime
import email.utils
import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from .core import AwsError, RawJson, to_epoch, iso8601


# --------------------------------------------------------------------------
# validation


def _lower_camel(name):
    return name[:1].lower() + name[1:] if name else name


def _value_repr(value):
    if isinstance(value, (bytes, bytearray)):
        return "java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]" % (len(value), len(value))
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def _render_path(p):
    """A lazily built member path ((parent, segment) pairs) as AWS names it:
    lowerCamel member names, list items as N.member, joined by dots."""
    segs = []
    while p:
        p, seg = p
        segs.append("%d.member" % seg if isinstance(seg, int) else seg)
    return ".".join(reversed(segs))


class InputChecker:
    """Converts a wire-decoded input (JSON types) to the service's form
    (bytes for blobs, datetime for timestamps) and validates it.  Each shape
    is compiled once into a converter function (the hot paths walk hundreds
    of records a call)."""

    def __init__(self, wire_strings=False, validation_code="ValidationException",
                 unchecked_max=()):
        # wire_strings: inputs come from text (query strings, headers): scalars
        # arrive as strings and are converted.
        self.wire_strings = wire_strings
        self.validation_code = validation_code
        self.unchecked_max = frozenset(unchecked_max)
        self._cache = {}

    def check(self, shape, value):
        errors = []
        out = self._compile(shape, top=True)(value, errors, None)
        if errors:
            n = len(errors)
            msg = "%d validation error%s detected: %s" % (
                n, "" if n == 1 else "s", "; ".join(errors))
            raise AwsError(self.validation_code, msg)
        return out

    def _compile(self, shape, top=False):
        key = (shape.name, shape.type_name, top)
        fn = self._cache.get(key)
        if fn is not None:
            return fn
        cell = []
        self._cache[key] = lambda v, e, p: cell[0](v, e, p)     # recursive shapes
        fn = self._build(shape, top)
        cell.append(fn)
        self._cache[key] = fn
        return fn

    def _build(self, shape, top):
        t = shape.type_name
        wire = self.wire_strings
        if t == "structure":
            members = {}
            for name, m in shape.members.items():
                # unchecked_max: the service checks the maximum itself (with
                # the error its API documents); the minimum still applies
                members[name] = (self._compile(m),
                                 _limits_fn(m, skip_max=top and name in self.unchecked_max),
                                 _lower_camel(name), False)
            required = list(shape.required_members)

            def conv(v, e, p):
                if type(v) is not dict:
                    raise _ser_error(shape, v, p)
                for r in required:
                    if v.get(r) is None:
                        e.append("Value null at '%s' failed to satisfy constraint: "
                                 "Member must not be null" % _render_path((p, _lower_camel(r))))
                out = {}
                for k, x in v.items():
                    m = members.get(k)
                    if m is None or x is None:
                        continue
                    c, lim, lname, skip = m
                    sub = (p, lname)
                    y = c(x, e, sub)
                    out[k] = y
                    if lim is not None and not skip:
                        lim(y, e, sub)
                return out
            return conv
        if t == "list":
            mc = self._compile(shape.member)
            mlim = _limits_fn(shape.member)
            plain_strings = shape.member.type_name == "string" and mlim is None and not wire

            def conv(v, e, p):
                if type(v) is not list:
                    raise _ser_error(shape, v, p)
                if plain_strings:
                    for x in v:
                        if type(x) is not str:
                            raise _ser_error(shape.member, x, p)
                    return v
                out = []
                for i, x in enumerate(v, 1):
                    sub = (p, i)
                    y = mc(x, e, sub)
                    if mlim is not None:
                        mlim(y, e, sub)
                    out.append(y)
                return out
            return conv
        if t == "map":
            vc = self._compile(shape.value)
            vlim = _limits_fn(shape.value)

            def conv(v, e, p):
                if type(v) is not dict:
                    raise _ser_error(shape, v, p)
                out = {}
                for k, x in v.items():
                    sub = (p, k)
                    y = vc(x, e, sub)
                    if vlim is not None:
                        vlim(y, e, sub)
                    out[k] = y
                return out
            return conv
        if t == "string":
            def conv(v, e, p):
                if type(v) is not str:
                    raise _ser_error(shape, v, p)
                return v
            return conv
        if t in ("integer", "long"):
            def conv(v, e, p):
                if wire and isinstance(v, str):
                    try:
                        return int(v)
                    except ValueError:
                        raise _ser_error(shape, v, p)
                if type(v) is int:
                    return v
                if type(v) is float and v.is_integer():
                    return int(v)
                raise _ser_error(shape, v, p)
            return conv
        if t in ("double", "float"):
            def conv(v, e, p):
                if wire and isinstance(v, str):
                    try:
                        return float(v)
                    except ValueError:
                        raise _ser_error(shape, v, p)
                if type(v) in (int, float):
                    return v
                raise _ser_error(shape, v, p)
            return conv
        if t == "boolean":
            def conv(v, e, p):
                if wire and isinstance(v, str):
                    if v in ("true", "false"):
                        return v == "true"
                    raise _ser_error(shape, v, p)
                if type(v) is not bool:
                    raise _ser_error(shape, v, p)
                return v
            return conv
        if t == "blob":
            b64 = binascii.a2b_base64

            def conv(v, e, p):
                if isinstance(v, (bytes, bytearray)):
                    return bytes(v)
                if type(v) is not str:
                    raise _ser_error(shape, v, p)
                try:
                    return b64(v, strict_mode=True)
                except (binascii.Error, ValueError):
                    raise AwsError("SerializationException",
                                   "Base64 encoded value at '%s' is not valid" % _render_path(p))
            return conv
        if t == "timestamp":
            return lambda v, e, p: _parse_timestamp(shape, v, p)
        if t == "document":
            return lambda v, e, p: v
        return lambda v, e, p: _raise(_ser_error(shape, v, p))


def _raise(err):
    raise err


def _limits_fn(shape, skip_max=False):
    """A function checking a shape's min/max/enum constraints, or None."""
    md = shape.metadata
    t = shape.type_name
    lo, hi = md.get("min"), None if skip_max else md.get("max")
    enum = md.get("enum") if t == "string" else None
    if lo is None and hi is None and not enum:
        return None
    if t in ("string", "blob", "list", "map"):
        def lim(value, errors, p):
            n = len(value)
            if lo is not None and n < lo:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have length greater than or equal to %d"
                              % (_value_repr(value), _render_path(p), lo))
            elif hi is not None and n > hi:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have length less than or equal to %d"
                              % (_value_repr(value), _render_path(p), hi))
            if enum and value not in enum:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must satisfy enum value set: [%s]"
                              % (_value_repr(value), _render_path(p), ", ".join(enum)))
        return lim
    if t in ("integer", "long", "double", "float"):
        def lim(value, errors, p):
            if lo is not None and value < lo:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have value greater than or equal to %s"
                              % (value, _render_path(p), lo))
            elif hi is not None and value > hi:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have value less than or equal to %s"
                              % (value, _render_path(p), hi))
        return lim
    return None


def _ser_error(shape, value, path):
    if path is None or isinstance(path, tuple):
        path = _render_path(path)
    kind = {"structure": "structure", "list": "list", "map": "map",
            "string": "string", "integer": "integer", "long": "long",
            "boolean": "boolean", "blob": "blob", "timestamp": "timestamp",
            "double": "double", "float": "float"}.get(shape.type_name, shape.type_name)
    return AwsError("SerializationException",
                    "Unexpected value type for '%s': expected %s, got %s"
                    % (path.rstrip(".") or "input", kind, type(value).__name__))


def _parse_timestamp(shape, value, path):
    if path is None or isinstance(path, tuple):
        path = _render_path(path)
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, bool):
        raise _ser_error(shape, value, path)
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, str):
        try:
            return datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc)
        except ValueError:
            pass
        try:
            v = value.replace("Z", "+00:00")
            dt = datetime.datetime.fromisoformat(v)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=datetime.timezone.utc)
            return dt
        except ValueError:
            pass
        try:
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            pass
    raise _ser_error(shape, value, path)


# --------------------------------------------------------------------------
# JSON protocol output


class JsonOutput:
    """Serializes an output dict per its shape to JSON text."""

    def __init__(self):
        self._plain = {}
        self._renames = {}

    def _is_plain(self, shape):
        """True if a shape holds no blob/timestamp anywhere (its value can be
        dumped as is, after the key check of structures)."""
        name = shape.name
        hit = self._plain.get(name)
        if hit is not None:
            return hit
        self._plain[name] = True    # recursion guard (recursive shapes)
        t = shape.type_name
        if t in ("blob", "timestamp"):
            plain = False
        elif t == "structure":
            plain = all(self._is_plain(m) for m in shape.members.values())
        elif t == "list":
            plain = self._is_plain(shape.member)
        elif t == "map":
            plain = self._is_plain(shape.value)
        else:
            plain = True
        self._plain[name] = plain
        return plain

    def _flat(self, shape):
        """A structure of plain scalars only (strings, numbers, booleans),
        none renamed on the wire: its dict is its JSON."""
        hit = self._renames.get(shape.name)
        if hit is None:
            hit = all("name" not in m.serialization and
                      m.type_name in ("string", "integer", "long", "boolean", "double",
                                      "float")
                      for m in shape.members.values())
            self._renames[shape.name] = hit
        return hit

    def dumps(self, shape, value):
        raws = []
        wire = self._walk(shape, value, raws) if shape is not None else {}
        text = json.dumps(wire, separators=(",", ":"), ensure_ascii=False)
        if raws:
            parts = re.split(r'"\\u0000RAW(\d+)"', text)
            for i in range(1, len(parts), 2):
                parts[i] = raws[int(parts[i])]
            text = "".join(parts)
        return text

    def _walk(self, shape, value, raws):
        if isinstance(value, RawJson):
            raws.append(value.text)
            return "\x00RAW%d" % (len(raws) - 1)
        t = shape.type_name
        if t == "structure":
            if not isinstance(value, dict):
                raise TypeError("%s: expected dict, got %r" % (shape.name, type(value)))
            if self._flat(shape):
                # scalar members, nothing to convert: check the keys, drop
                # the Nones
                members = shape.members
                nones = False
                for k, v in value.items():
                    if k not in members:
                        raise KeyError("%s has no member %s" % (shape.name, k))
                    if v is None:
                        nones = True
                if not nones:
                    return value
                return {k: v for k, v in value.items() if v is not None}
            out = {}
            members = shape.members
            for k, v in value.items():
                if v is None:
                    continue
                m = members.get(k)
                if m is None:
                    raise KeyError("%s has no member %s" % (shape.name, k))
                out[m.serialization.get("name", k)] = self._walk(m, v, raws)
            return out
        if t == "list":
            m = shape.member
            if self._is_plain(m) and m.type_name not in ("structure",):
                return list(value)
            return [self._walk(m, v, raws) for v in value]
        if t == "map":
            vs = shape.value
            if self._is_plain(vs) and vs.type_name not in ("structure",):
                return dict(value)
            return {k: self._walk(vs, v, raws) for k, v in value.items()}
        if t == "blob":
            if isinstance(value, str):
                return value
            return base64.b64encode(value).decode("ascii")
        if t == "timestamp":
            e = to_epoch(value)
            return int(e) if float(e).is_integer() else round(e, 3)
        if t in ("integer", "long"):
            return int(value)
        if t in ("double", "float"):
            return float(value)
        if t == "boolean":
            return bool(value)
        if t == "string":
            return str(value)
        return value


# --------------------------------------------------------------------------
# query protocol (STS)


def query_input(shape, params, prefix=""):
    """The nested input of a query-protocol request from its flat form
    parameters (Name, Name.member.N, Name.entry.N.key/value, A.B)."""
    out = {}
    if shape is None:
        return out
    for name, m in shape.members.items():
        wire = m.serialization.get("name", name)
        key = prefix + wire
        v = _query_value(m, params, key)
        if v is not None:
            out[name] = v
    return out


def _query_value(shape, params, key):
    t = shape.type_name
    if t == "structure":
        sub = key + "."
        if not any(k.startswith(sub) for k in params):
            return None
        return query_input(shape, params, sub)
    if t == "list":
        flattened = shape.serialization.get("flattened")
        base = key if flattened else key + ".member"
        if key in params and params[key] == "":
            return []
        items = []
        i = 1
        while True:
            v = _query_value(shape.member, params, "%s.%d" % (base, i))
            if v is None:
                break
            items.append(v)
            i += 1
        return items if items else None
    if t == "map":
        items = {}
        i = 1
        while True:
            k = params.get("%s.entry.%d.key" % (key, i))
            if k is None:
                break
            items[k] = _query_value(shape.value, params, "%s.entry.%d.value" % (key, i))
            i += 1
        return items if items else None
    return params.get(key)


def xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def xml_members(shape, value, out):
    """Appends the XML elements of a structure's members to out (list of str)."""
    for k, v in value.items():
        if v is None:
            continue
        m = shape.members.get(k)
        if m is None:
            raise KeyError("%s has no member %s" % (shape.name, k))
        if m.serialization.get("location"):
            continue
        name = m.serialization.get("name", k)
        xml_value(m, name, v, out)


def xml_value(shape, name, value, out):
    t = shape.type_name
    if t == "structure":
        out.append("<%s>" % name)
        xml_members(shape, value, out)
        out.append("</%s>" % name)
    elif t == "list":
        m = shape.member
        if shape.serialization.get("flattened"):
            mname = m.serialization.get("name", name)
            for v in value:
                xml_value(m, mname, v, out)
        else:
            mname = m.serialization.get("name", "member")
            out.append("<%s>" % name)
            for v in value:
                xml_value(m, mname, v, out)
            out.append("</%s>" % name)
    elif t == "map":
        out.append("<%s>" % name)
        for k, v in value.items():
            out.append("<entry><key>%s</key>" % xml_escape(k))
            xml_value(shape.value, "value", v, out)
            out.append("</entry>")
        out.append("</%s>" % name)
    elif t == "timestamp":
        out.append("<%s>%s</%s>" % (name, iso8601(to_epoch(value)), name))
    elif t == "blob":
        if not isinstance(value, str):
            value = base64.b64encode(value).decode("ascii")
        out.append("<%s>%s</%s>" % (name, value, name))
    elif t == "boolean":
        out.append("<%s>%s</%s>" % (name, "true" if value else "false", name))
    else:
        out.append("<%s>%s</%s>" % (name, xml_escape(str(value)), name))


# --------------------------------------------------------------------------
# rest-xml (S3)


class RestRoute:
    """One operation's HTTP binding: method, path template, query literals,
    and the query parameters and headers its input binds.  Operations that
    share a method and path (PutObject, CopyObject, UploadPart,
    UploadPartCopy) are told apart by their required query parameters and
    headers (uploadId, partNumber, x-amz-copy-source)."""

    def __init__(self, op):
        self.op = op
        http = op.http
        self.method = http["method"]
        uri = http["requestUri"]
        path, _, query = uri.partition("?")
        self.query_literals = {}
        for part in query.split("&") if query else []:
            k, _, v = part.partition("=")
            self.query_literals[k] = v
        self.segments = [s for s in path.split("/") if s != ""]
        self.greedy = bool(self.segments) and self.segments[-1].endswith("+}")
        self.query_names = set(self.query_literals)
        self.header_names = set()
        self.header_prefixes = []
        self.any_query = False
        self.required_query = []
        self.required_headers = []
        shape = op.input_shape
        required = set(shape.required_members) if shape is not None else set()
        for name, m in (shape.members.items() if shape is not None else ()):
            loc = m.serialization.get("location")
            wire = m.serialization.get("name", name)
            if loc == "querystring":
                if m.type_name == "map":
                    self.any_query = True
                self.query_names.add(wire)
                if name in required:
                    self.required_query.append(wire)
            elif loc == "header":
                self.header_names.add(wire.lower())
                if name in required:
                    self.required_headers.append(wire.lower())
            elif loc == "headers":
                self.header_prefixes.append(wire.lower())
        # more literals first, then more required query parameters and headers
        self.rank = (len(self.query_literals),
                     len(self.required_query) + len(self.required_headers),
                     len(self.segments))

    def match(self, method, raw_path, query, foreign_literals=frozenset(), headers=None):
        """The URI labels if the request is this operation's, else None.
        A query naming another operation's literal (?acl, ?tagging) is not
        this operation's."""
        if method != self.method:
            return None
        for k in query:
            if k in foreign_literals and k not in self.query_literals:
                return None
        for k, v in self.query_literals.items():
            if k not in query or (v and query[k] != v):
                return None
        for k in self.required_query:
            if k not in query:
                return None
        if headers is not None:
            for k in self.required_headers:
                if headers.get(k) is None:
                    return None
        path = raw_path[1:] if raw_path.startswith("/") else raw_path
        labels = {}
        if not self.segments:
            return labels if path == "" else None
        parts = path.split("/", len(self.segments) - 1) if self.greedy else path.split("/")
        if self.greedy:
            if len(parts) != len(self.segments) or parts[-1] == "":
                return None
        elif len(parts) != len(self.segments):
            if not (len(parts) == len(self.segments) + 1 and parts[-1] == ""):
                return None
            parts = parts[:-1]
        for seg, part in zip(self.segments, parts):
            if seg.startswith("{"):
                if part == "":
                    return None
                labels[seg.strip("{}+")] = unquote(part)
            elif seg != part:
                return None
        return labels

    def unbound(self, query, headers, ignored_query, ignored_headers):
        """The query parameters and x-amz-* headers of a request that this
        operation's input does not bind: AWS would act on them, so a request
        that carries one is not this operation's as the emulator knows it."""
        out = []
        if not self.any_query:
            out += [k for k in query if k not in self.query_names
                    and k.lower() not in ignored_query]
        for k in headers.keys():
            lk = k.lower()
            if (lk.startswith("x-amz-") and lk not in self.header_names
                    and lk not in ignored_headers
                    and not any(lk.startswith(p) for p in self.header_prefixes)):
                out.append(k)
        return out


def rest_input(shape, labels, query, headers, body):
    """The input dict of a rest-xml request, per the input shape's bindings."""
    out = {}
    if shape is None:
        return out
    payload = shape.serialization.get("payload")
    for name, m in shape.members.items():
        loc = m.serialization.get("location")
        wire = m.serialization.get("name", name)
        if loc == "uri":
            if wire in labels:
                out[name] = labels[wire]
        elif loc == "querystring":
            if m.type_name == "map":
                continue
            if wire in query:
                out[name] = query[wire]
        elif loc == "header":
            v = headers.get(wire)
            if v is not None:
                out[name] = v
        elif loc == "headers":
            pre = wire.lower()
            meta = {k[len(pre):]: v for k, v in headers.items()
                    if k.lower().startswith(pre)}
            if meta:
                out[name] = meta
        elif name == payload:
            if m.type_name == "blob" or m.type_name == "string":
                out[name] = body
            elif body:
                try:
                    root = ET.fromstring(body)
                except ET.ParseError:
                    raise AwsError("MalformedXML", "The XML you provided was not "
                                   "well-formed or did not validate against our "
                                   "published schema")
                out[name] = _xml_to_dict(m, root)
    return out


def _strip_ns(tag):
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def _xml_to_dict(shape, elem):
    t = shape.type_name
    if t == "structure":
        out = {}
        by_wire = {}
        for name, m in shape.members.items():
            by_wire[m.serialization.get("name", name)] = (name, m)
        for child in elem:
            tag = _strip_ns(child.tag)
            hit = by_wire.get(tag)
            if hit is None:
                continue
            name, m = hit
            if m.type_name == "list" and m.serialization.get("flattened"):
                out.setdefault(name, []).append(_xml_to_dict(m.member, child))
            else:
                out[name] = _xml_to_dict(m, child)
        return out
    if t == "list":
        return [_xml_to_dict(shape.member, c) for c in elem]
    text = elem.text or ""
    if t == "boolean":
        return text.strip() == "true"
    if t in ("integer", "long"):
        return text.strip()
    return text


def http_date(epoch):
    return email.utils.formatdate(epoch, usegmt=True)


def rest_output_headers(shape, value):
    """(status or None, headers dict) from the header-bound members."""
    headers = {}
    status = None
    if shape is None:
        return status, headers
    for name, m in shape.members.items():
        v = value.get(name)
        if v is None:
            continue
        loc = m.serialization.get("location")
        wire = m.serialization.get("name", name)
        if loc == "header":
            if m.type_name == "timestamp":
                if m.serialization.get("timestampFormat") == "iso8601":
                    headers[wire] = iso8601(to_epoch(v))
                else:
                    headers[wire] = http_date(to_epoch(v))
            elif m.type_name == "boolean":
                headers[wire] = "true" if v else "false"
            else:
                headers[wire] = str(v)
        elif loc == "headers":
            for k, hv in v.items():
                headers[wire + k] = hv
        elif loc == "statusCode":
            status = int(v)
    return status, headers
