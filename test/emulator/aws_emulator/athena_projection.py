"""Partition projection, as Athena computes it from a Glue table's Parameters.

    projection.enabled = true
    projection.<col>.type = date | integer | enum | injected
    projection.<col>.format = yyyy/MM/dd/HH            (date)
    projection.<col>.range = 2024/01/01/00,NOW          (date: NOW[+-N UNIT]; integer: a,b)
    projection.<col>.interval = 1, .interval.unit = HOURS  (date; integer: interval)
    projection.<col>.digits = 4                         (integer, zero padding)
    projection.<col>.values = a,b,c                     (enum)
    storage.location.template = s3://bucket/prefix/${col}/

Athena never lists partitions: it projects the values of each partition
column, keeps those the query's predicates select and reads the objects
under each projected location.  The emulator reaches the same set from the
other side (equivalent, and cheaper than enumerating years of hours): it
lists the objects under the table, reads each object's partition values out
of its key with the location template, and keeps an object only when every
value is one the projection would produce.  The engine then applies the
query's partition predicates to those values.
"""
import datetime
import re

from .athena_sql import TrinoError

_UNITS = {"YEARS": "years", "MONTHS": "months", "WEEKS": "weeks", "DAYS": "days",
          "HOURS": "hours", "MINUTES": "minutes", "SECONDS": "seconds"}
_UNIT_SECONDS = {"weeks": 7 * 86400, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}

# Java DateTimeFormatter letters -> (strftime, regex)
_DATE_FIELDS = [
    ("yyyy", "%Y", r"\d{4}"), ("MM", "%m", r"\d{2}"), ("dd", "%d", r"\d{2}"),
    ("HH", "%H", r"\d{2}"), ("mm", "%M", r"\d{2}"), ("ss", "%S", r"\d{2}"),
]


def _invalid(message):
    return TrinoError("HIVE_METASTORE_ERROR", message, category=2)


class DateFormat:
    """A Java date pattern (yyyy, MM, dd, HH, mm, ss and literals)."""

    def __init__(self, pattern):
        self.pattern = pattern
        strf, regex, i = [], [], 0
        self.finest = None
        order = ["years", "months", "days", "hours", "minutes", "seconds"]
        unit_of = {"yyyy": "years", "MM": "months", "dd": "days", "HH": "hours",
                   "mm": "minutes", "ss": "seconds"}
        while i < len(pattern):
            if pattern[i] == "'":
                j = pattern.find("'", i + 1)
                if j < 0:
                    raise _invalid(f"Invalid date format pattern: {pattern}")
                lit = pattern[i + 1:j] or "'"
                strf.append(lit.replace("%", "%%"))
                regex.append(re.escape(lit))
                i = j + 1
                continue
            for letters, s, r in _DATE_FIELDS:
                if pattern.startswith(letters, i):
                    strf.append(s)
                    regex.append(r)
                    unit = unit_of[letters]
                    if self.finest is None or order.index(unit) > order.index(self.finest):
                        self.finest = unit
                    i += len(letters)
                    break
            else:
                if pattern[i].isalpha():
                    raise _invalid(f"Unsupported date format letter '{pattern[i]}' in {pattern}")
                strf.append(pattern[i].replace("%", "%%"))
                regex.append(re.escape(pattern[i]))
                i += 1
        self.strftime = "".join(strf)
        self.regex = "".join(regex)

    def parse(self, text):
        try:
            return datetime.datetime.strptime(text, self.strftime)
        except ValueError:
            return None

    def format(self, dt):
        return dt.strftime(self.strftime)


def _add_months(dt, n):
    y, m = divmod(dt.month - 1 + n, 12)
    return dt.replace(year=dt.year + y, month=m + 1)


