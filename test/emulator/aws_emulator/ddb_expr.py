"""DynamoDB attribute values and expressions: UpdateExpression (SET, REMOVE,
ADD, DELETE), ConditionExpression and ProjectionExpression, with
ExpressionAttributeNames/Values, evaluated the way DynamoDB evaluates them.

Attribute values are kept in the form the server parses them into: dicts of
one type key ({"S": "x"}, {"N": "1.5"}, {"B": b"..."}, {"SS": [...]},
{"M": {...}}, {"L": [...]}, {"NULL": True}, {"BOOL": False}); numbers are
normalized ("1.50" -> "1.5") as DynamoDB stores them.
"""
import re
from decimal import Context, Decimal, InvalidOperation

from .core import AwsError

_WIDE = Context(prec=1000, Emax=999999, Emin=-999999)
_TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")


def vexc(message):
    return AwsError("ValidationException", message)


# ---------------------------------------------------------------------------
# attribute values


_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def normalize_number(text):
    """A number as DynamoDB stores it.  Refused (ValidationException), as the
    DynamoDB Developer Guide's Number type says: more than 38 significant
    digits, a magnitude over 9.9999999999999999999999999999999999999E+125 or
    under 1E-130, and text that is not a number (spaces included)."""
    if not isinstance(text, str) or not _NUMBER_RE.match(text):
        raise vexc("The parameter cannot be converted to a numeric value: %s" % text)
    try:
        d = Decimal(text)
    except (InvalidOperation, ArithmeticError):
        raise vexc("The parameter cannot be converted to a numeric value: %s" % text)
    return _checked(d)


def _checked(d):
    if d == 0:
        return "0"
    adj = d.adjusted()
    if adj > 125:
        raise vexc("Number overflow. Attempting to store a number with magnitude larger "
                   "than supported range")
    if adj < -130:
        raise vexc("Number underflow. Attempting to store a number with magnitude smaller "
                   "than supported range")
    norm = d.normalize(_WIDE)
    digits = norm.as_tuple().digits
    if len(digits) > 38:
        raise vexc("Attempting to store more than 38 significant digits in a Number")
    return format(norm, "f")


def number_sum(a, b, subtract=False):
    """a + b (or a - b) of two stored numbers, exactly: a result that needs
    more than 38 digits is refused, never rounded."""
    da, db = Decimal(a), Decimal(b)
    return _checked(_WIDE.subtract(da, db) if subtract else _WIDE.add(da, db))


# DynamoDB Developer Guide, "Service, account, and table quotas": nested
# attributes up to 32 levels deep
MAX_DEPTH = 32


def check_value(av, path="item", depth=1):
    """Validates and normalizes one attribute value (in place)."""
    if not isinstance(av, dict) or len([k for k, v in av.items() if v is not None]) != 1:
        raise vexc("Supplied AttributeValue has more than one datatypes set, must contain "
                   "exactly one of the supported datatypes" if isinstance(av, dict) and av
                   else "Supplied AttributeValue is empty, must contain exactly one of the "
                   "supported datatypes")
    (t, v), = [(k, v) for k, v in av.items() if v is not None]
    if t == "N":
        return {"N": normalize_number(v)}
    if t in ("SS", "NS", "BS"):
        if not v:
            raise vexc("One or more parameter values were invalid: An %s may not be empty"
                       % {"SS": "string set", "NS": "number set", "BS": "binary set"}[t])
        if t == "NS":
            v = [normalize_number(x) for x in v]
        if len(set(v)) != len(v):
            raise vexc("One or more parameter values were invalid: Input collection %s "
                       "contains duplicates." % v)
        return {t: list(v)}
    if t in ("M", "L") and depth >= MAX_DEPTH:
        # a document whose scalars sit deeper than level 32
        raise vexc("Nesting Levels have exceeded supported limits: Attributes in the item "
                   "have nested levels beyond supported limit")
    if t == "M":
        return {"M": {k: check_value(x, path + "." + k, depth + 1) for k, x in v.items()}}
    if t == "L":
        return {"L": [check_value(x, path, depth + 1) for x in v]}
    if t == "NULL" and v is not True:
        raise vexc("One or more parameter values were invalid: Null attribute value types "
                   "must have the value of true")
    return {t: v}


