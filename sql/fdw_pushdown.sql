-- Pushdown against the emulator's Athena, postgres_fdw-style: for each
-- construct, EXPLAIN (VERBOSE, COSTS OFF) shows the Athena SQL (what stays
-- in PostgreSQL shows as a Filter or a local node), then the rows.
-- The audit records (test/lib/pushdown_fixture.py) lie in Firehose's
-- delivery-hour folders; the Glue table is provisioning's
-- (create_audit_table, partition projection on datehour).
\getenv emulator_url AUDIT_FDW_EMULATOR_URL
\! /usr/bin/python3 test/lib/pushdown_fixture.py --bucket pushdown-regress --prefix orders/ --orders 12 --days 6 --seed 7 --results-bucket pushdown-regress-results --fast
CREATE EXTENSION IF NOT EXISTS audit_fdw;
SET TimeZone = 'UTC';
CREATE SERVER pushdown FOREIGN DATA WRAPPER audit_fdw OPTIONS (
    region 'us-east-1', endpoint :'emulator_url', database 'pushdown_regress',
    output_location 's3://pushdown-regress-results/audit_fdw/');
CREATE USER MAPPING FOR CURRENT_USER SERVER pushdown
    OPTIONS (access_key_id 'test', secret_access_key 'test');
-- (quiet: the Glue database may be there from an earlier run)
SET client_min_messages = warning;
SELECT audit_fdw.create_audit_table('pushdown', 'orders_audit',
    location => 's3://pushdown-regress/orders/', database => 'pushdown_regress',
    item_columns => 'orderId string, state string, note string, qty int, amount decimal(12,2), weight double, express boolean, lastUpdatedDate bigint',
    key_columns => 'orderId string', history => '100 years') IS NOT NULL AS provisioned;
RESET client_min_messages;

-- a large table: Athena's work is worth sending it
CREATE FOREIGN TABLE audit (
    event_id text, event_name text, event_time timestamptz,
    order_id text OPTIONS (column_name 'keys', path 'orderId'),
    new_state text OPTIONS (column_name 'new_image', path 'state'),
    old_state text OPTIONS (column_name 'old_image', path 'state'),
    note text OPTIONS (column_name 'new_image', path 'note'),
    qty integer OPTIONS (column_name 'new_image', path 'qty'),
    amount numeric(12,2) OPTIONS (column_name 'new_image', path 'amount'),
    weight double precision OPTIONS (column_name 'new_image', path 'weight'),
    express boolean OPTIONS (column_name 'new_image', path 'express'),
    updated bigint OPTIONS (column_name 'new_image', path 'lastUpdatedDate'),
    new_image jsonb
) SERVER pushdown OPTIONS ("table" 'orders_audit', estimated_rows '100000',
    time_column 'event_time', partition_column 'datehour',
    partition_format 'yyyy/MM/dd/HH', max_delivery_delay '15 minutes');

SELECT count(*), min(event_time), max(event_time) FROM audit;

-- comparisons on every type, through paths into the item's struct
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, new_state, qty FROM audit
 WHERE qty >= 30 AND amount < 500 AND weight <= 2 AND express AND updated > 0
 ORDER BY order_id, qty;
SELECT order_id, new_state, qty FROM audit
 WHERE qty >= 30 AND amount < 500 AND weight <= 2 AND express AND updated > 0
 ORDER BY order_id, qty;

-- AND, OR, NOT; IN and = ANY; BETWEEN; IS [NOT] NULL; IS DISTINCT FROM
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, event_name, new_state FROM audit
 WHERE (new_state IN ('RETURNED', 'CANCELLED') OR NOT (qty BETWEEN 0 AND 35))
   AND order_id = ANY ('{101,103,105,107,110}'::text[])
   AND old_state IS NOT NULL AND old_state IS DISTINCT FROM 'OPEN'
 ORDER BY 1, 2, 3;
SELECT order_id, event_name, new_state FROM audit
 WHERE (new_state IN ('RETURNED', 'CANCELLED') OR NOT (qty BETWEEN 0 AND 35))
   AND order_id = ANY ('{101,103,105,107,110}'::text[])
   AND old_state IS NOT NULL AND old_state IS DISTINCT FROM 'OPEN'
 ORDER BY 1, 2, 3;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE new_image IS NULL;
SELECT count(*) FROM audit WHERE new_image IS NULL;

-- LIKE with an explicit ESCAPE: quotes, backslashes, % and _ as data
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT note FROM audit
 WHERE note LIKE '%\%%' OR note LIKE '%\\%' OR note LIKE '%''%' OR note LIKE 'a\_b'
 ORDER BY note;
SELECT DISTINCT note FROM audit
 WHERE note LIKE '%\%%' OR note LIKE '%\\%' OR note LIKE '%''%' OR note LIKE 'a\_b'
 ORDER BY note;
