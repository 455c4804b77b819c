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


class InputChecker:
    """Converts a wire-decoded input (JSON types) to the service's form
    (bytes for blobs, datetime for timestamps) and validates it."""

    def __init__(self, wire_strings=False, validation_code="ValidationException",
                 unchecked_max=()):
        # wire_strings: inputs come from text (query strings, headers): scalars
        # arrive as strings and are converted.
        self.wire_strings = wire_strings
        self.validation_code = validation_code
        self.unchecked_max = set(unchecked_max)

    def check(self, shape, value):
        errors = []
        out = self._walk(shape, value, errors, "", top=True)
        if errors:
            n = len(errors)
            msg = "%d validation error%s detected: %s" % (
                n, "" if n == 1 else "s", "; ".join(errors))
            raise AwsError(self.validation_code, msg)
        return out

    def _walk(self, shape, value, errors, path, top=False):
        t = shape.type_name
        if t == "structure":
            if not isinstance(value, dict):
                raise _ser_error(shape, value, path)
            out = {}
            members = shape.members
            for name in shape.required_members:
                if value.get(name) is None:
                    errors.append("Value null at '%s' failed to satisfy constraint: "
                                  "Member must not be null" % (path + _lower_camel(name)))
            for name, v in value.items():
                mshape = members.get(name)
                if mshape is None or v is None:
                    continue
                mpath = path + _lower_camel(name)
                out[name] = self._walk(mshape, v, errors, mpath + ".")
                if top and name in self.unchecked_max:
                    continue
                self._limits(mshape, out[name], errors, mpath)
            return out
        if t == "list":
            if not isinstance(value, list):
                raise _ser_error(shape, value, path)
            m = shape.member
            mt = m.type_name
            if mt == "string" and not m.metadata and not self.wire_strings:
                for v in value:
                    if not isinstance(v, str):
                        raise _ser_error(m, v, path)
                return value
            out = []
            for i, v in enumerate(value):
                p = "%s%d.member" % (path, i + 1)
                out.append(self._walk(m, v, errors, p + "."))
                self._limits(m, out[-1], errors, p)
            return out
        if t == "map":
            if not isinstance(value, dict):
                raise _ser_error(shape, value, path)
            out = {}
            vshape = shape.value
            for k, v in value.items():
                out[k] = self._walk(vshape, v, errors, path + k + ".")
                self._limits(vshape, out[k], errors, path + k)
            return out
        if t == "string":
            if not isinstance(value, str):
                raise _ser_error(shape, value, path)
            return value
        if t in ("integer", "long"):
            if self.wire_strings and isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    raise _ser_error(shape, value, path)
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    return int(value)
                raise _ser_error(shape, value, path)
            return value
        if t in ("double", "float"):
            if self.wire_strings and isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    raise _ser_error(shape, value, path)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _ser_error(shape, value, path)
            return value
        if t == "boolean":
            if self.wire_strings and isinstance(value, str):
                if value in ("true", "false"):
                    return value == "true"
                raise _ser_error(shape, value, path)
            if not isinstance(value, bool):
                raise _ser_error(shape, value, path)
            return value
        if t == "blob":
            if isinstance(value, (bytes, bytearray)):
                return bytes(value)
            if not isinstance(value, str):
                raise _ser_error(shape, value, path)
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise AwsError("SerializationException",
                               "Base64 encoded value at '%s' is not valid"
                               % path.rstrip("."))
        if t == "timestamp":
            return _parse_timestamp(shape, value, path)
        if t == "document":
            return value
        raise _ser_error(shape, value, path)

    def _limits(self, shape, value, errors, path):
        md = shape.metadata
        if not md:
            return
        t = shape.type_name
        lo = md.get("min")
        hi = md.get("max")
        if t in ("string", "blob", "list", "map"):
            n = len(value)
            if lo is not None and n < lo:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have length greater than or equal to %d"
                              % (_value_repr(value), path, lo))
            elif hi is not None and n > hi:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have length less than or equal to %d"
                              % (_value_repr(value), path, hi))
            if t == "string":
                enum = md.get("enum")
                if enum and value not in enum:
                    errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                                  "Member must satisfy enum value set: [%s]"
                                  % (_value_repr(value), path, ", ".join(enum)))
        elif t in ("integer", "long", "double", "float"):
            if lo is not None and value < lo:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have value greater than or equal to %s"
                              % (value, path, lo))
            elif hi is not None and value > hi:
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must have value less than or equal to %s"
                              % (value, path, hi))


def _ser_error(shape, value, path):
    kind = {"structure": "structure", "list": "list", "map": "map",
            "string": "string", "integer": "integer", "long": "long",
            "boolean": "boolean", "blob": "blob", "timestamp": "timestamp",
            "double": "double", "float": "float"}.get(shape.type_name, shape.type_name)
    return AwsError("SerializationException",
                    "Unexpected value type for '%s': expected %s, got %s"
                    % (path.rstrip(".") or "input", kind, type(value).__name__))


def _parse_timestamp(shape, value, path):
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
    """One operation's HTTP binding: method, path template, query literals."""

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
        # more literals first
        self.rank = (len(self.query_literals), len(self.segments))

    def match(self, method, raw_path, query):
        if method != self.method:
            return None
        for k, v in self.query_literals.items():
            if k not in query or (v and query[k] != v):
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