def check_item(item):
    return {k: check_value(v, k) for k, v in item.items()}


def _canon(av):
    """A hashable, order-insensitive-for-sets form of a value (equality)."""
    (t, v), = av.items()
    if t in ("SS", "NS", "BS"):
        return (t, frozenset(v))
    if t == "M":
        return ("M", frozenset((k, _canon(x)) for k, x in v.items()))
    if t == "L":
        return ("L", tuple(_canon(x) for x in v))
    return (t, v)


def values_equal(a, b):
    if a is None or b is None:
        return a is b
    return _canon(a) == _canon(b)


def items_equal(a, b):
    if a is None or b is None:
        return a is b
    if a.keys() != b.keys():
        return False
    return all(values_equal(a[k], b[k]) for k in a)


def item_size(item):
    """Approximately DynamoDB's item size accounting (names + values)."""
    n = 0
    for k, v in item.items():
        n += len(k.encode()) + _value_size(v)
    return n


def _value_size(av):
    (t, v), = av.items()
    if t == "S":
        return len(v.encode())
    if t == "N":
        return (len(v.replace("-", "").replace(".", "")) + 1) // 2 + 1
    if t == "B":
        return len(v)
    if t in ("SS", "BS"):
        return sum(len(x.encode()) if t == "SS" else len(x) for x in v)
    if t == "NS":
        return sum(_value_size({"N": x}) for x in v)
    if t == "M":
        return 3 + sum(len(k.encode()) + _value_size(x) + 1 for k, x in v.items())
    if t == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    return 1


# ---------------------------------------------------------------------------
# tokens and parsing

_TOKEN_RE = re.compile(r"""
    \s*(?:
      (?P<name>\#[A-Za-z0-9_]+)
    | (?P<value>:[A-Za-z0-9_]+)
    | (?P<num>\d+)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><>|<=|>=|[=<>(),.\[\]+-])
    )""", re.X)

_KEYWORDS = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"}


def _tokenize(text, what):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise vexc("Invalid %s: Syntax error; token: \"%s\", near: \"%s\""
                       % (what, text[pos:].strip()[:1], text[max(pos - 5, 0):pos + 5].strip()))
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "ident" and val.upper() in _KEYWORDS:
            out.append(("kw", val.upper()))
        else:
            out.append((kind, val))
    out.append(("end", None))
    return out


