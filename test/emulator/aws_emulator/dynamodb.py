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
import bisect
import json
import math
import time
import zlib
from decimal import Decimal

from .core import AwsError, Service
from .ddb_expr import (Expressions, apply_update, check_item,
                       eval_condition, item_size, items_equal, project, vexc,
                       _deep_copy)
from .ddb_legacy import rewrite as legacy_rewrite

MAX_ITEM_SIZE = 400 * 1024
# Query and Scan read at most 1 MB a call (DynamoDB API reference, Scan:
# "If the total size of scanned items exceeds the maximum dataset size
# limit of 1 MB, the scan completes and results are returned")
MAX_PAGE_BYTES = 1024 * 1024
# BatchGetItem: 100 keys, 16 MB of answer (API reference, BatchGetItem)
MAX_BATCH_GET_KEYS = 100
MAX_BATCH_GET_BYTES = 16 * 1024 * 1024
# TransactWriteItems: a ClientRequestToken is honoured for 10 minutes
TRANSACTION_TOKEN_SECONDS = 600
# a provisioned table's reads above its capacity (Developer Guide,
# "Throughput capacity for provisioned tables", burst capacity)
THROTTLED_MESSAGE = ("The level of configured provisioned throughput for the table was "
                     "exceeded. Consider increasing your provisioning level with the "
                     "UpdateTable API.")


