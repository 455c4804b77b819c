"""The inline JQ parser of Firehose dynamic partitioning (JsonParsingEngine JQ-1.6).

Firehose runs a MetadataExtractionQuery, a jq 1.6 object construction, over
each JSON record and takes each member of the result as a partition key
(Amazon Data Firehose Developer Guide, "Understand partitioning keys": field
paths such as `.customer_id` and `.type.device`, and
`.event_timestamp|strftime("%Y")` for epoch seconds).  This module evaluates
that documented subset, with jq 1.6's semantics for each piece:

    query  := '{' member (',' member)* '}'
    member := (name | "string") ':' expr
    expr   := term ('|' term)*       (jq's grammar for an object's values: no
                                      operators other than | without parentheses)
    term   := path | func
    path   := '.' | ('.' name | '."string"' | '.[' "string" ']' | '.[' int ']'
              | '.[' int? ':' int? ']')+
    func   := strftime("fmt") | strptime("fmt") | mktime | todate | tostring
              | tonumber | ascii_downcase | ascii_upcase

Indexing null gives null; indexing a string or number with a name is an
error, as in jq.  Anything else in a query is refused when the delivery
stream is created, as Firehose's jq compile step refuses what it cannot run.
test_firehose_partitioning.py checks the results against the jq 1.6 binary.
"""
import calendar
import json
import re
import time


class JqError(Exception):
    """A query that does not compile, or a record it cannot be run on."""


_TOKEN_RE = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+)|'
                       r'(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[{}:,|.\[\]()]))')
_FUNCS0 = ("mktime", "todate", "tostring", "tonumber", "ascii_downcase", "ascii_upcase")
_FUNCS1 = ("strftime", "strptime")