class Projection:
    """One projected partition column."""

    def __init__(self, name, params, now):
        self.name = name
        p = lambda k, d=None: params.get(f"projection.{name}.{k}", d)  # noqa: E731
        self.type = (p("type") or "").lower()
        if self.type not in ("date", "integer", "enum", "injected"):
            raise _invalid(f"Column {name} has no valid projection type "
                           f"(projection.{name}.type = {p('type')!r})")
        if self.type == "date":
            fmt = p("format")
            rng = p("range")
            if not fmt or not rng:
                raise _invalid(f"Date projection of column {name} needs format and range")
            self.format = DateFormat(fmt)
            parts = [x.strip() for x in rng.split(",")]
            if len(parts) != 2:
                raise _invalid(f"Invalid range for projection of column {name}: {rng}")
            self.start = self._date_bound(parts[0], now)
            self.end = self._date_bound(parts[1], now)
            unit = (p("interval.unit") or "").upper()
            self.unit = _UNITS.get(unit) or self.format.finest or "days"
            self.interval = int(p("interval", "1"))
            self.regex = self.format.regex
        elif self.type == "integer":
            rng = p("range")
            if not rng:
                raise _invalid(f"Integer projection of column {name} needs a range")
            lo, hi = [int(x.strip()) for x in rng.split(",")]
            self.start, self.end = lo, hi
            self.interval = int(p("interval", "1"))
            self.digits = int(p("digits", "0"))
            self.regex = r"-?\d+"
        elif self.type == "enum":
            values = p("values")
            if values is None:
                raise _invalid(f"Enum projection of column {name} needs values")
            self.values = [v.strip() for v in values.split(",")]
            self.regex = "|".join(re.escape(v) for v in sorted(self.values, key=len, reverse=True))
        else:
            self.regex = r"[^/]+"

    def signature(self):
        """What decides the values this column accepts (hashable)."""
        if self.type == "date":
            return (self.type, self.format.pattern, self.start, self.end, self.unit,
                    self.interval)
        if self.type == "integer":
            return (self.type, self.start, self.end, self.interval, self.digits)
        if self.type == "enum":
            return (self.type, tuple(self.values))
        return (self.type,)

    def _date_bound(self, text, now):
        m = re.fullmatch(r"NOW(?:\s*([+-])\s*(\d+)\s*([A-Za-z]+))?", text.strip(), re.IGNORECASE)
        if m:
            dt = now.replace(tzinfo=None)
            if m.group(1):
                n = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
                unit = m.group(3).upper()
                unit = unit if unit.endswith("S") else unit + "S"
                unit = _UNITS.get(unit)
                if unit is None:
                    raise _invalid(f"Invalid unit in projection range: {text}")
                if unit == "years":
                    dt = _add_months(dt, 12 * n)
                elif unit == "months":
                    dt = _add_months(dt, n)
                else:
                    dt = dt + datetime.timedelta(seconds=n * _UNIT_SECONDS[unit])
            # projected values are formatted: NOW counts at the format's
            # granularity (NOW-1YEARS,NOW with hours covers every hour)
            return self.format.parse(self.format.format(dt))
        dt = self.format.parse(text)
        if dt is None:
            raise _invalid(f"Invalid range bound '{text}' for format {self.format.pattern}")
        return dt

    def accepts(self, value):
        """Whether Athena would project `value` for this column."""
        if self.type == "date":
            dt = self.format.parse(value)
            if dt is None or self.format.format(dt) != value:
                return False
            if not self.start <= dt <= self.end:
                return False
            if self.unit in _UNIT_SECONDS:
                step = self.interval * _UNIT_SECONDS[self.unit]
                return int((dt - self.start).total_seconds()) % step == 0
            months = (dt.year - self.start.year) * 12 + dt.month - self.start.month
            if self.unit == "years":
                step = 12 * self.interval
            else:
                step = self.interval
            return months % step == 0 and _add_months(self.start, months) == dt
        if self.type == "integer":
            try:
                n = int(value)
            except ValueError:
                return False
            if self.digits and value != str(n).zfill(self.digits) and not (
                    n < 0 and value == "-" + str(-n).zfill(self.digits)):
                return False
            if not self.digits and value != str(n):
                return False
            return self.start <= n <= self.end and (n - self.start) % self.interval == 0
        if self.type == "enum":
            return value in self.values
        return True