-- ILIKE as lower() LIKE lower(); unicode case mapping
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT note FROM audit WHERE note ILIKE 'é%' OR note NOT ILIKE '%a%' ORDER BY note;
SELECT DISTINCT note FROM audit WHERE note ILIKE 'é%' OR note NOT ILIKE '%a%' ORDER BY note;

-- arithmetic, functions and casts
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, qty, note FROM audit
 WHERE qty * 2 - 1 > 60 AND qty % 2 = 1 AND length(note) > 3
   AND upper(substr(note, 1, 2)) <> 'ZZ' AND coalesce(old_state, 'none') <> 'OPEN'
   AND qty::bigint < 100
 ORDER BY 1, 2;
SELECT order_id, qty, note FROM audit
 WHERE qty * 2 - 1 > 60 AND qty % 2 = 1 AND length(note) > 3
   AND upper(substr(note, 1, 2)) <> 'ZZ' AND coalesce(old_state, 'none') <> 'OPEN'
   AND qty::bigint < 100
 ORDER BY 1, 2;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, event_name FROM audit
 WHERE extract(hour FROM event_time AT TIME ZONE 'UTC') = 7
   AND date_trunc('day', event_time, 'UTC') >= '2024-01-03'
 ORDER BY 1, 2;
SELECT order_id, event_name FROM audit
 WHERE extract(hour FROM event_time AT TIME ZONE 'UTC') = 7
   AND date_trunc('day', event_time, 'UTC') >= '2024-01-03'
 ORDER BY 1, 2;

-- text ranges only where PostgreSQL compares by code point
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE note > 'Z' COLLATE "C";
SELECT count(*) FROM audit WHERE note > 'Z' COLLATE "C";
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE note > 'Z' COLLATE "und-x-icu";
SELECT count(*) FROM audit WHERE note > 'Z' COLLATE "und-x-icu";

-- time ranges: the partition column bounds follow the event time's;
-- microseconds round to Athena's milliseconds toward the inside
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time, event_name, new_state FROM audit
 WHERE order_id = '103'
   AND event_time >= '2024-01-02 00:00:00.0005+00' AND event_time < '2024-01-06'
 ORDER BY event_time;
SELECT event_time, event_name, new_state FROM audit
 WHERE order_id = '103'
   AND event_time >= '2024-01-02 00:00:00.0005+00' AND event_time < '2024-01-06'
 ORDER BY event_time;
-- equality at a fraction of a millisecond: widened and rechecked
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE event_time = '2024-01-02 10:00:00.0005+00';
-- a session in another time zone: constants sent as UTC
SET TimeZone = 'America/New_York';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE event_time >= '2024-01-03 19:00:00';
SELECT count(*) FROM audit WHERE event_time >= '2024-01-03 19:00:00';
SET TimeZone = 'UTC';
-- stable expressions and parameters: values at executor start
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE event_time >= now() - interval '7 days';
SELECT count(*) FROM audit WHERE event_time >= now() - interval '7 days';
PREPARE history(text, timestamptz) AS
  SELECT event_time, new_state FROM audit
   WHERE order_id = $1 AND event_time >= $2 ORDER BY event_time;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE history('105', '2024-01-01');
EXECUTE history('105', '2024-01-01');
RESET plan_cache_mode;
DEALLOCATE history;
-- a timestamp against timestamptz: converted in the session's time zone at
-- executor start, as PostgreSQL compares them, and sent as UTC (the same
-- count as the timestamptz bound in New York above); it prunes partitions
-- as that bound does
SET TimeZone = 'America/New_York';
PREPARE since(timestamp) AS SELECT count(*) FROM audit WHERE event_time >= $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE since('2024-01-03 19:00:00');
EXECUTE since('2024-01-03 19:00:00');
RESET plan_cache_mode;
DEALLOCATE since;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE event_time < date '2024-01-04';
SELECT count(*) FROM audit WHERE event_time < date '2024-01-04';
SET TimeZone = 'UTC';
-- volatile functions stay local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit WHERE qty < random() * 0;
SELECT count(*) FROM audit WHERE qty < random() * 0;

-- partition pruning reads fewer bytes: the query log compares the scans
SELECT count(*) FROM audit WHERE event_time >= '2024-01-05';
SET audit_fdw.enable_pushdown = off;
SELECT count(*) FROM audit WHERE event_time >= '2024-01-05';
RESET audit_fdw.enable_pushdown;
SELECT (SELECT bytes_scanned FROM audit_fdw.query_log
         WHERE athena_sql LIKE '%"datehour" >=%'
         ORDER BY logged_at DESC LIMIT 1)
       < (SELECT bytes_scanned FROM audit_fdw.query_log
           WHERE athena_sql NOT LIKE '%WHERE%'
           ORDER BY logged_at DESC LIMIT 1) AS pruned_reads_less;