class _Parser:
    def __init__(self, text, what, names, values, used_names, used_values):
        self.what = what
        self.toks = _tokenize(text, what)
        self.i = 0
        self.names = names or {}
        self.values = values or {}
        self.used_names = used_names
        self.used_values = used_values

    def peek(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, kind, val=None):
        t = self.next()
        if t[0] != kind or (val is not None and t[1] != val):
            raise self.syntax(t)
        return t

    def syntax(self, t):
        return vexc("Invalid %s: Syntax error; token: \"%s\"" % (
            self.what, t[1] if t[1] is not None else "<EOF>"))

    def at(self, kind, val=None):
        t = self.peek()
        return t[0] == kind and (val is None or t[1] == val)

    # path := segment ('.' segment | '[' n ']')*
    def path(self):
        segs = [self._name_seg()]
        while True:
            if self.at("op", "."):
                self.next()
                segs.append(self._name_seg())
            elif self.at("op", "["):
                self.next()
                n = self.expect("num")[1]
                self.expect("op", "]")
                segs.append(int(n))
            else:
                return tuple(segs)

    def _name_seg(self):
        t = self.next()
        if t[0] == "name":
            if t[1] not in self.names:
                raise vexc("Invalid %s: An expression attribute name used in the document "
                           "path is not defined; attribute name: %s" % (self.what, t[1]))
            self.used_names.add(t[1])
            return self.names[t[1]]
        if t[0] == "ident":
            return t[1]
        raise self.syntax(t)

    def value_ref(self):
        t = self.expect("value")
        if t[1] not in self.values:
            raise vexc("Invalid %s: An expression attribute value used in expression is not "
                       "defined; attribute value: %s" % (self.what, t[1]))
        self.used_values.add(t[1])
        return ("val", self.values[t[1]])

    # operand := path | :v | func(...)
    def operand(self):
        t = self.peek()
        if t[0] == "value":
            return self.value_ref()
        if t[0] == "ident" and self.toks[self.i + 1] == ("op", "("):
            fname = self.next()[1]
            self.next()
            args = [self.operand_expr()]
            while self.at("op", ","):
                self.next()
                args.append(self.operand_expr())
            self.expect("op", ")")
            return ("fn", fname, args)
        return ("path", self.path())

    def operand_expr(self):
        left = self.operand()
        while self.at("op", "+") or self.at("op", "-"):
            op = self.next()[1]
            right = self.operand()
            left = ("arith", op, left, right)
        return left

    # conditions
    def condition(self):
        left = self._and()
        while self.at("kw", "OR"):
            self.next()
            left = ("or", left, self._and())
        return left

    def _and(self):
        left = self._not()
        while self.at("kw", "AND"):
            self.next()
            left = ("and", left, self._not())
        return left

    def _not(self):
        if self.at("kw", "NOT"):
            self.next()
            return ("not", self._not())
        return self._primary()

    def _primary(self):
        if self.at("op", "("):
            self.next()
            c = self.condition()
            self.expect("op", ")")
            return c
        left = self.operand()
        if left[0] == "fn" and left[1] in ("attribute_exists", "attribute_not_exists",
                                           "attribute_type", "begins_with", "contains"):
            return ("test", left)
        t = self.peek()
        if t[0] == "op" and t[1] in ("=", "<>", "<", "<=", ">", ">="):
            self.next()
            return ("cmp", t[1], left, self.operand())
        if t == ("kw", "BETWEEN"):
            self.next()
            lo = self.operand()
            self.expect("kw", "AND")
            return ("between", left, lo, self.operand())
        if t == ("kw", "IN"):
            self.next()
            self.expect("op", "(")
            opts = [self.operand()]
            while self.at("op", ","):
                self.next()
                opts.append(self.operand())
            self.expect("op", ")")
            return ("in", left, opts)
        raise self.syntax(t)