class TableLayout:
    """Where a table's objects are and how their keys give partition values."""

    def __init__(self, table, now):
        sd = table.get("StorageDescriptor") or {}
        params = table.get("Parameters") or {}
        self.location = sd.get("Location") or ""
        self.partition_keys = [k["Name"].lower() for k in table.get("PartitionKeys") or []]
        self.projected = str(params.get("projection.enabled", "")).lower() == "true"
        self.projections = {}
        self.regex = None
        if self.partition_keys and self.projected:
            lower_params = {}
            for k, v in params.items():
                parts = k.split(".")
                if len(parts) >= 3 and parts[0] == "projection":
                    parts[1] = parts[1].lower()
                lower_params[".".join(parts)] = v
            for col in self.partition_keys:
                self.projections[col] = Projection(col, lower_params, now)
            template = params.get("storage.location.template")
            if not template:
                base = self.location if self.location.endswith("/") else self.location + "/"
                template = base + "".join(f"{c}=${{{c}}}/" for c in self.partition_keys)
            self.template = template
            self.regex = self._template_regex(template)
            self.signature = (self.regex.pattern, tuple(
                (c, proj.signature()) for c, proj in self.projections.items()))

    def _template_regex(self, template):
        out, pos = [], 0
        seen = set()
        for m in re.finditer(r"\$\{([^}]+)\}", template):
            out.append(re.escape(template[pos:m.start()]))
            col = m.group(1).lower()
            if col not in self.projections:
                raise _invalid(f"Storage location template refers to {col}, not a partition column")
            if col in seen:
                out.append(f"(?P={col})")
            else:
                out.append(f"(?P<{col}>{self.projections[col].regex})")
                seen.add(col)
            pos = m.end()
        out.append(re.escape(template[pos:]))
        missing = set(self.projections) - seen
        if missing:
            raise _invalid("Storage location template does not contain every partition column: "
                           + ", ".join(sorted(missing)))
        return re.compile("^" + "".join(out))

    def list_prefix(self):
        """(bucket, key prefix) to list for the table's objects."""
        if self.regex is not None:
            # the template's constant head
            head = self.template.split("${", 1)[0]
            return split_s3_url(head)
        return split_s3_url(self.location if self.location.endswith("/") else self.location + "/")

    def partition_of(self, bucket, key):
        """The partition values of an object (dict), or None when Athena would
        not read it."""
        if not self.partition_keys:
            return {}
        if self.regex is None:
            return None  # partitions must be registered; the emulator has none
        # every query of a table reads the same keys again: the answer for a
        # key is remembered for layouts that accept the same values
        known = _PARTITIONS.get(self.signature)
        if known is None:
            if len(_PARTITIONS) >= 64:     # ranges to NOW move on
                _PARTITIONS.clear()
            known = _PARTITIONS.setdefault(self.signature, {})
        url = f"s3://{bucket}/{key}"
        try:
            values = known[url]
        except KeyError:
            values = self._match(url)
            if len(known) >= _PARTITIONS_KEPT:
                known.clear()
            known[url] = values
        return dict(values) if values is not None else None

    def _match(self, url):
        m = self.regex.match(url)
        if m is None:
            return None
        values = {c: m.group(c) for c in self.projections}
        for c, v in values.items():
            if not self.projections[c].accepts(v):
                return None
        return values


# partition values by layout signature, then by object URL
_PARTITIONS = {}
_PARTITIONS_KEPT = 1 << 16


def split_s3_url(url):
    if not url.startswith("s3://"):
        raise TrinoError("HIVE_INVALID_METADATA", f"Table location is not an S3 location: {url}")
    rest = url[5:]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix
