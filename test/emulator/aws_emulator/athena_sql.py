"""Athena's SQL dialect (Trino) for the emulator: check the text as Trino
would, then compile it into PostgreSQL with Trino's semantics made explicit.

The engine runs Athena queries in PostgreSQL.  Tests of audit_fdw compare
what the FDW pushes down with what PostgreSQL computes locally, so the
emulator must *not* quietly accept what Athena rejects, nor give PostgreSQL's
answer where Trino's differs.  Rules this file keeps:

- The text is parsed by sqlglot's Trino reader (Debian's python3-sqlglot,
  10.6).  That reader is lenient, so a lexer of our own first rejects the
  PostgreSQL-only constructs Trino has no grammar for (`::` casts, ILIKE,
  the ~ regex operators, E'' strings, $n parameters, backquotes), with
  Trino's "line L:C: ..." positions, and a pass over the tree rejects the
  rest (SIMILAR TO, DISTINCT ON, IS TRUE, INTERVAL '1 day', FOR UPDATE,
  LIMIT before OFFSET, type names such as text or timestamptz).
- sqlglot 10.6 gives AND and OR one precedence; our parser binds AND
  tighter, and the PostgreSQL text parenthesises every operator so that
  the tree's precedence is the one that runs.
- Identifiers are case-insensitive in Trino, quoted or not: every identifier
  is emitted lower-cased and quoted.  "" inside a quoted identifier is one ".
- String literals are typed varchar (`CAST('x' AS text)`) so that a
  comparison Trino rejects as a type mismatch (`int_col = '1'`) fails in
  PostgreSQL too, and they carry COLLATE "C": Trino compares text by code
  point.  Text columns are C-collated by the engine.
- ORDER BY always says NULLS FIRST/LAST: Trino's default is NULLS LAST in
  both directions, PostgreSQL's is NULLS FIRST for DESC.
- LIKE without ESCAPE gets ESCAPE '' (PostgreSQL's default escape is a
  backslash, Trino has none).
- Functions are an allowlist: a function Trino lacks (to_char, ...) fails
  with FUNCTION_NOT_FOUND even where PostgreSQL has one.  Functions whose
  semantics differ (substr, avg, sum, round, greatest, concat, ...) call
  helpers of the athena_fn schema (athena_engine.py creates them).
- tinyint is the domain athena_fn.tinyint, whose arithmetic (athena_ops,
  before pg_catalog on the search_path) overflows at its width; decimal
  arithmetic takes Trino's scales and fails past 38 digits (athena_ops too).
- Timestamps are millisecond precision (timestamp(3)) unless a literal or
  a cast says otherwise.  Literals have Trino's types: 1 integer,
  10000000000 bigint, 1.50 decimal(3,2), 1e0 double, DECIMAL '1.50'
  decimal(3,2).  x IS NULL of a row tests the row, not its fields.
"""
import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ParseError
from sqlglot.generator import Generator
from sqlglot.tokens import TokenType

# Athena's error categories (AthenaError.ErrorCategory) and the error types
# the emulator reports (AthenaError.ErrorType, Athena's error catalog).
CATEGORY_SYSTEM = 1
CATEGORY_USER = 2
ERROR_TYPE_USER = 1000
ERROR_TYPE_DATA = 1001
ERROR_TYPE_INTERNAL = 200


class TrinoError(Exception):
    """A query failure as Athena reports it in StateChangeReason:
    `<ERROR_NAME>: line L:C: <message>`."""

    def __init__(self, name, message, line=None, col=None,
                 category=CATEGORY_USER, error_type=ERROR_TYPE_USER):
        super().__init__(message)
        self.name = name
        self.message = message
        self.line = line
        self.col = col
        self.category = category
        self.error_type = error_type

    @property
    def reason(self):
        if self.line is not None:
            return f"{self.name}: line {self.line}:{self.col}: {self.message}"
        return f"{self.name}: {self.message}"

    def __str__(self):
        return self.reason


# ---------------------------------------------------------------------------
# The lexer: positions for messages, and the constructs sqlglot lets through.

class Token:
    __slots__ = ("kind", "text", "line", "col", "value")

    def __init__(self, kind, text, line, col, value=None):
        self.kind = kind      # word, number, string, ident, op, param
        self.text = text
        self.line = line
        self.col = col
        self.value = value    # unescaped string / identifier


def _syntax(message, line, col):
    return TrinoError("SYNTAX_ERROR", message, line, col)


def scan(text):
    """Tokens of a Trino statement, raising SYNTAX_ERROR where Trino's lexer
    or grammar would fail on a PostgreSQL-only construct."""
    tokens = []
    i, n = 0, len(text)
    line, line_start = 1, 0

    def pos(at):
        return line, at - line_start + 1

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            line_start = i
            continue
        if c.isspace():
            i += 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise _syntax("mismatched input '<EOF>'. Expecting: '*/'", *pos(i))
            line += text.count("\n", i, j)
            if "\n" in text[i:j]:
                line_start = text.rfind("\n", i, j) + 1
            i = j + 2
            continue
        ln, col = pos(i)
        if c == "'":
            j, value = i + 1, []
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise _syntax("mismatched input '''. Expecting: <expression>", ln, col)
                value.append(text[j:k])
                if text.startswith("''", k):
                    value.append("'")
                    j = k + 2
                    continue
                j = k + 1
                break
            s = text[i:j]
            if "\n" in s:
                line += s.count("\n")
                line_start = i + s.rfind("\n") + 1
            prev = tokens[-1] if tokens else None
            if (prev is not None and prev.kind == "word" and prev.text.upper() == "E"
                    and prev.line == ln and prev.col + 1 == col):
                raise _syntax(
                    f"mismatched input '{s}'. Expecting: <expression> "
                    "(E'' escape strings are PostgreSQL syntax, not Trino)",
                    prev.line, prev.col)
            if (prev is not None and prev.kind == "op" and prev.text == "&"
                    and len(tokens) >= 2 and tokens[-2].text.upper() == "U"):
                raise TrinoError("NOT_SUPPORTED",
                                 "Unicode escape string literals are not supported by the emulator",
                                 tokens[-2].line, tokens[-2].col)
            tokens.append(Token("string", s, ln, col, "".join(value)))
            i = j
            continue
        if c == '"':
            j, value = i + 1, []
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise _syntax("mismatched input '\"'. Expecting: <identifier>", ln, col)
                value.append(text[j:k])
                if text.startswith('""', k):
                    value.append('"')
                    j = k + 2
                    continue
                j = k + 1
                break
            ident = "".join(value)
            if ident == "":
                raise _syntax("Zero-length delimited identifier not allowed", ln, col)
            tokens.append(Token("ident", text[i:j], ln, col, ident))
            i = j
            continue
        if c == "`":
            raise TrinoError("SYNTAX_ERROR",
                             "backquoted identifiers are not supported; use double quotes to quote identifiers",
                             ln, col)
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word.upper() == "ILIKE":
                raise _syntax(f"mismatched input '{word}'. Expecting: <predicate> "
                              "(ILIKE is PostgreSQL syntax; Trino has no ILIKE)", ln, col)
            tokens.append(Token("word", word, ln, col, word))
            i = j
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = re.compile(r"\d*\.?\d*(?:[eE][+-]?\d+)?").match(text, i)
            j = m.end()
            if j < n and (text[j].isalpha() or text[j] == "_"):
                k = j
                while k < n and (text[k].isalnum() or text[k] == "_"):
                    k += 1
                raise _syntax(f"mismatched input '{text[i:k]}'. Expecting: <expression>", ln, col)
            tokens.append(Token("number", text[i:j], ln, col))
            i = j
            continue
        if c == "$":
            j = i + 1
            while j < n and text[j].isdigit():
                j += 1
            raise _syntax(f"token recognition error at: '{text[i:j]}'"
                          + (" ($n parameters are PostgreSQL syntax; Trino uses ?)" if j > i + 1 else ""),
                          ln, col)
        if text.startswith("::", i):
            raise _syntax("mismatched input '::'. Expecting: <expression> "
                          "(:: casts are PostgreSQL syntax; use CAST(x AS type))", ln, col)
        for op in ("!~*", "!~", "~*", "~"):
            if text.startswith(op, i):
                raise _syntax(f"mismatched input '{op}'. Expecting: <expression> "
                              "(the ~ regular expression operators are PostgreSQL syntax; use regexp_like)",
                              ln, col)
        for op in ("<>", "!=", "<=", ">=", "||", "=>", "->"):
            if text.startswith(op, i):
                tokens.append(Token("op", op, ln, col))
                i += len(op)
                break
        else:
            if c in "#@\\{}^":
                raise _syntax(f"token recognition error at: '{c}'", ln, col)
            kind = "param" if c == "?" else "op"
            tokens.append(Token(kind, c, ln, col))
            i += 1
    return tokens


