"""DynamoDB: tables with a stream, single-item writes and reads.

CreateTable (StreamSpecification with every StreamViewType), DescribeTable
(LatestStreamArn), UpdateTable (turn the stream on/off), DeleteTable,
ListTables, PutItem, UpdateItem (SET/REMOVE/ADD/DELETE), DeleteItem,
GetItem (ProjectionExpression), BatchWriteItem, Scan and Query (Limit,
ExclusiveStartKey, FilterExpression, ProjectionExpression; Query's
KeyConditionExpression and ScanIndexForward), UpdateTimeToLive,
DescribeTimeToLive.

Every write that changes an item appends one record to the table's stream
(dynamodbstreams.py): INSERT, MODIFY or REMOVE, with the images the view
type asks for.  A write that leaves the item as it was (same attributes,
same values) appends nothing, as in DynamoDB.  Items whose TTL attribute
(epoch seconds) has passed by the emulator clock are deleted by the TTL
sweeper with a REMOVE record whose userIdentity names the DynamoDB service.
"""
from decimal import Decimal

from .core import AwsError, Service
from .ddb_expr import (Expressions, apply_update, check_item,
                       eval_condition, item_size, items_equal, project, vexc,
                       _deep_copy)

MAX_ITEM_SIZE = 400 * 1024


def _not_found(name=None):
    return AwsError("ResourceNotFoundException",
                    "Requested resource not found" + (": Table: %s not found" % name
                                                      if name else ""))


class Table:
    def __init__(self, name, params, created, arn):
        self.name = name
        self.arn = arn
        self.created = created
        self.key_schema = params["KeySchema"]
        self.attribute_definitions = params["AttributeDefinitions"]
        self.hash_key = next(k["AttributeName"] for k in self.key_schema
                             if k["KeyType"] == "HASH")
        rk = [k["AttributeName"] for k in self.key_schema if k["KeyType"] == "RANGE"]
        self.range_key = rk[0] if rk else None
        self.key_types = {a["AttributeName"]: a["AttributeType"]
                          for a in self.attribute_definitions}
        self.billing_mode = params.get("BillingMode", "PROVISIONED")
        self.provisioned = params.get("ProvisionedThroughput")
        self.items = {}
        self.stream = None          # streams.Stream while enabled
        self.stream_history = []    # every stream this table ever had
        self.described = False
        self.ttl_attribute = None

    @property
    def key_names(self):
        return [self.hash_key] + ([self.range_key] if self.range_key else [])

    def key_of(self, item, what="item"):
        """The hashable key of an item (or Key parameter); validates it."""
        parts = []
        for name in self.key_names:
            av = item.get(name)
            if av is None:
                raise vexc("One or more parameter values were invalid: Missing the key %s "
                           "in the %s" % (name, what))
            want = self.key_types[name]
            if list(av)[0] != want:
                raise vexc("One or more parameter values were invalid: Type mismatch for key "
                           "%s expected: %s actual: %s" % (name, want, list(av)[0]))
            v = av[want]
            if want in ("S", "B") and len(v) == 0:
                raise vexc("One or more parameter values are not valid. The AttributeValue "
                           "for a key attribute cannot contain an empty %s value. Key: %s"
                           % ("string" if want == "S" else "binary", name))
            parts.append(v)
        return tuple(parts)

    def key_item(self, item):
        return {k: item[k] for k in self.key_names}