class Expressions:
    """Parses the expressions of one request and checks, at the end, that
    every ExpressionAttributeName/Value given was used."""

    def __init__(self, params):
        self.names = params.get("ExpressionAttributeNames") or {}
        raw_values = params.get("ExpressionAttributeValues") or {}
        self.values = {k: check_value(v, k) for k, v in raw_values.items()}
        self.used_names = set()
        self.used_values = set()
        if params.get("ExpressionAttributeNames") == {}:
            raise vexc("ExpressionAttributeNames must not be empty")
        if params.get("ExpressionAttributeValues") == {}:
            raise vexc("ExpressionAttributeValues must not be empty")

    def parser(self, text, what):
        return _Parser(text, what, self.names, self.values, self.used_names,
                       self.used_values)

    def finish(self):
        unused = set(self.names) - self.used_names
        if unused:
            raise vexc("Value provided in ExpressionAttributeNames unused in expressions: "
                       "keys: {%s}" % ", ".join(sorted(unused)))
        unused = set(self.values) - self.used_values
        if unused:
            raise vexc("Value provided in ExpressionAttributeValues unused in expressions: "
                       "keys: {%s}" % ", ".join(sorted(unused)))

    def update(self, text):
        p = self.parser(text, "UpdateExpression")
        actions = []
        seen = set()
        while not p.at("end"):
            t = p.next()
            if t[0] != "kw" or t[1] not in ("SET", "REMOVE", "ADD", "DELETE"):
                raise p.syntax(t)
            if t[1] in seen:
                raise vexc("Invalid UpdateExpression: The \"%s\" section can only be used "
                           "once in an update expression;" % t[1])
            seen.add(t[1])
            while True:
                path = p.path()
                if t[1] == "SET":
                    p.expect("op", "=")
                    actions.append(("SET", path, p.operand_expr()))
                elif t[1] == "REMOVE":
                    actions.append(("REMOVE", path, None))
                else:
                    actions.append((t[1], path, p.value_ref()))
                if not p.at("op", ","):
                    break
                p.next()
        if not actions:
            raise vexc("Invalid UpdateExpression: The expression can not be empty;")
        paths = [a[1] for a in actions]
        for i, a in enumerate(paths):
            for b in paths[i + 1:]:
                n = min(len(a), len(b))
                if a[:n] == b[:n]:
                    raise vexc("Invalid UpdateExpression: Two document paths overlap with "
                               "each other; must remove or rewrite one of these paths; "
                               "path one: [%s], path two: [%s]"
                               % (_path_text(a), _path_text(b)))
        return actions

    def condition(self, text):
        p = self.parser(text, "ConditionExpression")
        c = p.condition()
        if not p.at("end"):
            raise p.syntax(p.peek())
        return c

    def condition_text(self, text, what):
        """A parsed condition, or None without text."""
        if text is None:
            return None
        p = self.parser(text, what)
        c = p.condition()
        if not p.at("end"):
            raise p.syntax(p.peek())
        return c

    def projection(self, text):
        p = self.parser(text, "ProjectionExpression")
        paths = [p.path()]
        while p.at("op", ","):
            p.next()
            paths.append(p.path())
        if not p.at("end"):
            raise p.syntax(p.peek())
        return paths


def _path_text(path):
    return ", ".join(str(s) if isinstance(s, str) else "[%d]" % s for s in path)


# ---------------------------------------------------------------------------
# evaluation


def get_path(item, path):
    cur = item.get(path[0]) if item is not None else None
    for seg in path[1:]:
        if cur is None:
            return None
        if isinstance(seg, int):
            lst = cur.get("L")
            cur = lst[seg] if lst is not None and seg < len(lst) else None
        else:
            m = cur.get("M")
            cur = m.get(seg) if m is not None else None
    return cur


def _bad_path():
    return vexc("The document path provided in the update expression is invalid for update")


def set_path(item, path, value):
    if len(path) == 1:
        item[path[0]] = value
        return
    parent = get_path(item, path[:-1])
    seg = path[-1]
    if parent is None:
        raise _bad_path()
    if isinstance(seg, int):
        lst = parent.get("L")
        if lst is None:
            raise _bad_path()
        if seg < len(lst):
            lst[seg] = value
        else:
            lst.append(value)
    else:
        m = parent.get("M")
        if m is None:
            raise _bad_path()
        m[seg] = value


def remove_path(item, path):
    if len(path) == 1:
        item.pop(path[0], None)
        return
    parent = get_path(item, path[:-1])
    if parent is None:
        return
    seg = path[-1]
    if isinstance(seg, int):
        lst = parent.get("L")
        if lst is not None and seg < len(lst):
            del lst[seg]
    else:
        m = parent.get("M")
        if m is not None:
            m.pop(seg, None)


def _type_error(what="update expression"):
    return vexc("An operand in the %s has an incorrect data type" % what)