-- ORDER BY with NULLS FIRST/LAST explicit, LIMIT and OFFSET
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, qty FROM audit ORDER BY qty DESC NULLS LAST, order_id, event_id LIMIT 4 OFFSET 2;
SELECT order_id, qty FROM audit ORDER BY qty DESC NULLS LAST, order_id, event_id LIMIT 4 OFFSET 2;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, qty FROM audit ORDER BY qty NULLS FIRST, order_id, event_id LIMIT 3;
SELECT order_id, qty FROM audit ORDER BY qty NULLS FIRST, order_id, event_id LIMIT 3;
-- DISTINCT
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT new_state FROM audit;
SELECT DISTINCT new_state FROM audit ORDER BY 1;
-- OFFSET without LIMIT; DISTINCT and GROUP BY with ORDER BY and LIMIT
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, qty FROM audit ORDER BY qty, order_id, event_id OFFSET 40;
SELECT order_id, qty FROM audit ORDER BY qty, order_id, event_id OFFSET 40;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT new_state FROM audit ORDER BY 1 DESC NULLS LAST LIMIT 2 OFFSET 1;
SELECT DISTINCT new_state FROM audit ORDER BY 1 DESC NULLS LAST LIMIT 2 OFFSET 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT order_id, count(*) FROM audit GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3;
SELECT order_id, count(*) FROM audit GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3;
-- DISTINCT ON as the first row of a row_number() window, where every output
-- column is a sort key (any row of a tie gives the same answer)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT ON (order_id) order_id, event_time FROM audit
 WHERE qty > 5 ORDER BY order_id, event_time DESC LIMIT 4;
SELECT DISTINCT ON (order_id) order_id, event_time FROM audit
 WHERE qty > 5 ORDER BY order_id, event_time DESC LIMIT 4;
-- new_state is not a sort key: PostgreSQL may keep any row of a tie, local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT DISTINCT ON (order_id) order_id, new_state FROM audit
 ORDER BY order_id, event_time DESC;

-- aggregates with GROUP BY and HAVING
EXPLAIN (VERBOSE, COSTS OFF)
SELECT new_state, count(*), count(DISTINCT order_id), sum(qty), min(amount),
       max(event_time), bool_and(express), bool_or(express), avg(weight)
  FROM audit GROUP BY new_state HAVING count(*) > 2 ORDER BY new_state;
SELECT new_state, count(*), count(DISTINCT order_id), sum(qty), min(amount),
       max(event_time), bool_and(express), bool_or(express), round(avg(weight)::numeric, 6)
  FROM audit GROUP BY new_state HAVING count(*) > 2 ORDER BY new_state;
-- transitions per day
EXPLAIN (VERBOSE, COSTS OFF)
SELECT date_trunc('day', event_time, 'UTC') AS day, count(*) FILTER (WHERE event_name = 'MODIFY')
  FROM audit WHERE event_time >= '2024-01-02' GROUP BY 1 ORDER BY 1 LIMIT 3;
SELECT date_trunc('day', event_time, 'UTC') AS day, count(*) FILTER (WHERE event_name = 'MODIFY')
  FROM audit WHERE event_time >= '2024-01-02' GROUP BY 1 ORDER BY 1 LIMIT 3;
-- avg of integers is numeric in PostgreSQL, double in Athena: its sum and
-- count ship, and the scan divides them as PostgreSQL's avg does
EXPLAIN (VERBOSE, COSTS OFF)
SELECT avg(qty) FROM audit;
SELECT avg(qty) FROM audit;

-- min() and max() without GROUP BY: the planner's rewrite into ORDER BY ...
-- LIMIT 1 subqueries would run one Athena query per aggregate, each sorting
-- the whole table; one Athena aggregate answers them all
EXPLAIN (VERBOSE, COSTS OFF)
SELECT min(event_time), max(event_time) FROM audit;
SELECT min(event_time), max(event_time) FROM audit;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT max(qty) FROM audit WHERE new_state = 'DELIVERED';
SELECT max(qty) FROM audit WHERE new_state = 'DELIVERED';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT min(order_id COLLATE "C") FROM audit;
SELECT min(order_id COLLATE "C") FROM audit;

-- joins of foreign tables of one server: inner, left, right, full
CREATE FOREIGN TABLE audit2 (
    event_id text, event_time timestamptz,
    order_id text OPTIONS (column_name 'keys', path 'orderId'),
    new_state text OPTIONS (column_name 'new_image', path 'state'),
    old_state text OPTIONS (column_name 'old_image', path 'state')
) SERVER pushdown OPTIONS ("table" 'orders_audit', estimated_rows '100000',
    time_column 'event_time', partition_column 'datehour',
    partition_format 'yyyy/MM/dd/HH');