class DynamoDB(Service):
    name = "dynamodb"

    def __init__(self, emu):
        super().__init__(emu)
        self.tables = {}

    @property
    def streams(self):
        return self.emu.service("dynamodbstreams")

    def _table(self, name):
        t = self.tables.get(name)
        if t is None:
            raise _not_found(name)
        return t

    # ---- tables

    def CreateTable(self, p):
        name = p["TableName"]
        if name in self.tables:
            raise AwsError("ResourceInUseException", "Table already exists: %s" % name)
        defs = {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]}
        hashes = [k for k in p["KeySchema"] if k["KeyType"] == "HASH"]
        if len(hashes) != 1 or (len(p["KeySchema"]) == 2 and
                                p["KeySchema"][1]["KeyType"] != "RANGE"):
            raise vexc("1 validation error detected: Invalid KeySchema: The first "
                       "KeySchemaElement is not a HASH key type")
        for k in p["KeySchema"]:
            if k["AttributeName"] not in defs:
                raise vexc("One or more parameter values were invalid: Some index key "
                           "attributes are not defined in AttributeDefinitions. Keys: [%s], "
                           "AttributeDefinitions: [%s]" % (k["AttributeName"],
                                                           ", ".join(defs)))
        for a, t in defs.items():
            if t not in ("S", "N", "B"):
                raise vexc("1 validation error detected: Value '%s' at "
                           "'attributeDefinitions.member.attributeType' failed to satisfy "
                           "constraint: Member must satisfy enum value set: [B, N, S]" % t)
        if len(defs) != len(p["KeySchema"]) and not (p.get("LocalSecondaryIndexes") or
                                                     p.get("GlobalSecondaryIndexes")):
            raise vexc("One or more parameter values were invalid: Number of attributes in "
                       "KeySchema does not exactly match number of attributes defined in "
                       "AttributeDefinitions")
        if p.get("BillingMode", "PROVISIONED") == "PROVISIONED" and \
                not p.get("ProvisionedThroughput"):
            raise vexc("One or more parameter values were invalid: ReadCapacityUnits and "
                       "WriteCapacityUnits must both be specified when BillingMode is "
                       "PROVISIONED")
        now = self.emu.clock.now()
        arn = "arn:aws:dynamodb:%s:%s:table/%s" % (self.emu.region, self.emu.account_id, name)
        t = Table(name, p, now, arn)
        spec = p.get("StreamSpecification")
        if spec and spec.get("StreamEnabled"):
            self._enable_stream(t, spec)
        elif spec and spec.get("StreamViewType"):
            raise vexc("One or more parameter values were invalid: StreamViewType can only be "
                       "specified when StreamEnabled is true")
        self.tables[name] = t
        return {"TableDescription": self._describe(t, status="CREATING")}

    def _enable_stream(self, t, spec):
        view = spec.get("StreamViewType")
        if not view:
            raise vexc("One or more parameter values were invalid: StreamViewType must be "
                       "specified when StreamEnabled is true")
        if t.stream is not None:
            raise vexc("Table already has an enabled stream: %s" % t.stream.arn)
        with self.streams.lock:
            t.stream = self.streams.create_stream(t.name, t.key_schema, view)
        t.stream_history.append(t.stream)

    def _describe(self, t, status="ACTIVE"):
        d = {
            "TableName": t.name, "TableArn": t.arn, "TableId": t.arn.rsplit("/", 1)[1],
            "TableStatus": status, "KeySchema": t.key_schema,
            "AttributeDefinitions": t.attribute_definitions,
            "CreationDateTime": t.created, "ItemCount": len(t.items),
            "TableSizeBytes": sum(item_size(i) for i in t.items.values()),
        }
        if t.billing_mode == "PAY_PER_REQUEST":
            d["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST"}
            d["ProvisionedThroughput"] = {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0,
                                          "NumberOfDecreasesToday": 0}
        else:
            d["ProvisionedThroughput"] = dict(t.provisioned, NumberOfDecreasesToday=0)
        if t.stream is not None:
            d["StreamSpecification"] = {"StreamEnabled": True,
                                        "StreamViewType": t.stream.view_type}
        if t.stream_history:
            last = t.stream_history[-1]
            d["LatestStreamArn"] = last.arn
            d["LatestStreamLabel"] = last.label
        return d

    def DescribeTable(self, p):
        return {"Table": self._describe(self._table(p["TableName"]))}

    def ListTables(self, p):
        names = sorted(self.tables)
        start = p.get("ExclusiveStartTableName")
        if start:
            names = [n for n in names if n > start]
        limit = p.get("Limit", 100)
        out = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out

    def UpdateTable(self, p):
        t = self._table(p["TableName"])
        spec = p.get("StreamSpecification")
        if spec is not None:
            if spec.get("StreamEnabled"):
                self._enable_stream(t, spec)
            else:
                if t.stream is None:
                    raise vexc("Table already has no stream enabled")
                with self.streams.lock:
                    self.streams.disable_stream(t.stream.arn)
                t.stream = None
        if p.get("BillingMode"):
            t.billing_mode = p["BillingMode"]
        if p.get("ProvisionedThroughput"):
            t.provisioned = p["ProvisionedThroughput"]
        return {"TableDescription": self._describe(t, status="UPDATING")}

    def DeleteTable(self, p):
        t = self._table(p["TableName"])
        d = self._describe(t, status="DELETING")
        if t.stream is not None:
            with self.streams.lock:
                self.streams.disable_stream(t.stream.arn)
        del self.tables[t.name]
        return {"TableDescription": d}

    def UpdateTimeToLive(self, p):
        t = self._table(p["TableName"])
        spec = p["TimeToLiveSpecification"]
        if spec["Enabled"]:
            if t.ttl_attribute is not None:
                raise vexc("TimeToLive is already enabled")
            t.ttl_attribute = spec["AttributeName"]
        else:
            if t.ttl_attribute is None:
                raise vexc("TimeToLive is already disabled")
            t.ttl_attribute = None
        return {"TimeToLiveSpecification": spec}

    def DescribeTimeToLive(self, p):
        t = self._table(p["TableName"])
        if t.ttl_attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED",
                                          "AttributeName": t.ttl_attribute}}

    # ---- items

    def _emit(self, t, old, new, user_identity=None):
        """Appends a stream record for a change (nothing if nothing changed)."""
        if items_equal(old, new):
            return
        if t.stream is None:
            return
        event = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
        keys = t.key_item(new if new is not None else old)
        with self.streams.lock:
            self.streams.append(t.stream, event, keys, old, new, user_identity)

    def _condition(self, t, exprs, p, old):
        text = p.get("ConditionExpression")
        if text is None:
            if p.get("Expected"):
                raise vexc("Legacy parameter Expected is not supported by this emulator; "
                           "use ConditionExpression")
            return
        cond = exprs.condition(text)
        exprs.finish()
        if not eval_condition(old, cond):
            raise AwsError("ConditionalCheckFailedException", "The conditional request failed")

    def _size_check(self, item):
        if item_size(item) > MAX_ITEM_SIZE:
            raise vexc("Item size has exceeded the maximum allowed size")

    def PutItem(self, p):
        t = self._table(p["TableName"])
        item = check_item(p["Item"])
        key = t.key_of(item)
        self._size_check(item)
        exprs = Expressions(p)
        old = t.items.get(key)
        if p.get("ConditionExpression") is None:
            exprs.finish()
        self._condition(t, exprs, p, old)
        rv = p.get("ReturnValues", "NONE")
        if rv not in ("NONE", "ALL_OLD"):
            raise vexc("ReturnValues can only be ALL_OLD or NONE")
        t.items[key] = item
        self._emit(t, old, item)
        out = {}
        if rv == "ALL_OLD" and old is not None:
            out["Attributes"] = old
        return out

    def GetItem(self, p):
        t = self._table(p["TableName"])
        key_av = check_item(p["Key"])
        if len(key_av) != len(t.key_names):
            raise vexc("The provided key element does not match the schema")
        key = t.key_of(key_av, "key")
        exprs = Expressions(p)
        paths = exprs.projection(p["ProjectionExpression"]) \
            if p.get("ProjectionExpression") else None
        exprs.finish()
        item = t.items.get(key)
        if item is None:
            return {}
        return {"Item": project(item, paths) if paths else item}

    def DeleteItem(self, p):
        t = self._table(p["TableName"])
        key_av = check_item(p["Key"])
        if len(key_av) != len(t.key_names):
            raise vexc("The provided key element does not match the schema")
        key = t.key_of(key_av, "key")
        exprs = Expressions(p)
        old = t.items.get(key)
        if p.get("ConditionExpression") is None:
            exprs.finish()
        self._condition(t, exprs, p, old)
        rv = p.get("ReturnValues", "NONE")
        if rv not in ("NONE", "ALL_OLD"):
            raise vexc("ReturnValues can only be ALL_OLD or NONE")
        if old is not None:
            del t.items[key]
            self._emit(t, old, None)
        out = {}
        if rv == "ALL_OLD" and old is not None:
            out["Attributes"] = old
        return out

    def UpdateItem(self, p):
        t = self._table(p["TableName"])
        key_av = check_item(p["Key"])
        if len(key_av) != len(t.key_names):
            raise vexc("The provided key element does not match the schema")
        key = t.key_of(key_av, "key")
        if p.get("AttributeUpdates"):
            raise vexc("Legacy parameter AttributeUpdates is not supported by this emulator; "
                       "use UpdateExpression")
        exprs = Expressions(p)
        actions = exprs.update(p["UpdateExpression"]) if p.get("UpdateExpression") else []
        old = t.items.get(key)
        if p.get("ConditionExpression") is not None:
            self._condition(t, exprs, p, old)
        exprs.finish()
        new = _deep_copy(old) if old is not None else dict(key_av)
        apply_update(new, actions, t.key_names)
        new = check_item(new)
        self._size_check(new)
        t.items[key] = new
        self._emit(t, old, new)
        rv = p.get("ReturnValues", "NONE")
        out = {}
        touched = {a[1][0] for a in actions}
        if rv == "ALL_OLD" and old is not None:
            out["Attributes"] = old
        elif rv == "ALL_NEW":
            out["Attributes"] = new
        elif rv == "UPDATED_OLD" and old is not None:
            out["Attributes"] = {k: v for k, v in old.items() if k in touched} or None
        elif rv == "UPDATED_NEW":
            out["Attributes"] = {k: v for k, v in new.items() if k in touched} or None
        return out

    # ---- batches, scans and queries

    def BatchWriteItem(self, p):
        requests = p["RequestItems"]
        total = sum(len(v) for v in requests.values())
        if total == 0 or total > 25:
            raise vexc("1 validation error detected: Value at 'requestItems' failed to "
                       "satisfy constraint: Map value must satisfy constraint: [Member must "
                       "have length less than or equal to 25, Member must have length "
                       "greater than or equal to 1]")
        plan = []
        for name, writes in requests.items():
            t = self._table(name)
            seen = set()
            for w in writes:
                put, delete = w.get("PutRequest"), w.get("DeleteRequest")
                if (put is None) == (delete is None):
                    raise vexc("Supplied AttributeValue has more than one datatypes set, "
                               "must contain exactly one of the supported datatypes")
                if put is not None:
                    item = check_item(put["Item"])
                    key = t.key_of(item)
                    self._size_check(item)
                else:
                    item = None
                    key_av = check_item(delete["Key"])
                    if len(key_av) != len(t.key_names):
                        raise vexc("The provided key element does not match the schema")
                    key = t.key_of(key_av, "key")
                if key in seen:
                    raise vexc("Provided list of item keys contains duplicates")
                seen.add(key)
                plan.append((t, key, item))
        for t, key, item in plan:
            old = t.items.get(key)
            if item is not None:
                t.items[key] = item
                self._emit(t, old, item)
            elif old is not None:
                del t.items[key]
                self._emit(t, old, None)
        return {"UnprocessedItems": {}}

    def _ordered(self, t):
        """The table's items in key order (numbers as numbers)."""
        def sort_key(item):
            out = []
            for name in t.key_names:
                (typ, v), = item[name].items()
                out.append(Decimal(v) if typ == "N" else
                           (v.encode() if isinstance(v, str) else v))
            return tuple(out)
        return sorted(t.items.values(), key=sort_key), sort_key

    def _page(self, t, items, sort_key, p, exprs, reverse=False):
        start = p.get("ExclusiveStartKey")
        if start is not None:
            start_key = sort_key(check_item(start))
            if reverse:
                items = [i for i in items if sort_key(i) < start_key]
            else:
                items = [i for i in items if sort_key(i) > start_key]
        limit = p.get("Limit")
        filt = exprs.condition_text(p.get("FilterExpression"), "FilterExpression")
        paths = exprs.projection(p["ProjectionExpression"]) \
            if p.get("ProjectionExpression") else None
        exprs.finish()
        page = items[:limit] if limit else items
        out_items = [i for i in page if filt is None or eval_condition(i, filt)]
        out = {"Count": len(out_items), "ScannedCount": len(page)}
        if p.get("Select") != "COUNT":
            out["Items"] = [project(i, paths) if paths else i for i in out_items]
        if limit and len(items) > limit:
            out["LastEvaluatedKey"] = t.key_item(page[-1])
        return out

    def Scan(self, p):
        t = self._table(p["TableName"])
        exprs = Expressions(p)
        items, sort_key = self._ordered(t)
        return self._page(t, items, sort_key, p, exprs)

    def Query(self, p):
        t = self._table(p["TableName"])
        exprs = Expressions(p)
        text = p.get("KeyConditionExpression")
        if not text:
            raise vexc("Either the KeyConditions or KeyConditionExpression parameter must "
                       "be specified in the request.")
        cond = exprs.condition(text)
        if not _has_key_equality(cond, t.hash_key):
            raise vexc("Query condition missed key schema element: %s" % t.hash_key)
        items, sort_key = self._ordered(t)
        items = [i for i in items if eval_condition(i, cond)]
        reverse = p.get("ScanIndexForward") is False
        if reverse:
            items.reverse()
        return self._page(t, items, sort_key, p, exprs, reverse)

    # ---- TTL

    def tick(self, now):
        for t in list(self.tables.values()):
            attr = t.ttl_attribute
            if attr is None:
                continue
            expired = []
            for key, item in t.items.items():
                v = item.get(attr)
                if v is not None and "N" in v:
                    try:
                        if float(v["N"]) < now:
                            expired.append(key)
                    except ValueError:
                        pass
            for key in expired:
                old = t.items.pop(key)
                self._emit(t, old, None, user_identity={
                    "Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"})


def _has_key_equality(cond, hash_key):
    """True if a key condition has `hash key = value` at its top level."""
    if cond[0] == "and":
        return _has_key_equality(cond[1], hash_key) or _has_key_equality(cond[2], hash_key)
    return (cond[0] == "cmp" and cond[1] == "=" and cond[2][0] == "path"
            and cond[2][1] == (hash_key,))