def find_token(tokens, name, start=0):
    """The first word or quoted identifier token naming `name` (case-folded),
    for the position of an error."""
    name = name.lower()
    for t in tokens[start:]:
        if t.kind in ("word", "ident") and t.value.lower() == name:
            return t
    return None


def substitute_parameters(text, tokens, parameters):
    """Athena's ExecutionParameters: each ? takes the next value, as SQL text."""
    params = [t for t in tokens if t.kind == "param"]
    if len(params) != len(parameters or []):
        if params or parameters:
            line, col = (params[0].line, params[0].col) if params else (1, 1)
            raise TrinoError("INVALID_PARAMETER_USAGE",
                             f"Incorrect number of parameters: expected {len(params)} but found "
                             f"{len(parameters or [])}", line, col)
        return text
    if not params:
        return text
    lines = text.split("\n")
    offsets, at = [], 0
    for ln in lines:
        offsets.append(at)
        at += len(ln) + 1
    out, last = [], 0
    for t, value in zip(params, parameters):
        k = offsets[t.line - 1] + t.col - 1
        out.append(text[last:k])
        out.append(value)
        last = k + 1
    out.append(text[last:])
    return "".join(out)


# ---------------------------------------------------------------------------
# Parsing with sqlglot's Trino reader.

class _Tokenizer(Trino.Tokenizer):
    def _scan_identifier(self, identifier_end):
        # Trino doubles the quote inside a quoted identifier ("a""b").
        text = []
        while True:
            if self._end:
                raise RuntimeError(f"Missing {identifier_end} from {self._line}:{self._start}")
            self._advance()
            if self._char == identifier_end:
                if self._peek == identifier_end:
                    text.append(identifier_end)
                    self._advance()
                    continue
                break
            text.append(self._char)
        self._add(sqlglot.tokens.TokenType.IDENTIFIER, "".join(text))


class _Parser(Trino.Parser):
    # sqlglot 10.6 gives AND and OR one precedence (a AND b OR c AND d
    # parses as ((a AND b) OR c) AND d): AND binds tighter, as in SQL
    def _parse_conjunction(self):
        return self._parse_tokens(self._parse_and, {TokenType.OR: exp.Or})

    def _parse_and(self):
        return self._parse_tokens(self._parse_equality, {TokenType.AND: exp.And})


class AthenaTrino(Trino):
    class Tokenizer(_Tokenizer):
        pass

    class Parser(_Parser):
        pass


QUERY_NODES = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.Values)


def parse(text):
    """The statement of `text` as a sqlglot tree, or TrinoError."""
    tokens = scan(text)
    if not tokens:
        raise _syntax("mismatched input '<EOF>'. Expecting: 'SELECT', 'WITH', ...", 1, 1)
    try:
        statements = [s for s in sqlglot.parse(text, read=AthenaTrino) if s is not None]
    except ParseError as e:
        err = e.errors[0] if getattr(e, "errors", None) else {}
        desc = (err.get("description") or str(e)).split("\n")[0]
        line, col = err.get("line") or 1, err.get("col") or 1
        tok = _token_at(tokens, line, col)
        near = f"mismatched input '{tok.text}'. " if tok else "mismatched input '<EOF>'. "
        raise _syntax(f"{near}{desc}", line, tok.col if tok else col) from None
    except Exception as e:  # the tokenizer raises RuntimeError, KeyError...
        raise _syntax(f"mismatched input: {e}", 1, 1) from None
    if len(statements) != 1:
        if not statements:
            raise _syntax("mismatched input '<EOF>'. Expecting: 'SELECT', 'WITH', ...", 1, 1)
        raise TrinoError("SYNTAX_ERROR",
                         "Only one sql statement is allowed", 1, 1)
    stmt = statements[0]
    for i, t in enumerate(tokens[:-2]):
        # Trino's grammar has OFFSET before LIMIT only
        if t.kind == "word" and t.value.upper() == "LIMIT" and tokens[i + 2].kind == "word" \
                and tokens[i + 2].value.upper() == "OFFSET":
            o = tokens[i + 2]
            raise _syntax("mismatched input 'OFFSET'. Expecting: <EOF> "
                          "(Trino takes OFFSET before LIMIT)", o.line, o.col)
    _reject_postgresql_grammar(stmt, tokens)
    for select in stmt.find_all(exp.Select):
        if not select.expressions:
            t = find_token(tokens, "from") or tokens[-1]
            raise _syntax(f"mismatched input '{t.text}'. Expecting: '*', <expression>",
                          t.line, t.col)
    if not isinstance(stmt, QUERY_NODES):
        first = tokens[0]
        raise TrinoError("NOT_SUPPORTED",
                         f"{first.text.upper()} statements are not supported by the emulator "
                         "(only queries)", first.line, first.col)
    return stmt, tokens


# type names PostgreSQL (or Hive DDL) has and Trino's SQL does not
_NOT_TRINO_TYPES = {"text", "string", "jsonb", "bytea", "timestamptz", "int2", "int4", "int8",
                    "float4", "float8", "serial", "bigserial", "bpchar"}