def _tokens(text):
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise JqError("jq: error: syntax error, unexpected INVALID_CHARACTER at %r"
                          % text[pos:pos + 10])
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "str":
            val = json.loads(val)
        elif kind == "num":
            val = int(val)
        out.append((kind, val))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, k=0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None)

    def take(self, kind=None, val=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (val is not None and tok[1] != val):
            raise JqError("jq: error: syntax error, unexpected %s (expected %s)"
                          % (tok[1] if tok[0] else "end of query", val or kind))
        self.i += 1
        return tok[1]

    def query(self):
        self.take("op", "{")
        members = []
        while True:
            kind, val = self.peek()
            if kind in ("name", "str"):
                self.i += 1
            else:
                self.take("name")
            self.take("op", ":")
            members.append((val, self.expr()))
            if self.peek() == ("op", ","):
                self.i += 1
                continue
            self.take("op", "}")
            break
        if self.peek()[0] is not None:
            raise JqError("jq: error: syntax error, unexpected %r after the object"
                          % (self.peek()[1],))
        return members

    def expr(self):
        terms = [self.term()]
        while self.peek() == ("op", "|"):
            self.i += 1
            terms.append(self.term())
        return ("pipe", terms)

    def term(self):
        kind, val = self.peek()
        if (kind, val) == ("op", "."):
            return self.path()
        if kind == "name" and val in _FUNCS1:
            self.i += 1
            self.take("op", "(")
            arg = self.take("str")
            self.take("op", ")")
            return ("call", val, arg)
        if kind == "name" and val in _FUNCS0:
            self.i += 1
            return ("call", val, None)
        raise JqError("jq: error: %s is not in the subset of jq that this query may use "
                      "(field paths and strftime, strptime, mktime, todate, tostring, "
                      "tonumber, ascii_downcase, ascii_upcase)" % (val if kind else "end"))

    def path(self):
        steps = []
        self.take("op", ".")
        first = True
        while True:
            kind, val = self.peek()
            if first and kind == "name":
                self.i += 1
                steps.append(("key", val))
            elif first and kind == "str":
                self.i += 1
                steps.append(("key", val))
            elif (kind, val) == ("op", "["):
                self.i += 1
                steps.append(self.bracket())
            elif (kind, val) == ("op", ".") and self.peek(1)[0] in ("name", "str"):
                self.i += 1
                steps.append(("key", self.take()))
            else:
                break
            first = False
        return ("path", steps)

    def bracket(self):
        kind, val = self.peek()
        if kind == "str":
            self.i += 1
            self.take("op", "]")
            return ("key", val)
        lo = hi = None
        if kind == "num":
            self.i += 1
            lo = val
        if self.peek() == ("op", ":"):
            self.i += 1
            if self.peek()[0] == "num":
                hi = self.take()
            self.take("op", "]")
            return ("slice", lo, hi)
        if lo is None:
            raise JqError("jq: error: syntax error in a [...] index")
        self.take("op", "]")
        return ("index", lo)


def _type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _step(v, step):
    if step[0] == "key":
        if v is None:
            return None
        if not isinstance(v, dict):
            raise JqError('Cannot index %s with "%s"' % (_type(v), step[1]))
        return v.get(step[1])
    if step[0] == "index":
        if v is None:
            return None
        if not isinstance(v, list):
            raise JqError("Cannot index %s with number" % _type(v))
        i = step[1]
        return v[i] if -len(v) <= i < len(v) else None
    lo, hi = step[1], step[2]
    if v is None:
        return None
    if not isinstance(v, (str, list)):
        raise JqError("Cannot index %s with object" % _type(v))
    return v[lo:hi]


def _broken_down(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float, list)):
        raise JqError("%s/1 requires parsed datetime inputs" % name)
    if isinstance(v, list):
        if len(v) < 6 or not all(isinstance(x, (int, float)) for x in v[:6]):
            raise JqError("%s/1 requires parsed datetime inputs" % name)
        return v
    t = time.gmtime(int(v // 1) if v >= 0 else int(v // 1))
    secs = t.tm_sec + (v - int(v // 1))
    return [t.tm_year, t.tm_mon - 1, t.tm_mday, t.tm_hour, t.tm_min, secs,
            t.tm_wday, t.tm_yday - 1]


def _call(v, name, arg):
    if name == "strftime":
        bd = _broken_down(v, "strftime")
        st = (int(bd[0]), int(bd[1]) + 1, int(bd[2]), int(bd[3]), int(bd[4]), int(bd[5]),
              int(bd[6]) if len(bd) > 6 else 0, (int(bd[7]) + 1) if len(bd) > 7 else 1, 0)
        return time.strftime(arg, st)
    if name == "strptime":
        if not isinstance(v, str):
            raise JqError("strptime/1 requires string inputs and arguments")
        try:
            t = time.strptime(v, arg)
        except ValueError:
            raise JqError('date "%s" does not match format "%s"' % (v, arg))
        return [t.tm_year, t.tm_mon - 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                t.tm_wday, t.tm_yday - 1]
    if name == "mktime":
        if not isinstance(v, list):
            raise JqError("mktime requires array of 6 numbers")
        bd = _broken_down(v, "mktime")
        return calendar.timegm((int(bd[0]), int(bd[1]) + 1, int(bd[2]), int(bd[3]),
                                int(bd[4]), int(bd[5])))
    if name == "todate":
        return _call(v, "strftime", "%Y-%m-%dT%H:%M:%SZ")
    if name == "tostring":
        return v if isinstance(v, str) else to_text(v)
    if name == "tonumber":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
        if isinstance(v, str):
            try:
                return float(v) if re.search(r"[.eE]", v) else int(v)
            except ValueError:
                pass
            raise JqError("Cannot parse '%s' as JSON" % v)
        raise JqError("%s (%s) cannot be parsed as a number" % (_type(v), to_text(v)))
    if not isinstance(v, str):
        raise JqError("%s input must be a string" % name)
    return v.lower() if name == "ascii_downcase" else v.upper()


def _eval(node, v):
    if node[0] == "pipe":
        for t in node[1]:
            v = _eval(t, v)
        return v
    if node[0] == "path":
        for step in node[1]:
            v = _step(v, step)
        return v
    return _call(v, node[1], node[2])


def _number_text(x):
    """A number as jq 1.6 prints it (jv_dump_term's jvp_dtoa_fmt): the shortest
    digits that read back as the same double, in fixed notation unless the
    decimal point falls 4 or more places before them or more than 15 places
    past them, else d.ddde+XX."""
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        return "null" if x != x else ("1.7976931348623157e+308" if x > 0
                                      else "-1.7976931348623157e+308")
    if x == 0:
        return "-0" if str(x).startswith("-") else "0"
    sign = "-" if x < 0 else ""
    mant, _, exp = ("%r" % abs(x)).partition("e")
    digits = mant.replace(".", "").lstrip("0")
    point = (mant.index(".") if "." in mant else len(mant)) + int(exp or 0)
    point -= len(mant.replace(".", "")) - len(mant.replace(".", "").lstrip("0"))
    digits = digits.rstrip("0") or "0"
    if point <= -4 or point > len(digits) + 15:
        e = point - 1
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, body, "+" if e >= 0 else "-", abs(e))
    if point <= 0:
        return sign + "0." + "0" * -point + digits
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return sign + digits[:point] + "." + digits[point:]


def to_text(v):
    """A value as jq -c prints it."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _number_text(v)
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


class Query:
    """A compiled MetadataExtractionQuery."""

    def __init__(self, text):
        self.text = text
        self.members = _Parser(text).query()
        self.names = [n for n, _ in self.members]

    def run(self, record):
        """The query's object over one parsed record (JqError if jq fails)."""
        return {name: _eval(expr, record) for name, expr in self.members}

    def partition_keys(self, data):
        """The partition keys of one record's bytes, as strings; JqError when the
        record is not JSON or a key comes out null, an object or an array."""
        try:
            record = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise JqError("Non JSON record provided: %s" % e)
        out = {}
        for name, value in self.run(record).items():
            if value is None or isinstance(value, (dict, list)):
                raise JqError("partition key %s is %s" % (name, _type(value)))
            out[name] = value if isinstance(value, str) else to_text(value)
        return out
