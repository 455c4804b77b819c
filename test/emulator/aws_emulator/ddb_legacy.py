"""DynamoDB's legacy conditional parameters, rewritten as the expressions
that replaced them (DynamoDB Developer Guide, "Legacy conditional
parameters"): AttributesToGet -> ProjectionExpression, Expected ->
ConditionExpression, AttributeUpdates -> UpdateExpression, KeyConditions ->
KeyConditionExpression, QueryFilter / ScanFilter -> FilterExpression, joined
by ConditionalOperator.  A request that mixes both kinds is refused with
DynamoDB's ValidationException.
"""
from .core import AwsError

_LEGACY = {
    "AttributesToGet": "ProjectionExpression",
    "Expected": "ConditionExpression",
    "AttributeUpdates": "UpdateExpression",
    "KeyConditions": "KeyConditionExpression",
    "QueryFilter": "FilterExpression",
    "ScanFilter": "FilterExpression",
    "ConditionalOperator": None,
}
_EXPRESSIONS = ("ProjectionExpression", "ConditionExpression", "UpdateExpression",
                "KeyConditionExpression", "FilterExpression")

_CMP = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}
_ARITY = {"EQ": 1, "NE": 1, "LE": 1, "LT": 1, "GE": 1, "GT": 1, "NOT_NULL": 0, "NULL": 0,
          "CONTAINS": 1, "NOT_CONTAINS": 1, "BEGINS_WITH": 1, "BETWEEN": 2}


def _vexc(message):
    return AwsError("ValidationException", message)


class _Names:
    def __init__(self, params):
        self.names = dict(params.get("ExpressionAttributeNames") or {})
        self.values = dict(params.get("ExpressionAttributeValues") or {})
        self.n = 0

    def name(self, attr):
        self.n += 1
        key = "#legacy%d" % self.n
        self.names[key] = attr
        return key

    def value(self, av):
        self.n += 1
        key = ":legacy%d" % self.n
        self.values[key] = av
        return key


def _condition(names, attr, cond, what):
    op = cond.get("ComparisonOperator")
    values = cond.get("AttributeValueList") or []
    n = names.name(attr)
    if op == "IN":
        if not values:
            raise _vexc("One or more parameter values were invalid: Invalid number of "
                        "argument(s) for the IN ComparisonOperator")
        return "%s IN (%s)" % (n, ", ".join(names.value(v) for v in values))
    if op not in _ARITY:
        raise _vexc("1 validation error detected: Value '%s' at '%s.%s.member."
                    "comparisonOperator' failed to satisfy constraint: Member must satisfy "
                    "enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, "
                    "NE, LE, BEGINS_WITH, GE, CONTAINS]" % (op, what, attr))
    if len(values) != _ARITY[op]:
        raise _vexc("One or more parameter values were invalid: Invalid number of "
                    "argument(s) for the %s ComparisonOperator" % op)
    v = [names.value(x) for x in values]
    if op in _CMP:
        return "%s %s %s" % (n, _CMP[op], v[0])
    if op == "NOT_NULL":
        return "attribute_exists(%s)" % n
    if op == "NULL":
        return "attribute_not_exists(%s)" % n
    if op == "CONTAINS":
        return "contains(%s, %s)" % (n, v[0])
    if op == "NOT_CONTAINS":
        return "NOT contains(%s, %s)" % (n, v[0])
    if op == "BEGINS_WITH":
        return "begins_with(%s, %s)" % (n, v[0])
    return "%s BETWEEN %s AND %s" % (n, v[0], v[1])


def _expected(names, attr, e):
    if e.get("ComparisonOperator") is not None:
        if e.get("Value") is not None:
            raise _vexc("One or more parameter values were invalid: Value and "
                        "ComparisonOperator cannot be used together for Attribute: %s" % attr)
        return _condition(names, attr, e, "expected")
    exists = e.get("Exists", True)
    if exists is False:
        if e.get("Value") is not None:
            raise _vexc("One or more parameter values were invalid: Value cannot be used "
                        "when Exists is false for Attribute: %s" % attr)
        return "attribute_not_exists(%s)" % names.name(attr)
    if e.get("Value") is None:
        raise _vexc("One or more parameter values were invalid: Value must be provided "
                    "when Exists is true for Attribute: %s" % attr)
    return "%s = %s" % (names.name(attr), names.value(e["Value"]))


def rewrite(p):
    """The request with its legacy parameters rewritten as expressions (the
    request itself when it has none)."""
    legacy = [k for k in _LEGACY if p.get(k) is not None]
    if not legacy:
        return p
    expr = [k for k in _EXPRESSIONS if p.get(k) is not None]
    if expr:
        raise _vexc("Can not use both expression and non-expression parameters in the same "
                    "request: Non-expression parameters: {%s} Expression parameters: {%s}"
                    % (", ".join(legacy), ", ".join(expr)))
    if legacy == ["ConditionalOperator"]:
        raise _vexc("ConditionalOperator cannot be used without a filter or expected "
                    "parameter")
    out = dict(p)
    out.pop("ConditionalOperator", None)
    names = _Names(p)
    joiner = " %s " % p.get("ConditionalOperator", "AND")
    if p.get("AttributesToGet") is not None:
        out["ProjectionExpression"] = ", ".join(names.name(a) for a in p["AttributesToGet"])
        del out["AttributesToGet"]
    if p.get("Expected") is not None:
        out["ConditionExpression"] = joiner.join(
            "(%s)" % _expected(names, a, e) for a, e in p["Expected"].items()) or None
        del out["Expected"]
    if p.get("KeyConditions") is not None:
        out["KeyConditionExpression"] = " AND ".join(
            _condition(names, a, c, "keyConditions") for a, c in p["KeyConditions"].items())
        del out["KeyConditions"]
    for param in ("QueryFilter", "ScanFilter"):
        if p.get(param) is not None:
            out["FilterExpression"] = joiner.join(
                "(%s)" % _condition(names, a, c, param[0].lower() + param[1:])
                for a, c in p[param].items()) or None
            del out[param]
    if p.get("AttributeUpdates") is not None:
        sections = {"SET": [], "REMOVE": [], "ADD": [], "DELETE": []}
        for a, u in p["AttributeUpdates"].items():
            action, value = u.get("Action", "PUT"), u.get("Value")
            if action == "PUT":
                if value is None:
                    raise _vexc("One or more parameter values were invalid: Only DELETE "
                                "action is allowed when no attribute value is specified")
                sections["SET"].append("%s = %s" % (names.name(a), names.value(value)))
            elif action == "DELETE" and value is None:
                sections["REMOVE"].append(names.name(a))
            elif value is None:
                raise _vexc("One or more parameter values were invalid: Only DELETE action "
                            "is allowed when no attribute value is specified")
            else:
                sections[action].append("%s %s" % (names.name(a), names.value(value)))
        out["UpdateExpression"] = " ".join(
            "%s %s" % (k, ", ".join(v)) for k, v in sections.items() if v) or None
        del out["AttributeUpdates"]
    for k in _EXPRESSIONS:
        if out.get(k) is None:
            out.pop(k, None)
    if names.names:
        out["ExpressionAttributeNames"] = names.names
    if names.values:
        out["ExpressionAttributeValues"] = names.values
    return out