def _reject_postgresql_grammar(stmt, tokens):
    """Constructs sqlglot's Trino reader accepts and Trino's grammar has not."""
    def at(word):
        t = find_token(tokens, word)
        return (t.line, t.col) if t else (1, 1)

    for node in stmt.find_all(exp.SimilarTo, exp.Any, exp.All, exp.Distinct, exp.Is, exp.Lock,
                              exp.Interval):
        if isinstance(node, exp.SimilarTo):
            raise _syntax("mismatched input 'SIMILAR'. Expecting: <predicate>", *at("similar"))
        if isinstance(node, (exp.Any, exp.All)) and not isinstance(node.this, (exp.Subquery, exp.Select)):
            word = "any" if isinstance(node, exp.Any) else "all"
            raise _syntax(f"mismatched input '{word.upper()}'. Expecting: '(' <query> ')' "
                          "(= ANY (array) is PostgreSQL syntax; use IN or contains)", *at(word))
        if isinstance(node, exp.Distinct) and node.args.get("on") is not None:
            raise _syntax("mismatched input 'ON'. Expecting: <expression> "
                          "(DISTINCT ON is PostgreSQL syntax)", *at("on"))
        if isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null):
            raise _syntax("mismatched input 'TRUE'. Expecting: 'NULL', 'DISTINCT'", *at("is"))
        if isinstance(node, exp.Lock):
            raise _syntax("mismatched input 'FOR'. Expecting: <EOF>", *at("for"))
        if isinstance(node, exp.Interval):
            unit = node.text("unit").upper()
            value = node.this
            if not unit or not (isinstance(value, exp.Literal) and value.is_string):
                raise _syntax("mismatched input. Expecting: 'DAY', 'HOUR', 'MINUTE', 'MONTH', 'SECOND', "
                              "'YEAR' (INTERVAL '1 day' is PostgreSQL syntax; write INTERVAL '1' DAY)",
                              *at("interval"))
            if not re.fullmatch(r"\s*[+-]?\d+(\.\d+)?\s*", value.this):
                raise TrinoError("INVALID_LITERAL", f"'{value.this}' is not a valid INTERVAL {unit} literal",
                                 *at("interval"))
    for i, t in enumerate(tokens[1:-1], 1):
        if t.kind == "word" and t.value.lower() in _NOT_TRINO_TYPES and \
                tokens[i - 1].kind == "word" and tokens[i - 1].value.upper() == "AS" and \
                tokens[i + 1].text in (")", "("):
            # the type of a CAST (an alias is followed by FROM, a comma...)
            raise TrinoError("TYPE_NOT_FOUND", f"Unknown type: {t.value.lower()}", t.line, t.col)


def _token_at(tokens, line, col):
    best = None
    for t in tokens:
        if t.line == line and t.col <= col:
            best = t
        elif t.line > line:
            break
    return best


# ---------------------------------------------------------------------------
# Types.

def pg_type_of_trino(dt):
    """PostgreSQL type for a Trino type of a CAST (sqlglot DataType)."""
    T = exp.DataType.Type
    t = dt.this
    args = [e for e in dt.expressions or []]

    def arg(i, default):
        if len(args) > i and isinstance(args[i], exp.Literal):
            return int(args[i].this)
        return default

    if t in (T.VARCHAR, T.TEXT, T.NVARCHAR):
        return "text" if not args else f"varchar({arg(0, 0)})"
    if t in (T.CHAR, T.NCHAR):
        return f"char({arg(0, 1)})"
    if t == T.TINYINT:
        return "athena_fn.tinyint"
    if t == T.SMALLINT:
        return "smallint"
    if t == T.INT:
        return "integer"
    if t == T.BIGINT:
        return "bigint"
    if t == T.FLOAT:
        return "real"
    if t == T.DOUBLE:
        return "double precision"
    if t == T.DECIMAL:
        return f"numeric({arg(0, 38)}, {arg(1, 0)})"
    if t == T.BOOLEAN:
        return "boolean"
    if t == T.DATE:
        return "date"
    if t in (T.TIMESTAMP, T.DATETIME):
        return f"timestamp({min(arg(0, 3), 6)})"
    if t in (T.TIMESTAMPTZ, T.TIMESTAMPLTZ):
        return f"timestamptz({min(arg(0, 3), 6)})"
    if t == T.JSON:
        return "json"
    if t in (T.VARBINARY, T.BINARY):
        return "bytea"
    if t == T.ARRAY and args:
        inner = pg_type_of_trino(args[0])
        if inner.endswith("[]"):
            return "jsonb"
        return inner + "[]"
    if t == T.MAP:
        return "jsonb"
    raise TrinoError("NOT_SUPPORTED", f"Unknown type: {dt.sql(dialect='trino').lower()}", 1, 1)


def _is_text_cast(pgtype):
    return pgtype == "text" or pgtype.startswith("varchar") or pgtype.startswith("char")


def quote_literal(s):
    return "'" + s.replace("'", "''") + "'"


def quote_ident(s):
    return '"' + s.lower().replace('"', '""') + '"'


def text_literal(s):
    return f"(CAST({quote_literal(s)} AS text) COLLATE \"C\")"


# ---------------------------------------------------------------------------
# Functions: Trino name -> how to emit it in PostgreSQL.
# Each emitter gets the generator and the argument expressions.

def _f(name):
    return lambda g, a: f"{name}({g.format_args(*a)})"


def _extract(field):
    return lambda g, a: g.extract_field(field, a[0])


def _greatest(kind):
    def emit(g, a):
        args = [g.sql(x) for x in a]
        nulls = " OR ".join(f"({x}) IS NULL" for x in args)
        return f"(CASE WHEN {nulls} THEN NULL ELSE {kind}({', '.join(args)}) END)"
    return emit


def _substr(g, a):
    if len(a) == 2:
        return f"athena_fn.trino_substr({g.sql(a[0])}, {g.sql(a[1])})"
    return f"athena_fn.trino_substr({g.sql(a[0])}, {g.sql(a[1])}, {g.sql(a[2])})"


def _concat(g, a):
    if len(a) < 2:
        raise TrinoError("FUNCTION_NOT_FOUND",
                         "There must be two or more concatenation arguments", *g.position("concat"))
    out = g.sql(a[0])
    for x in a[1:]:
        out = f"athena_fn.trino_concat({out}, {g.sql(x)})"
    return out


def _if(g, a):
    default = f" ELSE {g.sql(a[2])}" if len(a) > 2 else ""
    return f"(CASE WHEN {g.sql(a[0])} THEN {g.sql(a[1])}{default} END)"


def _regexp_replace(g, a):
    repl = "''" if len(a) < 3 else g.sql(a[2])
    if len(a) >= 3 and isinstance(a[2], exp.Literal) and a[2].is_string:
        repl = text_literal(re.sub(r"\$(\d)", r"\\\1", a[2].this))
    return f"regexp_replace({g.sql(a[0])}, {g.sql(a[1])}, {repl}, 'g')"


def _regexp_extract(g, a):
    group = g.sql(a[2]) if len(a) > 2 else "0"
    return f"athena_fn.regexp_extract({g.sql(a[0])}, {g.sql(a[1])}, {group})"


def _count_if(g, a):
    return f"count(CASE WHEN {g.sql(a[0])} THEN 1 END)"


def _minmax_by(desc):
    def emit(g, a):
        order = "DESC NULLS LAST" if desc else "ASC NULLS LAST"
        return (f"(array_agg({g.sql(a[0])} ORDER BY {g.sql(a[1])} {order}) "
                f"FILTER (WHERE {g.sql(a[1])} IS NOT NULL))[1]")
    return emit


def _date_unit(g, node):
    if isinstance(node, exp.Literal) and node.is_string:
        unit = node.this.lower()
        if unit not in ("millisecond", "second", "minute", "hour", "day", "week",
                        "month", "quarter", "year"):
            raise TrinoError("INVALID_FUNCTION_ARGUMENT", f"'{node.this}' is not a valid Time field", 1, 1)
        return quote_literal(unit)
    return g.sql(node)


FUNCTIONS = {
    "lower": lambda g, a: f"athena_fn.trino_lower({g.sql(a[0])})",
    "upper": lambda g, a: f"athena_fn.trino_upper({g.sql(a[0])})",
    "length": lambda g, a: f"athena_fn.trino_length({g.sql(a[0])})",
    "substr": _substr,
    "substring": _substr,
    "coalesce": lambda g, a: f"COALESCE({g.format_args(*a)})",
    "nullif": lambda g, a: f"NULLIF({g.format_args(*a)})",
    "date_trunc": lambda g, a: f"athena_fn.trino_date_trunc({_date_unit(g, a[0])}, {g.sql(a[1])})",
    "date_add": lambda g, a: f"athena_fn.trino_date_add({_date_unit(g, a[0])}, {g.sql(a[1])}, {g.sql(a[2])})",
    "date_diff": lambda g, a: f"athena_fn.trino_date_diff({_date_unit(g, a[0])}, {g.sql(a[1])}, {g.sql(a[2])})",
    "year": _extract("year"), "quarter": _extract("quarter"), "month": _extract("month"),
    "week": _extract("week"), "week_of_year": _extract("week"), "day": _extract("day"),
    "day_of_month": _extract("day"), "day_of_week": _extract("day_of_week"),
    "dow": _extract("day_of_week"), "day_of_year": _extract("day_of_year"),
    "doy": _extract("day_of_year"), "hour": _extract("hour"), "minute": _extract("minute"),
    "second": _extract("second"), "millisecond": _extract("millisecond"),
    "year_of_week": _extract("year_of_week"), "yow": _extract("year_of_week"),
    "json_format": lambda g, a: f"athena_fn.json_format({g.sql(a[0])})",
    "json_parse": lambda g, a: f"athena_fn.json_parse({g.sql(a[0])})",
    "json_extract": lambda g, a: f"athena_fn.json_extract({g.sql(a[0])}, {g.sql(a[1])})",
    "json_extract_scalar": lambda g, a: f"athena_fn.json_extract_scalar({g.sql(a[0])}, {g.sql(a[1])})",
    "from_iso8601_timestamp": lambda g, a: f"athena_fn.from_iso8601_timestamp({g.sql(a[0])})",
    "from_iso8601_date": lambda g, a: f"CAST({g.sql(a[0])} AS date)",
    "to_iso8601": lambda g, a: f"athena_fn.to_iso8601({g.sql(a[0])})",
    "from_unixtime": lambda g, a: f"CAST(to_timestamp({g.sql(a[0])}) AS timestamptz(3))",
    "to_unixtime": lambda g, a: f"CAST(EXTRACT(epoch FROM {g.sql(a[0])}) AS double precision)",
    "date": lambda g, a: f"CAST({g.sql(a[0])} AS date)",
    "count": None,  # handled by count_sql
    "sum": lambda g, a: f"athena_fn.trino_sum({g.agg_args(a)})",
    "avg": lambda g, a: f"athena_fn.trino_avg({g.agg_args(a)})",
    "min": lambda g, a: f"min({g.agg_args(a)})",
    "max": lambda g, a: f"max({g.agg_args(a)})",
    "bool_and": lambda g, a: f"bool_and({g.agg_args(a)})",
    "bool_or": lambda g, a: f"bool_or({g.agg_args(a)})",
    "every": lambda g, a: f"bool_and({g.agg_args(a)})",
    "arbitrary": lambda g, a: f"athena_fn.arbitrary({g.agg_args(a)})",
    "any_value": lambda g, a: f"athena_fn.arbitrary({g.agg_args(a)})",
    "count_if": _count_if,
    "approx_distinct": lambda g, a: f"count(DISTINCT {g.sql(a[0])})",
    "array_agg": lambda g, a: f"array_agg({g.agg_args(a)})",
    # ROW(a, b): a composite type of the fields' types (Compiler.row_nodes)
    "row": lambda g, a: g.row_sql(a),
    "max_by": _minmax_by(True),
    "min_by": _minmax_by(False),
    "stddev": lambda g, a: f"CAST(stddev({g.agg_args(a)}) AS double precision)",
    "stddev_samp": lambda g, a: f"CAST(stddev_samp({g.agg_args(a)}) AS double precision)",
    "stddev_pop": lambda g, a: f"CAST(stddev_pop({g.agg_args(a)}) AS double precision)",
    "variance": lambda g, a: f"CAST(variance({g.agg_args(a)}) AS double precision)",
    "var_samp": lambda g, a: f"CAST(var_samp({g.agg_args(a)}) AS double precision)",
    "var_pop": lambda g, a: f"CAST(var_pop({g.agg_args(a)}) AS double precision)",
    "row_number": _f("row_number"), "rank": _f("rank"), "dense_rank": _f("dense_rank"),
    "percent_rank": _f("percent_rank"), "cume_dist": _f("cume_dist"), "ntile": _f("ntile"),
    "lag": _f("lag"), "lead": _f("lead"), "first_value": _f("first_value"),
    "last_value": _f("last_value"), "nth_value": _f("nth_value"),
    "abs": _f("abs"), "floor": _f("floor"), "ceil": _f("ceil"), "ceiling": _f("ceil"),
    "sqrt": _f("sqrt"), "ln": _f("ln"), "exp": _f("exp"), "sign": _f("sign"),
    "power": _f("power"), "pow": _f("power"),
    "mod": lambda g, a: f"athena_fn.trino_mod({g.sql(a[0])}, {g.sql(a[1])})",
    "round": lambda g, a: f"athena_fn.trino_round({g.format_args(*a)})",
    "truncate": lambda g, a: f"trunc({g.format_args(*a)})",
    "concat": _concat,
    "strpos": lambda g, a: f"strpos({g.sql(a[0])}, {g.sql(a[1])})",
    "replace": lambda g, a: (f"replace({g.format_args(*a)})" if len(a) == 3
                             else f"replace({g.sql(a[0])}, {g.sql(a[1])}, '')"),
    "trim": _f("btrim"), "ltrim": _f("ltrim"), "rtrim": _f("rtrim"),
    "lpad": _f("lpad"), "rpad": _f("rpad"), "reverse": _f("reverse"),
    "starts_with": lambda g, a: f"starts_with({g.sql(a[0])}, {g.sql(a[1])})",
    "split": lambda g, a: f"string_to_array({g.sql(a[0])}, {g.sql(a[1])})",
    "cardinality": lambda g, a: f"CAST(cardinality({g.sql(a[0])}) AS bigint)",
    "contains": lambda g, a: f"({g.sql(a[1])} = ANY({g.sql(a[0])}))",
    "element_at": lambda g, a: f"athena_fn.element_at({g.sql(a[0])}, {g.sql(a[1])})",
    "regexp_like": lambda g, a: f"({g.sql(a[0])} ~ {g.sql(a[1])})",
    "regexp_replace": _regexp_replace,
    "regexp_extract": _regexp_extract,
    "greatest": _greatest("GREATEST"),
    "least": _greatest("LEAST"),
    "if": _if,
    "chr": _f("chr"),
    "codepoint": lambda g, a: f"CAST(ascii({g.sql(a[0])}) AS integer)",
    "sequence": lambda g, a: f"ARRAY(SELECT generate_series({g.format_args(*a)}))",
    "current_timestamp": lambda g, a: g.now_sql(),
    "now": lambda g, a: g.now_sql(),
    "current_date": lambda g, a: f"CAST({g.now_sql()} AS date)",
    "to_hex": lambda g, a: f"upper(encode({g.sql(a[0])}, 'hex'))",
    "from_hex": lambda g, a: f"decode({g.sql(a[0])}, 'hex')",
    "to_utf8": lambda g, a: f"convert_to({g.sql(a[0])}, 'UTF8')",
    "from_utf8": lambda g, a: f"convert_from({g.sql(a[0])}, 'UTF8')",
}

# sqlglot parses some Trino functions into classes: their Trino name and the
# argument order.
_CLASS_FUNCTIONS = {
    exp.Lower: ("lower", ["this"]),
    exp.Upper: ("upper", ["this"]),
    exp.Length: ("length", ["this"]),
    exp.Substring: ("substr", ["this", "start", "length"]),
    exp.Coalesce: ("coalesce", ["this", "expressions"]),
    exp.DateTrunc: ("date_trunc", ["this", "expression"]),
    exp.Year: ("year", ["this"]),
    exp.Month: ("month", ["this"]),
    exp.Day: ("day", ["this"]),
    # sqlglot reads these Trino functions into classes of their own
    exp.DayOfWeek: ("day_of_week", ["this"]),
    exp.DayOfYear: ("day_of_year", ["this"]),
    exp.DayOfMonth: ("day_of_month", ["this"]),
    exp.Week: ("week", ["this"]),
    exp.WeekOfYear: ("week_of_year", ["this"]),
    exp.JSONExtractScalar: ("json_extract_scalar", ["this", "expression"]),
    exp.JSONExtract: ("json_extract", ["this", "expression"]),
    exp.CurrentTimestamp: ("current_timestamp", []),
    exp.CurrentDate: ("current_date", []),
    exp.Sum: ("sum", ["this"]),
    exp.Avg: ("avg", ["this"]),
    exp.Min: ("min", ["this"]),
    exp.Max: ("max", ["this"]),
    exp.LogicalOr: ("bool_or", ["this"]),
    exp.ApproxDistinct: ("approx_distinct", ["this"]),
    exp.ArrayAgg: ("array_agg", ["this"]),
    exp.Abs: ("abs", ["this"]),
    exp.Round: ("round", ["this", "decimals"]),
    exp.Floor: ("floor", ["this"]),
    exp.Ceil: ("ceil", ["this"]),
    exp.Concat: ("concat", ["expressions"]),
    exp.StrPosition: ("strpos", ["this", "substr"]),
    exp.Trim: ("trim", ["this"]),
    exp.Split: ("split", ["this", "expression"]),
    exp.ArraySize: ("cardinality", ["this"]),
    exp.ArrayContains: ("contains", ["this", "expression"]),
    exp.RegexpLike: ("regexp_like", ["this", "expression"]),
    exp.DateAdd: ("date_add", ["unit", "expression", "this"]),
    exp.DateDiff: ("date_diff", ["unit", "expression", "this"]),
    exp.UnixToTime: ("from_unixtime", ["this"]),
    exp.TimeToUnix: ("to_unixtime", ["this"]),
    exp.Greatest: ("greatest", ["this", "expressions"]),
    exp.Least: ("least", ["this", "expressions"]),
    exp.If: ("if", ["this", "true", "false"]),
    exp.Sqrt: ("sqrt", ["this"]),
    exp.Pow: ("power", ["this", "expression"]),
    exp.Ln: ("ln", ["this"]),
    exp.Hex: ("to_hex", ["this"]),
    exp.Unhex: ("from_hex", ["this"]),
    exp.Stddev: ("stddev", ["this"]),
    exp.StddevPop: ("stddev_pop", ["this"]),
    exp.StddevSamp: ("stddev_samp", ["this"]),
    exp.Variance: ("variance", ["this"]),
    exp.VariancePop: ("var_pop", ["this"]),
    exp.RowNumber: ("row_number", []),
}