def eval_operand(item, op):
    kind = op[0]
    if kind == "val":
        return op[1]
    if kind == "path":
        return get_path(item, op[1])
    if kind == "arith":
        a = eval_operand(item, op[2])
        b = eval_operand(item, op[3])
        if a is None or b is None:
            raise vexc("The provided expression refers to an attribute that does not exist "
                       "in the item")
        if "N" not in a or "N" not in b:
            raise _type_error()
        return {"N": number_sum(a["N"], b["N"], subtract=op[1] == "-")}
    if kind == "fn":
        name, args = op[1], op[2]
        if name == "if_not_exists":
            if len(args) != 2 or args[0][0] != "path":
                raise vexc("Invalid UpdateExpression: Incorrect number of operands for "
                           "operator or function; operator or function: if_not_exists")
            v = get_path(item, args[0][1])
            return v if v is not None else eval_operand(item, args[1])
        if name == "list_append":
            if len(args) != 2:
                raise vexc("Invalid UpdateExpression: Incorrect number of operands for "
                           "operator or function; operator or function: list_append")
            a, b = eval_operand(item, args[0]), eval_operand(item, args[1])
            if a is None or b is None:
                raise vexc("The provided expression refers to an attribute that does not "
                           "exist in the item")
            if "L" not in a or "L" not in b:
                raise _type_error()
            return {"L": list(a["L"]) + list(b["L"])}
        if name == "size":
            v = eval_operand(item, args[0])
            if v is None:
                return None
            (t, x), = v.items()
            if t in ("S",):
                return {"N": str(len(x.encode()))}
            if t in ("B", "SS", "NS", "BS", "L", "M"):
                return {"N": str(len(x))}
            raise _type_error("condition expression")
        raise vexc("Invalid expression: Invalid function name; function: %s" % name)
    raise AssertionError(op)


def apply_update(item, actions, key_names):
    """Applies parsed update actions to item (a dict, changed in place)."""
    for kind, path, arg in actions:
        if path[0] in key_names:
            raise vexc("One or more parameter values were invalid: Cannot update attribute "
                       "%s. This attribute is part of the key" % path[0])
    # SET operands are evaluated against the item as it was before the
    # update, and list indexes name positions in the list as it was: sets
    # first (past the end: appended in index order), then ADD and DELETE,
    # then removals from the highest index down (DynamoDB Developer Guide,
    # "Update expressions": REMOVE a[1] SET a[3] on [2,3,4,5,6,7] gives
    # [2,4,17,6,7])
    before = _deep_copy(item)

    def last_index(action):
        seg = action[1][-1]
        return seg if isinstance(seg, int) else -1

    order = {"SET": 0, "ADD": 1, "DELETE": 1, "REMOVE": 2}
    actions = sorted(actions, key=lambda a: (order[a[0]], last_index(a)
                                             if a[0] == "SET" else -last_index(a)))
    for kind, path, arg in actions:
        if kind == "SET":
            set_path(item, path, _deep_copy(eval_operand(before, arg)))
        elif kind == "REMOVE":
            remove_path(item, path)
        elif kind == "ADD":
            val = arg[1]
            cur = get_path(item, path)
            if cur is None:
                if "N" not in val and not any(t in val for t in ("SS", "NS", "BS")):
                    raise vexc("Invalid UpdateExpression: Incorrect operand type for operator "
                               "or function; operator: ADD, operand type: %s" % list(val)[0])
                set_path(item, path, _deep_copy(val))
            elif "N" in cur and "N" in val:
                set_path(item, path, {"N": number_sum(cur["N"], val["N"])})
            elif list(cur)[0] == list(val)[0] and list(cur)[0] in ("SS", "NS", "BS"):
                t = list(cur)[0]
                merged = list(cur[t]) + [x for x in val[t] if x not in cur[t]]
                set_path(item, path, {t: merged})
            else:
                raise vexc("An operand in the update expression has an incorrect data type")
        elif kind == "DELETE":
            val = arg[1]
            cur = get_path(item, path)
            if cur is None:
                continue
            t = list(cur)[0]
            if t not in ("SS", "NS", "BS") or t not in val:
                raise vexc("An operand in the update expression has an incorrect data type")
            left = [x for x in cur[t] if x not in val[t]]
            if left:
                set_path(item, path, {t: left})
            else:
                remove_path(item, path)