class Items(dict):
    """A table's items by key, counting its changes, so a Scan can reuse
    the key order and the segments it computed while nothing changed."""

    def __init__(self):
        super().__init__()
        self.generation = 0

    def __setitem__(self, key, value):
        self.generation += 1
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.generation += 1
        super().__delitem__(key)

    def pop(self, key, *default):
        self.generation += 1
        return super().pop(key, *default)


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
        self.items = Items()
        # (generation, index) -> the items in key order, and the segment
        # hash of each partition key (see DynamoDB._segment)
        self.ordered_cache = {}
        self.segment_cache = {}
        self.segment_hashes = {}
        # provisioned reads: [units left, time.monotonic() of the last read]
        self.read_bucket = None
        self.stream = None          # streams.Stream while enabled
        self.stream_history = []    # every stream this table ever had
        self.described = False
        self.ttl_attribute = None
        # secondary indexes: name -> {"kind": "GSI"/"LSI", "KeySchema",
        # "Projection", "ProvisionedThroughput"}
        self.indexes = {}
        for kind, member in (("GSI", "GlobalSecondaryIndexes"),
                             ("LSI", "LocalSecondaryIndexes")):
            for ix in params.get(member) or []:
                self.indexes[ix["IndexName"]] = dict(ix, kind=kind)

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

    def key_param(self, key):
        """(the checked Key attribute values, the hashable key) of a Key
        parameter, which must name the key attributes and nothing else."""
        key_av = check_item(key)
        if len(key_av) != len(self.key_names):
            raise vexc("The provided key element does not match the schema")
        return key_av, self.key_of(key_av, "key")

    def index_keys(self, name):
        return [k["AttributeName"] for k in self.indexes[name]["KeySchema"]]

    def check_index_keys(self, item):
        """An index key attribute of an item must have the type its
        definition names and must not be empty (API reference, PutItem)."""
        for name, ix in self.indexes.items():
            for attr in self.index_keys(name):
                av = item.get(attr)
                if av is None:
                    continue
                want, got = self.key_types[attr], list(av)[0]
                if got != want:
                    raise vexc("One or more parameter values were invalid: Type mismatch for "
                               "Index Key %s Expected: %s Actual: %s IndexName: %s"
                               % (attr, want, got, name))
                if want in ("S", "B") and len(av[want]) == 0:
                    raise vexc("One or more parameter values are not valid. A value "
                               "specified for a secondary index key is not supported. The "
                               "AttributeValue for a key attribute cannot contain an empty "
                               "%s value. IndexName: %s, IndexKey: %s"
                               % ("string" if want == "S" else "binary", name, attr))

    def project_index(self, name, item):
        ix = self.indexes[name]
        kind = ix["Projection"].get("ProjectionType", "ALL")
        if kind == "ALL":
            return item
        keep = set(self.key_names) | set(self.index_keys(name))
        if kind == "INCLUDE":
            keep |= set(ix["Projection"].get("NonKeyAttributes") or ())
        return {k: v for k, v in item.items() if k in keep}


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
        used = {k["AttributeName"] for k in p["KeySchema"]}
        index_names = set()
        table_hash = hashes[0]["AttributeName"] if hashes else None
        for member, kind in (("GlobalSecondaryIndexes", "global"),
                             ("LocalSecondaryIndexes", "local")):
            for ix in p.get(member) or []:
                if ix["IndexName"] in index_names:
                    raise vexc("One or more parameter values were invalid: Duplicate index "
                               "name: %s" % ix["IndexName"])
                index_names.add(ix["IndexName"])
                ks = ix["KeySchema"]
                if not ks or ks[0]["KeyType"] != "HASH" or (
                        len(ks) == 2 and ks[1]["KeyType"] != "RANGE"):
                    raise vexc("1 validation error detected: Invalid KeySchema: The first "
                               "KeySchemaElement is not a HASH key type")
                for k in ks:
                    if k["AttributeName"] not in defs:
                        raise vexc("One or more parameter values were invalid: Some index key "
                                   "attributes are not defined in AttributeDefinitions. "
                                   "Keys: [%s], AttributeDefinitions: [%s]"
                                   % (", ".join(x["AttributeName"] for x in ks),
                                      ", ".join(defs)))
                    used.add(k["AttributeName"])
                if kind == "local" and (ks[0]["AttributeName"] != table_hash
                                        or len(p["KeySchema"]) != 2):
                    raise vexc("One or more parameter values were invalid: Table KeySchema "
                               "does not have a range key, which is required when specifying "
                               "a LocalSecondaryIndex" if len(p["KeySchema"]) != 2 else
                               "One or more parameter values were invalid: Index KeySchema "
                               "does not have the same leading hash key as table KeySchema "
                               "for index: %s" % ix["IndexName"])
                proj = ix["Projection"]
                if (proj.get("ProjectionType") == "INCLUDE") != bool(
                        proj.get("NonKeyAttributes")):
                    raise vexc("One or more parameter values were invalid: "
                               "ProjectionType is INCLUDE, but NonKeyAttributes is not "
                               "specified" if proj.get("ProjectionType") == "INCLUDE" else
                               "One or more parameter values were invalid: NonKeyAttributes "
                               "may only be specified for a ProjectionType of INCLUDE")
                if (kind == "global" and p.get("BillingMode", "PROVISIONED") == "PROVISIONED"
                        and not ix.get("ProvisionedThroughput")):
                    raise vexc("One or more parameter values were invalid: ProvisionedThroughput "
                               "should not be null for index: %s" % ix["IndexName"])
        if set(defs) != used:
            if not p.get("LocalSecondaryIndexes") and not p.get("GlobalSecondaryIndexes"):
                raise vexc("One or more parameter values were invalid: Number of attributes "
                           "in KeySchema does not exactly match number of attributes defined "
                           "in AttributeDefinitions")
            raise vexc("One or more parameter values were invalid: Some AttributeDefinitions "
                       "are not used. AttributeDefinitions: [%s], keys used: [%s]"
                       % (", ".join(defs), ", ".join(sorted(used))))
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
        for kind, member in (("GSI", "GlobalSecondaryIndexes"),
                             ("LSI", "LocalSecondaryIndexes")):
            out = []
            for name, ix in t.indexes.items():
                if ix["kind"] != kind:
                    continue
                items = [i for i in t.items.values()
                         if all(k in i for k in t.index_keys(name))]
                e = {"IndexName": name, "KeySchema": ix["KeySchema"],
                     "Projection": ix["Projection"], "IndexArn": "%s/index/%s" % (t.arn, name),
                     "ItemCount": len(items),
                     "IndexSizeBytes": sum(item_size(t.project_index(name, i))
                                           for i in items)}
                if kind == "GSI":
                    e["IndexStatus"] = "ACTIVE"
                    e["ProvisionedThroughput"] = dict(
                        ix.get("ProvisionedThroughput") or
                        {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
                        NumberOfDecreasesToday=0)
                out.append(e)
            if out:
                d[member] = out
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
        if p.get("GlobalSecondaryIndexUpdates") or p.get("ReplicaUpdates") or \
                p.get("SSESpecification") or p.get("TableClass"):
            raise vexc("This emulator does not support GlobalSecondaryIndexUpdates, "
                       "ReplicaUpdates, SSESpecification or TableClass in UpdateTable")
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

    @staticmethod
    def _capacity(p, t, units, index=None):
        """ConsumedCapacity as ReturnConsumedCapacity asks for it."""
        how = p.get("ReturnConsumedCapacity", "NONE")
        if how == "NONE":
            return None
        out = {"TableName": t.name, "CapacityUnits": float(units)}
        if how == "INDEXES":
            if index is None:
                out["Table"] = {"CapacityUnits": float(units)}
            else:
                out["Table"] = {"CapacityUnits": 0.0}
                member = "GlobalSecondaryIndexes" if t.indexes[index]["kind"] == "GSI" \
                    else "LocalSecondaryIndexes"
                out[member] = {index: {"CapacityUnits": float(units)}}
        return out

    @staticmethod
    def _write_units(*items):
        """A write consumes one unit per 1 KB of the larger of the item
        before and after (Developer Guide, "Read/write capacity mode")."""
        size = max([item_size(i) for i in items if i is not None] or [0])
        return max(1, math.ceil(size / 1024))

    @staticmethod
    def _read_units(size, consistent):
        """A read consumes one unit per 4 KB strongly consistent, half that
        eventually consistent."""
        units = max(1, math.ceil(size / 4096))
        return units if consistent else units / 2

    def _admit_read(self, t, index=None):
        """Refuse a read of a provisioned table (or a local index, which
        shares its capacity) while its capacity is used up.  A token bucket:
        ReadCapacityUnits a second flow in, up to the burst DynamoDB keeps
        (300 s of unused capacity; the setting dynamodb_burst_seconds, at
        least one second); a read is admitted while the half unit the least
        read costs is left, and
        what it consumed is taken afterwards (_charge_read), so a large
        page may leave the bucket below zero, as a read's cost is known only
        once it is done.  Global secondary indexes have their own capacity
        and are not limited here."""
        if t.billing_mode != "PROVISIONED" or not t.provisioned or \
                (index is not None and t.indexes[index]["kind"] == "GSI"):
            return
        rate = float(t.provisioned.get("ReadCapacityUnits") or 0)
        if rate <= 0:
            return
        cap = max(1.0, float(self.emu.config.get("dynamodb_burst_seconds", 300))) * rate
        now = time.monotonic()
        if t.read_bucket is None:
            t.read_bucket = [cap, now]
        level, then = t.read_bucket
        t.read_bucket = [min(cap, level + (now - then) * rate), now]
        if t.read_bucket[0] < 0.5:
            raise AwsError("ProvisionedThroughputExceededException", THROTTLED_MESSAGE)

    @staticmethod
    def _charge_read(t, units, index=None):
        if t.read_bucket is not None and \
                (index is None or t.indexes[index]["kind"] != "GSI"):
            t.read_bucket[0] -= units

    def _condition(self, t, exprs, p, old):
        text = p.get("ConditionExpression")
        if text is None:
            return
        cond = exprs.condition(text)
        exprs.finish()
        if not eval_condition(old, cond):
            raise AwsError("ConditionalCheckFailedException", "The conditional request failed")

    def _size_check(self, item):
        if item_size(item) > MAX_ITEM_SIZE:
            raise vexc("Item size has exceeded the maximum allowed size")

    def PutItem(self, p):
        p = legacy_rewrite(p)
        t = self._table(p["TableName"])
        item = check_item(p["Item"])
        key = t.key_of(item)
        t.check_index_keys(item)
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
        out = {"ConsumedCapacity": self._capacity(p, t, self._write_units(old, item))}
        if rv == "ALL_OLD" and old is not None:
            out["Attributes"] = old
        return out

    def GetItem(self, p):
        p = legacy_rewrite(p)
        t = self._table(p["TableName"])
        _, key = t.key_param(p["Key"])
        exprs = Expressions(p)
        paths = exprs.projection(p["ProjectionExpression"]) \
            if p.get("ProjectionExpression") else None
        exprs.finish()
        self._admit_read(t)
        item = t.items.get(key)
        units = self._read_units(item_size(item) if item else 0,
                                 p.get("ConsistentRead") is True)
        self._charge_read(t, units)
        cap = self._capacity(p, t, units)
        if item is None:
            return {"ConsumedCapacity": cap}
        return {"Item": project(item, paths) if paths else item, "ConsumedCapacity": cap}

    def DeleteItem(self, p):
        p = legacy_rewrite(p)
        t = self._table(p["TableName"])
        _, key = t.key_param(p["Key"])
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
        out = {"ConsumedCapacity": self._capacity(p, t, self._write_units(old))}
        if rv == "ALL_OLD" and old is not None:
            out["Attributes"] = old
        return out

    def _plan_update(self, t, p):
        """(key, old, new, actions) of an UpdateItem; new is None when the
        item neither exists nor comes to exist."""
        key_av, key = t.key_param(p["Key"])
        exprs = Expressions(p)
        # an empty UpdateExpression is refused (API reference, UpdateItem:
        # "Invalid UpdateExpression: The expression can not be empty;")
        actions = exprs.update(p["UpdateExpression"]) \
            if p.get("UpdateExpression") is not None else []
        old = t.items.get(key)
        if p.get("ConditionExpression") is not None:
            self._condition(t, exprs, p, old)
        exprs.finish()
        if old is None and actions and all(a[0] in ("REMOVE", "DELETE") for a in actions):
            # removing from an item that is not there creates nothing
            return key, None, None, actions
        new = _deep_copy(old) if old is not None else dict(key_av)
        apply_update(new, actions, t.key_names)
        new = check_item(new)
        t.check_index_keys(new)
        self._size_check(new)
        return key, old, new, actions

    def UpdateItem(self, p):
        p = legacy_rewrite(p)
        t = self._table(p["TableName"])
        key, old, new, actions = self._plan_update(t, p)
        if new is not None:
            t.items[key] = new
            self._emit(t, old, new)
        rv = p.get("ReturnValues", "NONE")
        out = {"ConsumedCapacity": self._capacity(p, t, self._write_units(old, new))}
        touched = {a[1][0] for a in actions}
        if rv == "ALL_OLD" and old is not None:
            out["Attributes"] = old
        elif rv == "ALL_NEW" and new is not None:
            out["Attributes"] = new
        elif rv == "UPDATED_OLD" and old is not None:
            out["Attributes"] = {k: v for k, v in old.items() if k in touched} or None
        elif rv == "UPDATED_NEW" and new is not None:
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
                    t.check_index_keys(item)
                    self._size_check(item)
                else:
                    item = None
                    _, key = t.key_param(delete["Key"])
                if key in seen:
                    raise vexc("Provided list of item keys contains duplicates")
                seen.add(key)
                plan.append((t, key, item))
        caps = self._commit(p, [(t, key, t.items.get(key), item, "Write")
                                for t, key, item in plan], 1)
        return {"UnprocessedItems": {}, "ConsumedCapacity": caps}

    def _commit(self, p, writes, units_per_kb):
        """Applies planned writes (table, key, old, new or None, kind), each
        with its stream record; the ConsumedCapacity list they cost."""
        units = {}
        for t, key, old, new, kind in writes:
            units[t.name] = units.get(t.name, 0) + units_per_kb * self._write_units(old, new)
            if kind == "ConditionCheck":
                continue
            if new is not None:
                t.items[key] = new
                self._emit(t, old, new)
            elif old is not None:
                del t.items[key]
                self._emit(t, old, None)
        caps = [self._capacity(p, self.tables[n], u) for n, u in units.items()]
        return [c for c in caps if c] or None

    def BatchGetItem(self, p):
        requests = p["RequestItems"]
        total = sum(len(r["Keys"]) for r in requests.values())
        if total > MAX_BATCH_GET_KEYS:
            raise vexc("Too many items requested for the BatchGetItem call")
        plans = []
        for name, r in requests.items():
            t = self._table(name)
            r = legacy_rewrite(r)
            exprs = Expressions(r)
            paths = exprs.projection(r["ProjectionExpression"]) \
                if r.get("ProjectionExpression") else None
            exprs.finish()
            seen = set()
            keys = []
            for k in r["Keys"]:
                _, key = t.key_param(k)
                if key in seen:
                    raise vexc("Provided list of item keys contains duplicates")
                seen.add(key)
                keys.append((k, key))
            plans.append((t, r, paths, keys))
        # a table whose capacity is used up leaves its keys unprocessed;
        # all of them: ProvisionedThroughputExceededException (API
        # reference, BatchGetItem)
        throttled = set()
        for t, _, _, _ in plans:
            try:
                self._admit_read(t)
            except AwsError:
                throttled.add(t.name)
        if throttled and len(throttled) == len(plans):
            raise AwsError("ProvisionedThroughputExceededException", THROTTLED_MESSAGE)
        responses, unprocessed, caps = {}, {}, []
        size = 0
        for t, r, paths, keys in plans:
            if t.name in throttled:
                unprocessed[t.name] = requests[t.name]
                continue
            got, rest, units = [], [], 0
            for k, key in keys:
                item = t.items.get(key)
                n = item_size(item) if item is not None else 0
                if size + n > MAX_BATCH_GET_BYTES:
                    rest.append(k)
                    continue
                size += n
                units += self._read_units(n, r.get("ConsistentRead") is True)
                if item is not None:
                    got.append(project(item, paths) if paths else item)
            responses[t.name] = got
            self._charge_read(t, units)
            if rest:
                left = {k: v for k, v in requests[t.name].items() if k != "Keys"}
                unprocessed[t.name] = dict(left, Keys=rest)
            cap = self._capacity(p, t, units)
            if cap:
                caps.append(cap)
        return {"Responses": responses, "UnprocessedKeys": unprocessed,
                "ConsumedCapacity": caps or None}

    def TransactWriteItems(self, p):
        """All or nothing (API reference, TransactWriteItems): every
        condition is checked first; one that fails cancels the whole
        transaction with TransactionCanceledException and a reason per
        item, in request order."""
        token = p.get("ClientRequestToken")
        if token is not None:
            now = time.time()
            self._tokens = {k: v for k, v in getattr(self, "_tokens", {}).items()
                            if now - v[1] < TRANSACTION_TOKEN_SECONDS}
            digest = json.dumps(p["TransactItems"], sort_keys=True, default=str)
            seen = self._tokens.get(token)
            if seen is not None:
                if seen[0] != digest:
                    raise AwsError("IdempotentParameterMismatchException",
                                   "Request parameters do not match the parameters of a "
                                   "previous request with the same client request token")
                return seen[2]
        plans, reasons, failed, items_seen = [], [], False, set()
        for entry in p["TransactItems"]:
            ops = [k for k in ("ConditionCheck", "Put", "Delete", "Update")
                   if entry.get(k) is not None]
            if len(ops) != 1:
                raise vexc("TransactItems can only contain one of Check, Put, Update or "
                           "Delete")
            kind = ops[0]
            op = legacy_rewrite(entry[kind])
            t = self._table(op["TableName"])
            if kind == "Put":
                item = check_item(op["Item"])
                key = t.key_of(item)
                t.check_index_keys(item)
                self._size_check(item)
            else:
                _, key = t.key_param(op["Key"])
            if (t.name, key) in items_seen:
                raise vexc("Transaction request cannot include multiple operations on one "
                           "item")
            items_seen.add((t.name, key))
            old = t.items.get(key)
            try:
                if kind == "Update":
                    key, old, new, _ = self._plan_update(t, op)
                else:
                    exprs = Expressions(op)
                    if kind == "ConditionCheck" and op.get("ConditionExpression") is None:
                        raise vexc("1 validation error detected: Value null at "
                                   "'transactItems.member.conditionCheck.conditionExpression' "
                                   "failed to satisfy constraint: Member must not be null")
                    if op.get("ConditionExpression") is None:
                        exprs.finish()
                    self._condition(t, exprs, op, old)
                    new = item if kind == "Put" else (None if kind == "Delete" else old)
                reasons.append({"Code": "None"})
                plans.append((t, key, old, new, kind))
            except AwsError as e:
                if e.code != "ConditionalCheckFailedException":
                    raise
                failed = True
                reason = {"Code": "ConditionalCheckFailed",
                          "Message": "The conditional request failed"}
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old:
                    reason["Item"] = old
                reasons.append(reason)
        if failed:
            raise AwsError("TransactionCanceledException",
                           "Transaction cancelled, please refer cancellation reasons for "
                           "specific reasons [%s]" % ", ".join(r["Code"] for r in reasons),
                           extra={"CancellationReasons": reasons})
        # a transactional write costs two units per KB
        out = {"ConsumedCapacity": self._commit(p, plans, 2)}
        if token is not None:
            self._tokens[token] = (digest, time.time(), out)
        return out

    def _ordered(self, t, index=None):
        """The items (of the table, or those an index holds) in key order
        (numbers as numbers); the sort key function; the key of an item as
        LastEvaluatedKey gives it."""
        names = list(t.key_names)
        if index is not None:
            ix_keys = t.index_keys(index)
            names = ix_keys + [k for k in names if k not in ix_keys]

        def sort_key(item):
            out = []
            for name in names:
                (typ, v), = item[name].items()
                out.append(Decimal(v) if typ == "N" else
                           (v.encode() if isinstance(v, str) else v))
            return tuple(out)
        cached = t.ordered_cache.get(index)
        if cached is None or cached[0] != t.items.generation:
            items = [i for i in t.items.values() if all(n in i for n in names)]
            cached = (t.items.generation, sorted(items, key=sort_key))
            t.ordered_cache[index] = cached
        return cached[1], sort_key, lambda i: {n: i[n] for n in names}

    def _index(self, t, p):
        name = p.get("IndexName")
        if name is None:
            return None
        if name not in t.indexes:
            raise vexc("The table does not have the specified index: %s" % name)
        if p.get("ConsistentRead") and t.indexes[name]["kind"] == "GSI":
            raise vexc("Consistent reads are not supported on global secondary indexes")
        return name

    def _page(self, t, items, sort_key, key_of, p, exprs, reverse=False, index=None):
        start = p.get("ExclusiveStartKey")
        if start is not None:
            start_av = check_item(start)
            if set(start_av) != set(key_of(items[0]) if items else start_av):
                raise vexc("The provided starting key is invalid: The provided key element "
                           "does not match the schema")
            start_key = sort_key(start_av)
            if reverse:
                items = [i for i in items if sort_key(i) < start_key]
            else:
                # in key order: the items after the key
                items = items[bisect.bisect_right(items, start_key, key=sort_key):]
        limit = p.get("Limit")
        filt = exprs.condition_text(p.get("FilterExpression"), "FilterExpression")
        paths = exprs.projection(p["ProjectionExpression"]) \
            if p.get("ProjectionExpression") else None
        exprs.finish()
        self._admit_read(t, index)
        page, size = [], 0
        for i in items:
            if (limit and len(page) >= limit) or size >= MAX_PAGE_BYTES:
                break
            page.append(i)
            size += item_size(i)
        if index is not None:
            page_view = [t.project_index(index, i) for i in page]
        else:
            page_view = page
        out_items = [i for i in page_view if filt is None or eval_condition(i, filt)]
        units = self._read_units(size, p.get("ConsistentRead") is True)
        self._charge_read(t, units, index)
        out = {"Count": len(out_items), "ScannedCount": len(page),
               "ConsumedCapacity": self._capacity(p, t, units, index)}
        if p.get("Select") != "COUNT":
            out["Items"] = [project(i, paths) if paths else i for i in out_items]
        if len(page) < len(items):
            out["LastEvaluatedKey"] = key_of(page[-1])
        return out

    def Scan(self, p):
        p = legacy_rewrite(p)
        t = self._table(p["TableName"])
        index = self._index(t, p)
        exprs = Expressions(p)
        items, sort_key, key_of = self._ordered(t, index)
        seg, total = p.get("Segment"), p.get("TotalSegments")
        if (seg is None) != (total is None):
            raise vexc("The %s parameter is required but was not present in the request "
                       "when parameter %s is present"
                       % (("Segment", "TotalSegments") if seg is None
                          else ("TotalSegments", "Segment")))
        if seg is not None:
            if seg >= total:
                raise vexc("The Segment parameter is zero-based and must be less than "
                           "parameter TotalSegments: Segment: %d is not less than "
                           "TotalSegments: %d" % (seg, total))
            # a parallel scan's segments split the items by a hash of the
            # partition key (Developer Guide, "Parallel scan"): together
            # they return every item once, an item collection in one segment
            start = p.get("ExclusiveStartKey")
            if start is not None and t.hash_key in start and \
                    self._segment(t, start[t.hash_key], total) != seg:
                # the message DynamoDB gives (scylladb/scylladb#9270, a
                # review quoting the service)
                raise vexc("The provided starting key is invalid: Invalid ExclusiveStartKey. "
                           "Please use ExclusiveStartKey with correct Segment. "
                           "TotalSegments: %d Segment: %d" % (total, seg))
            cached = t.segment_cache.get((index, total, seg))
            if cached is None or cached[0] != t.items.generation:
                cached = (t.items.generation,
                          [i for i in items if self._segment(t, i[t.hash_key], total) == seg])
                t.segment_cache[(index, total, seg)] = cached
            items = cached[1]
        return self._page(t, items, sort_key, key_of, p, exprs, index=index)

    @staticmethod
    def _segment(t, hash_av, total):
        """The segment of TotalSegments a partition key value belongs to."""
        key = json.dumps(hash_av, sort_keys=True)
        h = t.segment_hashes.get(key)
        if h is None:
            h = t.segment_hashes[key] = zlib.crc32(key.encode())
        return h % total

    def Query(self, p):
        p = legacy_rewrite(p)
        t = self._table(p["TableName"])
        index = self._index(t, p)
        exprs = Expressions(p)
        text = p.get("KeyConditionExpression")
        if not text:
            raise vexc("Either the KeyConditions or KeyConditionExpression parameter must "
                       "be specified in the request.")
        cond = exprs.condition(text)
        hash_key = t.index_keys(index)[0] if index is not None else t.hash_key
        if not _has_key_equality(cond, hash_key):
            raise vexc("Query condition missed key schema element: %s" % hash_key)
        # API reference, Query: "A filter expression cannot contain partition
        # key or sort key attributes."
        keys = t.index_keys(index) if index is not None else list(t.key_names)
        filt = exprs.condition_text(p.get("FilterExpression"), "FilterExpression")
        for name in _path_names(filt):
            if name in keys:
                raise vexc("Filter Expression can only contain non-primary key attributes: "
                           "Primary key attribute: %s" % name)
        items, sort_key, key_of = self._ordered(t, index)
        items = [i for i in items if eval_condition(i, cond)]
        reverse = p.get("ScanIndexForward") is False
        if reverse:
            items.reverse()
        return self._page(t, items, sort_key, key_of, p, exprs, reverse, index)

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


def _path_names(cond):
    """The top-level attribute names a parsed condition reads."""
    if isinstance(cond, tuple):
        if len(cond) == 2 and cond[0] == "path" and isinstance(cond[1], tuple) and cond[1]:
            yield cond[1][0]
            return
        for part in cond:
            yield from _path_names(part)
    elif isinstance(cond, list):
        for part in cond:
            yield from _path_names(part)


def _has_key_equality(cond, hash_key):
    """True if a key condition has `hash key = value` at its top level."""
    if cond[0] == "and":
        return _has_key_equality(cond[1], hash_key) or _has_key_equality(cond[2], hash_key)
    return (cond[0] == "cmp" and cond[1] == "=" and cond[2][0] == "path"
            and cond[2][1] == (hash_key,))