def function_call(node):
    """(trino name, argument list) of a function node, or None."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower(), list(node.expressions)
    spec = _CLASS_FUNCTIONS.get(type(node))
    if spec is None:
        return None
    name, keys = spec
    args = []
    for k in keys:
        v = node.args.get(k)
        if isinstance(v, list):
            args.extend(v)
        elif v is not None:
            args.append(v)
    return name, args


EXTRACT_FIELDS = {
    "year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day",
    "day_of_month": "day", "day_of_week": "day_of_week", "dow": "day_of_week",
    "day_of_year": "day_of_year", "doy": "day_of_year", "year_of_week": "year_of_week",
    "yow": "year_of_week", "hour": "hour", "minute": "minute", "second": "second",
    "millisecond": "millisecond", "timezone_hour": "timezone_hour",
    "timezone_minute": "timezone_minute",
}

_PG_EXTRACT = {
    "day_of_week": "isodow", "day_of_year": "doy", "year_of_week": "isoyear",
    "timezone_hour": "timezone_hour", "timezone_minute": "timezone_minute",
}


# ---------------------------------------------------------------------------
# The compiler.

class TableRef:
    """A reference to a catalog table in the query (one per FROM item)."""

    def __init__(self, node, catalog, database, name):
        self.node = node
        self.catalog = catalog
        self.database = database
        self.name = name
        alias = node.args.get("alias")
        self.alias = (alias.name if alias is not None and alias.name else name).lower()
        self.glue = None          # the Glue table, set by the engine
        self.columns = []         # [(name lower-cased, glue type)]
        self.partition_columns = []


class Compiler:
    """Compiles one parsed statement into PostgreSQL SQL."""

    def __init__(self, stmt, tokens, default_database, now_literal, default_catalog=None):
        self.stmt = stmt
        self.tokens = tokens
        self.default_database = (default_database or "default").lower()
        self.default_catalog = (default_catalog or "awsdatacatalog").lower()
        self.now_literal = now_literal
        # (TYPE, text) of the typed literals the text writes (DECIMAL '1.5'):
        # sqlglot makes them casts, and CAST('1.5' AS DECIMAL) types otherwise
        self.typed_literals = {(a.value.upper(), b.value) for a, b in zip(tokens, tokens[1:])
                               if a.kind == "word" and b.kind == "string"}
        self.refs = []
        self.cte_names = set()
        self.qualifiers = set()
        for cte in stmt.find_all(exp.CTE):
            if cte.alias:
                self.cte_names.add(cte.alias.lower())
        for node in stmt.find_all(exp.Table, exp.Subquery, exp.Unnest, exp.Values):
            alias = node.args.get("alias")
            if alias is not None and alias.name:
                self.qualifiers.add(alias.name.lower())
        for table in stmt.find_all(exp.Table):
            name = table.name.lower()
            db = table.text("db").lower()
            catalog = table.text("catalog").lower()
            if not db and name in self.cte_names:
                continue
            ref = TableRef(table, catalog or self.default_catalog, db or self.default_database, name)
            self.refs.append(ref)
            self.qualifiers.add(ref.alias)
        self._check_functions()

    def position(self, name):
        t = find_token(self.tokens, name)
        return (t.line, t.col) if t else (1, 1)

    def _check_functions(self):
        for node in self.stmt.walk(bfs=False):
            node = node[0] if isinstance(node, tuple) else node
            if isinstance(node, (exp.Func,)) and not isinstance(
                    node, (exp.Cast, exp.TryCast, exp.Count, exp.Extract, exp.Case, exp.Array,
                           exp.Interval, exp.If, exp.Coalesce, exp.Filter)):
                call = function_call(node)
                if call is None:
                    name = getattr(node, "sql_name", lambda: type(node).__name__)().lower()
                    raise TrinoError("NOT_SUPPORTED",
                                     f"Function '{name}' is not supported by the emulator",
                                     *self.position(name))
                name = call[0]
                if name not in FUNCTIONS:
                    raise TrinoError("FUNCTION_NOT_FOUND", f"Function '{name}' not registered",
                                     *self.position(name))

    def table_position(self, ref):
        return self.position(ref.node.name)

    # partition pruning ---------------------------------------------------

    def partition_conjuncts(self, ref):
        """The conjuncts of the WHERE (and inner-join ON) clauses of the SELECT
        that reads `ref` that involve only `ref`'s partition columns: Athena
        prunes with them."""
        select = ref.node.find_ancestor(exp.Select)
        if select is None or not ref.partition_columns:
            return []
        direct = ref.node.parent
        while direct is not None and not isinstance(direct, (exp.From, exp.Join)):
            direct = direct.parent
        if direct is None or direct.find_ancestor(exp.Select) is not select:
            return []
        others = set()
        for other in self.refs:
            if other is not ref and other.node.find_ancestor(exp.Select) is select:
                others.update(c for c, _ in other.columns + other.partition_columns)
        parts = {c for c, _ in ref.partition_columns}
        conds = []
        where = select.args.get("where")
        if where is not None:
            conds.append(where.this)
        for join in select.args.get("joins") or []:
            if join.args.get("on") is not None and join.side == "" and join.kind in ("", "INNER", "CROSS"):
                conds.append(join.args["on"])
        result = []
        for cond in conds:
            for c in _conjuncts(cond):
                if self._only_partition_columns(c, ref, parts, others):
                    result.append(c)
        return result

    def _only_partition_columns(self, cond, ref, parts, others):
        cols = list(cond.find_all(exp.Column))
        if not cols:
            return False
        if any(cond.find_all(exp.Subquery, exp.Select, exp.Window, exp.AggFunc, exp.Dot,
                             exp.Bracket)):
            return False
        for c in cols:
            if c.text("db") or c.text("catalog"):
                return False
            table = c.text("table").lower()
            name = c.name.lower()
            if table and table != ref.alias:
                return False
            if not table and name in others:
                return False
            if name not in parts:
                return False
        return True

    def compile_predicate(self, conds, ref):
        """PostgreSQL text of the AND of `conds`, with `ref`'s partition
        columns unqualified (for the pruning query)."""
        gen = PgGenerator(self, {}, unqualify=ref.alias)
        return " AND ".join(f"({gen.generate(c.copy())})" for c in conds) or "true"

    # ROW constructors -------------------------------------------------------

    def row_nodes(self):
        """The ROW(...) constructors of the statement, inner ones first: each
        needs the PostgreSQL types of its fields (row_probe) before the
        statement compiles."""
        nodes = [n for n in self.stmt.find_all(exp.Anonymous) if n.name.lower() == "row"]
        return sorted(nodes, key=lambda n: -len(_ancestors(n)))

    def row_probe(self, node, relations):
        """PostgreSQL text of `SELECT <fields of node> FROM ... WHERE ...` of
        the SELECT the ROW is in: the fields' types are its columns' types."""
        select = node.find_ancestor(exp.Select)
        # a ROW in a FROM item (UNNEST(ARRAY[ROW(...)])) sees no column of
        # its SELECT's FROM: its fields are typed alone
        child = node
        while select is not None and child.parent is not select:
            child = child.parent
        if select is not None and child.arg_key in ("from", "joins"):
            select = None
        if select is None:
            return "SELECT " + ", ".join(
                f"{PgGenerator(self, relations).generate(f.copy())} AS \"f{i}\""
                for i, f in enumerate(node.expressions, 1))
        copy = select.copy()
        rels = {}
        target = None
        for o, c in zip(select.walk(bfs=False), copy.walk(bfs=False)):
            o = o[0] if isinstance(o, tuple) else o
            c = c[0] if isinstance(c, tuple) else c
            if id(o) in relations:
                rels[id(c)] = relations[id(o)]
            if o is node:
                target = c
        for key in ("group", "having", "order", "limit", "offset", "distinct", "qualify"):
            copy.set(key, None)
        copy.set("expressions", [exp.alias_(f, f"f{i}", quoted=True)
                                 for i, f in enumerate(target.expressions, 1)])
        return PgGenerator(self, rels).generate(copy)

    def compile(self, relations):
        """The PostgreSQL text of the statement; `relations` maps id(table
        node) to the SQL of the relation that replaces it."""
        gen = PgGenerator(self, relations)
        stmt = self.stmt
        return gen.generate(stmt)

    def output_names(self, pg_names):
        """Athena's names of the result columns (an expression without an
        alias is _col<position>); `pg_names`, PostgreSQL's, fill in what a
        `*` expands to."""
        node = self.stmt
        while isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            node = node.this
        if isinstance(node, exp.Subquery):
            node = node.unnest()
        if not isinstance(node, exp.Select):
            return list(pg_names)
        items = node.expressions
        stars = [e for e in items
                 if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))]
        if len(stars) > 1:
            return list(pg_names)
        width = len(pg_names) - (len(items) - 1) if stars else 0
        names = []
        for e in items:
            i = len(names)
            if e in stars:
                names.extend(pg_names[i:i + width])
            elif isinstance(e, exp.Alias):
                names.append(e.alias.lower())
            elif isinstance(e, exp.Column):
                names.append(e.name.lower())
            elif isinstance(e, exp.Dot):
                names.append(e.expression.name.lower() if isinstance(e.expression, exp.Identifier)
                             else f"_col{i}")
            else:
                names.append(f"_col{i}")
        return names if len(names) == len(pg_names) else list(pg_names)


def _ancestors(node):
    out = []
    while node.parent is not None:
        node = node.parent
        out.append(node)
    return out


def _conjuncts(node):
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


class PgGenerator(Generator):
    """sqlglot's generator with Trino's semantics spelled out for PostgreSQL."""

    NULL_ORDERING_SUPPORTED = True

    def __init__(self, compiler, relations, unqualify=None):
        super().__init__(identify=True, normalize=False, unsupported_level=sqlglot.ErrorLevel.IGNORE)
        self.compiler = compiler
        self.relations = relations
        self.unqualify = unqualify
        self._select_index = 0

    def position(self, name):
        return self.compiler.position(name)

    def now_sql(self):
        return f"CAST({quote_literal(self.compiler.now_literal)} AS timestamptz(3))"

    # names -----------------------------------------------------------------

    def identifier_sql(self, expression):
        return quote_ident(expression.name)

    def table_sql(self, expression, sep=" AS "):
        rel = self.relations.get(id(expression))
        if rel is not None:
            alias = expression.args.get("alias")
            cols = ""
            if alias is not None and alias.columns:
                cols = "(" + ", ".join(quote_ident(c.name) for c in alias.columns) + ")"
            alias_name = alias.name if alias is not None and alias.name else expression.name
            return f"{rel} AS {quote_ident(alias_name)}{cols}"
        if expression.text("db"):
            raise TrinoError("TABLE_NOT_FOUND",
                             f"Table '{expression.sql(dialect='trino')}' does not exist",
                             *self.position(expression.name))
        return super().table_sql(expression, sep)

    def column_sql(self, expression):
        if isinstance(expression.this, exp.Star):
            table = expression.text("table")
            return f"{quote_ident(table)}.*" if table else "*"
        parts = [p for p in (expression.text("catalog"), expression.text("db"),
                             expression.text("table"), expression.name) if p]
        parts = [p.lower() for p in parts]
        comp = self.compiler
        qualifier, rest = None, parts
        if len(parts) >= 2 and parts[0] in comp.qualifiers:
            qualifier, rest = parts[0], parts[1:]
        elif len(parts) >= 3:
            for ref in comp.refs:
                if parts[0] == ref.database and parts[1] == ref.name and ref.alias == ref.name:
                    qualifier, rest = ref.name, parts[2:]
                    break
            else:
                if len(parts) >= 4 and parts[0] == "awsdatacatalog":
                    for ref in comp.refs:
                        if parts[1] == ref.database and parts[2] == ref.name:
                            qualifier, rest = ref.name, parts[3:]
        if qualifier is not None and self.unqualify == qualifier:
            qualifier = None
        out = quote_ident(rest[0])
        if qualifier is not None:
            out = f"{quote_ident(qualifier)}.{out}"
        for field in rest[1:]:
            out = f"({out}).{quote_ident(field)}"
        return out

    def dot_sql(self, expression):
        return f"({self.sql(expression, 'this')}).{quote_ident(expression.expression.name)}"

    def bracket_sql(self, expression):
        this = self.sql(expression, "this")
        idx = expression.expressions[0]
        if isinstance(idx, exp.Literal) and not idx.is_string:
            # sqlglot shifted Trino's 1-based index to 0-based; both engines are 1-based
            return f"athena_fn.subscript({this}, {int(idx.this) + 1})"
        return f"athena_fn.subscript({this}, {self.sql(idx)})"

    def tablealias_sql(self, expression):
        alias = quote_ident(expression.name) if expression.name else ""
        columns = ", ".join(quote_ident(c.name) for c in expression.columns)
        return f"{alias}({columns})" if columns else alias

    # literals ------------------------------------------------------------

    def literal_sql(self, expression):
        if expression.is_string:
            return text_literal(expression.this)
        text = expression.this
        if re.fullmatch(r"\d+", text):
            v = int(text)
            if v > 9223372036854775807:
                raise TrinoError("INVALID_LITERAL", f"Invalid numeric literal: {text}", 1, 1)
            return text if v <= 2147483647 else f"CAST({text} AS bigint)"
        if "e" in text.lower():
            return f"CAST({text} AS double precision)"
        # a decimal literal is decimal(p,s): digits and digits after the point
        whole, _, frac = text.partition(".")
        digits = len((whole + frac).lstrip("0")) or 1
        precision = max(digits, len(frac), 1)
        if precision > 38:
            raise TrinoError("INVALID_LITERAL", f"Decimal literal is too long: {text}", 1, 1)
        return f"CAST({text} AS numeric({precision}, {len(frac)}))"

    def boolean_sql(self, expression):
        return "true" if expression.this else "false"

    def null_sql(self, *_):
        return "NULL"

    def interval_sql(self, expression):
        value = expression.this
        unit = expression.text("unit").upper() or "DAY"
        units = {"YEAR": "years", "MONTH": "months", "DAY": "days", "HOUR": "hours",
                 "MINUTE": "minutes", "SECOND": "seconds"}
        if unit not in units or not (isinstance(value, exp.Literal) and value.is_string):
            raise TrinoError("SYNTAX_ERROR", "mismatched input in interval literal", *self.position("interval"))
        return f"CAST({quote_literal(value.this + ' ' + units[unit])} AS interval)"

    # casts -----------------------------------------------------------------

    def cast_sql(self, expression):
        to = expression.args["to"]
        this = expression.this
        if to.this == exp.DataType.Type.JSON:
            return f"athena_fn.to_trino_json({self.sql(this)})"
        pgtype = pg_type_of_trino(to)
        literal = isinstance(this, exp.Literal) and this.is_string
        typed = literal and not to.expressions and \
            (to.this.value.upper(), this.this) in self.compiler.typed_literals
        if typed and to.this == exp.DataType.Type.DECIMAL:
            # DECIMAL '12.50' is decimal(4,2); CAST('12.50' AS DECIMAL) is decimal(38,0)
            m = re.fullmatch(r"\s*[+-]?(\d*)(?:\.(\d*))?\s*", this.this)
            if m is None:
                raise TrinoError("INVALID_LITERAL", f"'{this.this}' is not a valid decimal literal",
                                 *self.position("decimal"))
            whole, frac = m.group(1) or "", m.group(2) or ""
            pgtype = f"numeric({max(len(whole.lstrip('0')) + len(frac), len(frac), 1)}, {len(frac)})"
        elif typed and to.this == exp.DataType.Type.CHAR:
            pgtype = f"char({max(len(this.this), 1)})"
        if pgtype == "athena_fn.tinyint":
            # the domain checks nothing: the cast checks the range
            if isinstance(this, exp.Null):
                return "CAST(NULL AS athena_fn.tinyint)"
            inner = text_literal(this.this) if literal else self.sql(this)
            return f"athena_fn.to_tinyint({inner})"
        if literal and not _is_text_cast(pgtype):
            # typed literals: TIMESTAMP '...' keeps the precision it is written with
            if pgtype.startswith("timestamp(") and to.this == exp.DataType.Type.TIMESTAMP and not to.expressions:
                m = re.search(r"\.(\d+)", this.this)
                pgtype = f"timestamp({min(len(m.group(1)), 6) if m else 0})"
            return f"CAST({quote_literal(this.this)} AS {pgtype})"
        inner = self.sql(this)
        if _is_text_cast(pgtype):
            return f"(athena_fn.to_varchar({inner})::{pgtype} COLLATE \"C\")"
        return f"CAST({inner} AS {pgtype})"

    def trycast_sql(self, expression):
        to = expression.args["to"]
        pgtype = pg_type_of_trino(to)
        inner = self.sql(expression.this)
        if _is_text_cast(pgtype):
            return f"(athena_fn.to_varchar({inner})::{pgtype} COLLATE \"C\")"
        base = re.sub(r"\(.*\)", "", pgtype).replace(" ", "_")
        fn = {"athena_fn.tinyint": "tinyint", "smallint": "smallint", "integer": "integer", "bigint": "bigint", "real": "real",
              "double_precision": "double", "numeric": "numeric", "boolean": "boolean",
              "date": "date", "timestamp": "timestamp", "timestamptz": "timestamptz"}.get(base)
        if fn is None:
            raise TrinoError("NOT_SUPPORTED", f"try_cast to {pgtype} is not supported by the emulator",
                             *self.position("try_cast"))
        out = f"athena_fn.try_cast_{fn}({inner})"
        if pgtype != base and "(" in pgtype:
            out = f"CAST({out} AS {pgtype})"
        return out

    def datatype_sql(self, expression):
        return pg_type_of_trino(expression)

    # operators -----------------------------------------------------------

    def ordered_sql(self, expression):
        desc = " DESC" if expression.args.get("desc") else ""
        nulls = " NULLS FIRST" if expression.args.get("nulls_first") else " NULLS LAST"
        return f"{self.sql(expression, 'this')}{desc}{nulls}"

    def binary(self, expression, op):
        # Trino's precedence is in the tree: parentheses keep it in PostgreSQL
        return f"({self.sql(expression, 'this')} {op} {self.sql(expression, 'expression')})"

    def connector_sql(self, expression, op):
        return "(" + f" {op} ".join(self.sql(e) for e in expression.flatten()) + ")"

    def not_sql(self, expression):
        return f"(NOT {self.sql(expression, 'this')})"

    def neg_sql(self, expression):
        return f"(- {self.sql(expression, 'this')})"

    def between_sql(self, expression):
        return f"({super().between_sql(expression)})"

    def in_sql(self, expression):
        return f"({super().in_sql(expression)})"

    def is_sql(self, expression):
        if isinstance(expression.expression, exp.Null):
            # a row whose fields are all NULL IS NULL in PostgreSQL, not in Trino
            return f"({self.sql(expression, 'this')} IS NOT DISTINCT FROM NULL)"
        return self.binary(expression, "IS")

    def _like(self, like):
        return f"{self.sql(like, 'this')} LIKE {self.sql(like, 'expression')}"

    def like_sql(self, expression):
        out = "(" + self._like(expression)
        if not isinstance(expression.parent, exp.Escape):
            out += " ESCAPE ''"
        return out + ")"

    def escape_sql(self, expression):
        like = expression.this
        if not isinstance(like, exp.Like):
            raise TrinoError("SYNTAX_ERROR", "mismatched input 'ESCAPE'", *self.position("escape"))
        esc = expression.expression
        if isinstance(esc, exp.Literal) and esc.is_string and len(esc.this) != 1:
            raise TrinoError("INVALID_FUNCTION_ARGUMENT", "Escape string must be a single character",
                             *self.position("escape"))
        return f"({self._like(like)} ESCAPE {self.sql(esc)})"

    def dpipe_sql(self, expression):
        return f"athena_fn.trino_concat({self.sql(expression, 'this')}, {self.sql(expression, 'expression')})"

    def div_sql(self, expression):
        return f"athena_fn.trino_div({self.sql(expression, 'this')}, {self.sql(expression, 'expression')})"

    def mod_sql(self, expression):
        return f"athena_fn.trino_mod({self.sql(expression, 'this')}, {self.sql(expression, 'expression')})"

    def extract_sql(self, expression):
        field = expression.this.name.lower()
        if field not in EXTRACT_FIELDS:
            raise TrinoError("SYNTAX_ERROR", f"Invalid EXTRACT field: {field}", *self.position(field))
        return self.extract_field(EXTRACT_FIELDS[field], expression.expression)

    def extract_field(self, field, arg):
        inner = self.sql(arg)
        if field == "millisecond":
            return f"CAST(FLOOR(EXTRACT(milliseconds FROM {inner})) AS bigint) % 1000"
        pgfield = _PG_EXTRACT.get(field, field)
        return f"CAST(FLOOR(EXTRACT({pgfield} FROM {inner})) AS bigint)"

    # functions -----------------------------------------------------------

    def agg_args(self, args):
        if len(args) == 1 and isinstance(args[0], exp.Distinct):
            return "DISTINCT " + self.format_args(*args[0].expressions)
        return self.format_args(*args)

    def count_sql(self, expression):
        this = expression.this
        if this is None or isinstance(this, exp.Star):
            return "count(*)"
        return f"count({self.agg_args([this])})"

    def _function(self, expression):
        call = function_call(expression)
        if call is None:
            raise TrinoError("NOT_SUPPORTED", f"Function '{expression.sql_name().lower()}' is not supported",
                             1, 1)
        name, args = call
        emit = FUNCTIONS.get(name)
        if emit is None:
            raise TrinoError("FUNCTION_NOT_FOUND", f"Function '{name}' not registered",
                             *self.position(name))
        return emit(self, args)

    def function_fallback_sql(self, expression):
        return self._function(expression)

    def anonymous_sql(self, expression):
        if expression.name.lower() == "row":
            self._row = expression
        return self._function(expression)

    def row_sql(self, args):
        """ROW(a, b) as a value of the composite type the engine created for
        it (row_type): UNNEST of an array of them expands into its fields,
        as Trino's UNNEST of array(row(...)) does."""
        node = getattr(self, "_row", None)
        pgtype = node.args.get("pgtype") if node is not None else None
        fields = self.format_args(*args)
        if pgtype is None:
            return f"ROW({fields})"
        return f"CAST(ROW({fields}) AS {pgtype})"

    def array_sql(self, expression):
        return f"ARRAY[{self.format_args(*expression.expressions)}]"

    def unnest_sql(self, expression):
        args = self.format_args(*expression.expressions)
        alias = self.sql(expression, "alias")
        alias = f" AS {alias}" if alias else ""
        ordinality = " WITH ORDINALITY" if expression.args.get("ordinality") else ""
        return f"UNNEST({args}){ordinality}{alias}"

    def limit_sql(self, expression):
        this = self.sql(expression, "this")
        return f"{this} LIMIT {self.sql(expression, 'expression')}"

    def attimezone_sql(self, expression):
        return (f"athena_fn.at_time_zone({self.sql(expression, 'this')}, "
                f"{self.sql(expression, 'zone')})")

    def lambda_sql(self, expression):
        raise TrinoError("NOT_SUPPORTED", "lambda expressions are not supported by the emulator",
                         *self.position("->"))


# every function class goes through the allowlist (sqlglot's own
# transforms for some of them print other dialects' functions)
PgGenerator.TRANSFORMS = {cls: (lambda self, e: self._function(e)) for cls in _CLASS_FUNCTIONS}