def _deep_copy(av):
    if av is None:
        return None
    if isinstance(av, dict):
        return {k: _deep_copy(v) for k, v in av.items()}
    if isinstance(av, list):
        return [_deep_copy(v) for v in av]
    return av


def _compare(a, b):
    """-1/0/1 for values of the same scalar type, None if not comparable."""
    if a is None or b is None:
        return None
    (ta, va), = a.items()
    (tb, vb), = b.items()
    if ta != tb or ta not in ("S", "N", "B"):
        return None
    if ta == "N":
        va, vb = Decimal(va), Decimal(vb)
    elif ta == "S":
        va, vb = va.encode(), vb.encode()
    return (va > vb) - (va < vb)


def eval_condition(item, cond):
    kind = cond[0]
    if kind == "or":
        return eval_condition(item, cond[1]) or eval_condition(item, cond[2])
    if kind == "and":
        return eval_condition(item, cond[1]) and eval_condition(item, cond[2])
    if kind == "not":
        return not eval_condition(item, cond[1])
    if kind == "cmp":
        op, a, b = cond[1], eval_operand(item, cond[2]), eval_operand(item, cond[3])
        if op == "=":
            return a is not None and b is not None and values_equal(a, b)
        if op == "<>":
            return not (a is not None and b is not None and values_equal(a, b))
        c = _compare(a, b)
        if c is None:
            return False
        return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
    if kind == "between":
        v = eval_operand(item, cond[1])
        lo, hi = eval_operand(item, cond[2]), eval_operand(item, cond[3])
        a, b = _compare(v, lo), _compare(v, hi)
        return a is not None and b is not None and a >= 0 and b <= 0
    if kind == "in":
        v = eval_operand(item, cond[1])
        return v is not None and any(values_equal(v, eval_operand(item, o)) for o in cond[2])
    if kind == "test":
        _, name, args = cond[1]
        if args[0][0] != "path":
            raise vexc("Invalid ConditionExpression: Operator or function requires a document "
                       "path; operator or function: %s" % name)
        v = get_path(item, args[0][1])
        if name == "attribute_exists":
            return v is not None
        if name == "attribute_not_exists":
            return v is None
        if name == "attribute_type":
            t = eval_operand(item, args[1])
            return v is not None and t is not None and list(v)[0] == t.get("S")
        if name == "begins_with":
            p = eval_operand(item, args[1])
            if v is None or p is None:
                return False
            if "S" in v and "S" in p:
                return v["S"].startswith(p["S"])
            if "B" in v and "B" in p:
                return v["B"].startswith(p["B"])
            return False
        if name == "contains":
            x = eval_operand(item, args[1])
            if v is None or x is None:
                return False
            (t, val), = v.items()
            if t == "S" and "S" in x:
                return x["S"] in val
            if t in ("SS", "NS", "BS"):
                return list(x.values())[0] in val
            if t == "L":
                return any(values_equal(e, x) for e in val)
            return False
    raise AssertionError(cond)


def project(item, paths):
    out = {}
    for path in paths:
        v = get_path(item, path)
        if v is None:
            continue
        if len(path) == 1:
            out[path[0]] = _deep_copy(v)
        else:
            # nested projections keep the enclosing maps/lists
            cur_src, cur_dst = item, out
            for seg in path[:-1]:
                src = cur_src.get(seg) if isinstance(cur_src, dict) else None
                if isinstance(seg, int):
                    break
                node = cur_dst.setdefault(seg, {"M": {}})
                cur_src, cur_dst = src.get("M", {}), node["M"]
            else:
                cur_dst[path[-1]] = _deep_copy(v)
    return out