-- orders that went DELIVERED -> RETURNED
EXPLAIN (VERBOSE, COSTS OFF)
SELECT d.order_id, d.event_time AS delivered, r.event_time AS returned
  FROM audit d JOIN audit2 r ON r.order_id = d.order_id
 WHERE d.new_state = 'DELIVERED' AND r.old_state = 'DELIVERED' AND r.new_state = 'RETURNED'
 ORDER BY 1;
SELECT d.order_id, d.event_time AS delivered, r.event_time AS returned
  FROM audit d JOIN audit2 r ON r.order_id = d.order_id
 WHERE d.new_state = 'DELIVERED' AND r.old_state = 'DELIVERED' AND r.new_state = 'RETURNED'
 ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.order_id, b.new_state FROM audit a
  LEFT JOIN audit2 b ON b.order_id = a.order_id AND b.new_state = 'CANCELLED'
 WHERE a.event_name = 'INSERT' AND a.event_time >= '2024-01-04';
SELECT a.order_id, b.new_state FROM audit a
  LEFT JOIN audit2 b ON b.order_id = a.order_id AND b.new_state = 'CANCELLED'
 WHERE a.event_name = 'INSERT' AND a.event_time >= '2024-01-04' ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.order_id, b.order_id FROM audit a
 RIGHT JOIN audit2 b ON b.event_id = a.event_id AND a.new_state = 'RETURNED'
 WHERE b.event_time < '2024-01-02';
SELECT a.order_id, b.order_id FROM audit a
 RIGHT JOIN audit2 b ON b.event_id = a.event_id AND a.new_state = 'RETURNED'
 WHERE b.event_time < '2024-01-02' ORDER BY 2, 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*), count(a.event_id), count(b.event_id) FROM audit a
  FULL JOIN audit2 b ON a.event_id = b.event_id;
SELECT count(*), count(a.event_id), count(b.event_id) FROM audit a
  FULL JOIN audit2 b ON a.event_id = b.event_id;
-- a join with a local table: the outer rows' keys go to Athena as one IN
-- list per batch (a batched join) when few outer rows meet a large table;
-- without it, a parameterized scan (one Athena query per outer value)
CREATE TABLE vip (order_id text);
INSERT INTO vip VALUES ('104'), ('108');
ANALYZE vip;
ALTER FOREIGN TABLE audit OPTIONS (SET estimated_rows '100000000');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v.order_id, a.event_time, a.new_state FROM vip v JOIN audit a ON a.order_id = v.order_id;
SELECT v.order_id, a.event_time, a.new_state FROM vip v JOIN audit a ON a.order_id = v.order_id
 ORDER BY 1, 2;
SET audit_fdw.enable_batched_join = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v.order_id, a.event_time, a.new_state FROM vip v JOIN audit a ON a.order_id = v.order_id;
SELECT v.order_id, a.event_time, a.new_state FROM vip v JOIN audit a ON a.order_id = v.order_id
 ORDER BY 1, 2;
RESET audit_fdw.enable_batched_join;
-- at the default size too, one batch reads what a plain scan reads and
-- transfers only the rows of the keys
ALTER FOREIGN TABLE audit OPTIONS (SET estimated_rows '1000');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v.order_id, a.event_time, a.new_state FROM vip v JOIN audit a ON a.order_id = v.order_id;
ALTER FOREIGN TABLE audit OPTIONS (SET estimated_rows '100000');

-- upper bounds prune only within a declared delivery delay (none here);
-- 0 declares a table partitioned by event time itself (not this one, whose
-- records arrive up to 10 minutes late: EXPLAIN only)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit2 WHERE event_time BETWEEN '2024-01-03' AND '2024-01-04';
ALTER FOREIGN TABLE audit2 OPTIONS (ADD max_delivery_delay '0');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM audit2 WHERE event_time BETWEEN '2024-01-03' AND '2024-01-04';
ALTER FOREIGN TABLE audit2 OPTIONS (DROP max_delivery_delay);

-- pushdown off: Athena only reads the columns
SET audit_fdw.enable_pushdown = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT new_state, count(*) FROM audit WHERE event_time >= '2024-01-05' GROUP BY 1 ORDER BY 1 LIMIT 2;
SELECT new_state, count(*) FROM audit WHERE event_time >= '2024-01-05' GROUP BY 1 ORDER BY 1 LIMIT 2;
RESET audit_fdw.enable_pushdown;
SELECT new_state, count(*) FROM audit WHERE event_time >= '2024-01-05' GROUP BY 1 ORDER BY 1 LIMIT 2;

DROP TABLE vip;
DROP SERVER pushdown CASCADE;
