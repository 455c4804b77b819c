-- What audit_fdw sends to Athena: EXPLAIN (VERBOSE, COSTS OFF) shows the
-- Athena SQL; what stays in PostgreSQL shows as a Filter.  EXPLAIN without
-- ANALYZE runs nothing, so no network is needed.
CREATE EXTENSION IF NOT EXISTS audit_fdw;
CREATE SERVER athena FOREIGN DATA WRAPPER audit_fdw OPTIONS (
    region 'us-east-1', database 'audit');
CREATE USER MAPPING FOR CURRENT_USER SERVER athena
    OPTIONS (access_key_id 'test', secret_access_key 'test');

CREATE FOREIGN TABLE orders_audit (
    event_id text,
    event_name text,
    event_time timestamptz,
    sequence_number text,
    keys jsonb,
    new_image jsonb,
    old_image jsonb,
    order_id text OPTIONS (column_name 'keys', path 'orderId'),
    new_state text OPTIONS (column_name 'new_image', path 'state'),
    old_state text OPTIONS (column_name 'old_image', path 'state'),
    amount numeric(12,2) OPTIONS (column_name 'new_image', path 'amount'),
    weight double precision,
    express boolean,
    quantity integer,
    local_time timestamp,
    event_date date,
    payload bytea
) SERVER athena OPTIONS (database 'audit', "table" 'orders_audit');

-- projection: only the columns the query reads; json columns as JSON text
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM orders_audit;
EXPLAIN (VERBOSE, COSTS OFF) SELECT event_time, new_state FROM orders_audit;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM orders_audit;

-- comparisons with constants
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id = '101';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE quantity >= 3 AND amount < 12.50;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE event_date = '2024-01-15' AND 10 > quantity;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE express AND NOT (quantity <> 1);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE NOT express OR old_state IS NULL;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE new_image IS NOT NULL;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE new_state IN ('DELIVERED', 'RETURNED');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE quantity NOT IN (1, 2);

-- string literals: quotes doubled, backslashes as they are
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE new_state = 'it''s \n "x"';

-- LIKE always with ESCAPE; PostgreSQL's \x (x not special) is x itself
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id LIKE '10\_%' AND new_state NOT LIKE '%\a%';
-- a pattern ending in the escape is an error in PostgreSQL: kept local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id LIKE 'x\';
-- ILIKE is lower(x) LIKE lower(p), as PostgreSQL computes it in UTF-8;
-- under C, lower() maps ASCII only, unlike Athena: local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id ILIKE 'a%';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id COLLATE "C" ILIKE 'a%';

-- text ranges only where PostgreSQL compares by code point
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id > '100' COLLATE "C";
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id > '100' COLLATE "en-x-icu";

-- floats: NaN is above every number here and compares false in Athena:
-- =, <>, <, <= ship as they are, > and >= as NOT (x <= c) and NOT (x < c)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE weight < 1.5 AND weight > 0.5;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE weight = 'NaN';

-- timestamptz constants as UTC TIMESTAMP literals (this session is not UTC)
SHOW timezone;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit
 WHERE event_time >= '2024-01-15 08:00:00-08' AND event_time < '2024-01-16 00:00:00+00';
-- sub-millisecond bounds are widened to Athena's milliseconds and rechecked
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE event_time > '2024-01-15 16:44:27.0005+00';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE event_time = '2024-01-15 16:44:27.0005+00';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE event_time <> '2024-01-15 16:44:27.0005+00';

-- stable expressions are computed at executor start and sent as literals
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE event_time >= now() - interval '7 days';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE event_date = current_date AND order_id = lower('A');
-- timestamp against timestamptz depends on the session time zone: local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE local_time >= now();
-- volatile functions never go to Athena
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE quantity < random() * 10;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE order_id = md5(random()::text);

-- parameters of a prepared statement: literals of a custom plan, runtime
-- values of a generic one
PREPARE history(text) AS
  SELECT event_time, new_state FROM orders_audit WHERE order_id = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE history('101');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE history('101');
RESET plan_cache_mode;
DEALLOCATE history;

-- ORDER BY with explicit NULLS FIRST/LAST, and LIMIT when all went remote
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time, new_state FROM orders_audit WHERE order_id = '101'
 ORDER BY event_time;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time, new_state FROM orders_audit ORDER BY event_time DESC LIMIT 10;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit ORDER BY quantity NULLS FIRST, order_id COLLATE "C" DESC NULLS LAST LIMIT 5 OFFSET 5;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit LIMIT 3;
-- a float or a non-code-point sort key sorts locally, and LIMIT stays local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit ORDER BY weight LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit ORDER BY order_id COLLATE "en-x-icu" LIMIT 3;
-- a local condition keeps LIMIT local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE quantity < random() * 10 LIMIT 3;
-- grouping is costed against a local aggregate (fdw_pushdown shows it over
-- a large table); a join goes to Athena whole, with its LIMIT
EXPLAIN (VERBOSE, COSTS OFF)
SELECT new_state, count(*) FROM orders_audit GROUP BY new_state LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.event_id FROM orders_audit a JOIN orders_audit b USING (event_id) LIMIT 3;
-- a self-join on an equal column is one scan grouped by the key (each key's
-- rows of each side crossed by UNNEST); off, the plain join (a scan a side)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.event_id, b.event_time FROM orders_audit a JOIN orders_audit b ON a.order_id = b.order_id
 WHERE a.new_state = 'DELIVERED' AND b.new_state = 'RETURNED'
   AND a.event_time >= '2024-01-01' AND b.event_time >= '2024-01-02';
SET audit_fdw.enable_self_join_scan = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.event_id, b.event_time FROM orders_audit a JOIN orders_audit b ON a.order_id = b.order_id
 WHERE a.new_state = 'DELIVERED' AND b.new_state = 'RETURNED'
   AND a.event_time >= '2024-01-01' AND b.event_time >= '2024-01-02';
RESET audit_fdw.enable_self_join_scan;

-- partition pruning: a record is delivered after its event, so a lower bound
-- on event time bounds the delivery hour (less 5 minutes of clock skew)
ALTER FOREIGN TABLE orders_audit ADD COLUMN datehour text;
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD time_column 'event_time',
    ADD partition_column 'datehour', ADD partition_format 'yyyy/MM/dd/HH');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit
 WHERE event_time >= '2024-01-15 16:44:27+00' AND event_time < '2024-01-16 00:00:00+00';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE event_time = '2024-01-15 00:02:00+00';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE event_time >= now() - interval '7 days';
-- an upper bound prunes only within a declared delivery delay
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD max_delivery_delay '15 minutes');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit
 WHERE event_time BETWEEN '2024-01-15 10:00:00+00' AND '2024-01-15 11:50:00+00';
-- a bound inside OR does not
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit
 WHERE event_time > '2024-01-15 10:00:00+00' OR order_id = '101';
ALTER FOREIGN TABLE orders_audit OPTIONS (DROP time_column, DROP partition_column,
    DROP partition_format, DROP max_delivery_delay);
ALTER FOREIGN TABLE orders_audit DROP COLUMN datehour;

-- identifiers in double quotes, embedded quotes doubled
CREATE FOREIGN TABLE odd ("we""ird" text OPTIONS (column_name 'Col"1'), n int)
  SERVER athena OPTIONS (database 'my"db', "table" 'ta''ble');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM odd WHERE "we""ird" = 'x' AND n = 1;

-- a local table joined with the audit table: the keys of a batch of local
-- rows go to Athena as one IN list (a batched join) where that costs less
-- than reading the whole history or one query per local row
CREATE TABLE customers (id int, order_id text, n int, ts timestamptz, w float8,
                        segment text);
INSERT INTO customers
SELECT g, (100 + g)::text, g, '2024-01-15'::timestamptz + g * interval '1 hour', g,
       CASE WHEN g % 20 = 0 THEN 'vip' ELSE 'std' END
  FROM generate_series(1, 2000) g;
ANALYZE customers;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id, a.event_time, a.new_state
  FROM customers c JOIN orders_audit a ON a.order_id = c.order_id
 WHERE c.segment = 'vip';
-- a cast on the local side; integers of two widths
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id, a.event_time FROM customers c JOIN orders_audit a ON a.order_id = c.id::text
 WHERE c.segment = 'vip';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id, a.event_time FROM customers c JOIN orders_audit a ON a.quantity = c.n::bigint
 WHERE c.segment = 'vip';
-- a left join; a second join condition is checked here
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id, a.event_time FROM customers c
  LEFT JOIN orders_audit a ON a.order_id = c.order_id AND a.quantity > c.n
 WHERE c.segment = 'vip';
-- EXISTS and NOT EXISTS
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id FROM customers c
 WHERE c.segment = 'vip' AND EXISTS (SELECT 1 FROM orders_audit a
                                     WHERE a.order_id = c.order_id AND a.new_state <> 'OPEN');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id FROM customers c
 WHERE c.segment = 'vip' AND NOT EXISTS (SELECT 1 FROM orders_audit a
                                         WHERE a.order_id = c.order_id);
-- with key buckets, keys on the bucket key also send their buckets
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD bucket_column 'key_bucket',
    bucket_key 'orderId', bucket_digits '1');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT c.id, a.event_time FROM customers c JOIN orders_audit a ON a.order_id = c.order_id
 WHERE c.segment = 'vip';
-- a key known only at execution: its buckets are chosen then
SET plan_cache_mode = force_generic_plan;
PREPARE by_order(text) AS SELECT event_id FROM orders_audit WHERE order_id = $1;
EXPLAIN (COSTS OFF) EXECUTE by_order('101');
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_order('101');
PREPARE by_orders(text[]) AS SELECT event_id FROM orders_audit WHERE order_id = ANY($1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_orders('{101,102}');
DEALLOCATE by_order;
DEALLOCATE by_orders;
RESET plan_cache_mode;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE order_id = current_setting('application_name');
-- constants still choose theirs at planning
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE order_id IN ('101', '102');
-- attribute folders of the state: a value's folder (if declared) and _other
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD folder_column 'attribute_folder',
    folder_attribute 'state', folder_values 'OPEN,DELIVERED,RETURNED');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE new_state = 'DELIVERED' AND order_id = '101';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit WHERE new_state IN ('RETURNED', 'CANCELLED', 'OPEN');
-- nothing else selects folders: the old image, <>, IS NULL
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_id FROM orders_audit
 WHERE old_state = 'OPEN' AND new_state <> 'OPEN' AND new_state IS NOT NULL;
SET plan_cache_mode = force_generic_plan;
PREPARE by_state(text) AS SELECT event_id FROM orders_audit WHERE new_state = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_state('OPEN');
DEALLOCATE by_state;
RESET plan_cache_mode;
-- the options go together, and the values are checked
ALTER FOREIGN TABLE orders_audit OPTIONS (DROP folder_values);
ALTER FOREIGN TABLE orders_audit OPTIONS (SET folder_values 'OPEN,_none');
ALTER FOREIGN TABLE orders_audit OPTIONS (DROP folder_column, DROP folder_attribute,
    DROP folder_values);
ALTER FOREIGN TABLE orders_audit OPTIONS (DROP bucket_column, DROP bucket_key,
    DROP bucket_digits);
-- the batch size
SET audit_fdw.join_batch_size = 200;
EXPLAIN (COSTS OFF)
SELECT c.id, a.event_time FROM customers c JOIN orders_audit a ON a.order_id = c.order_id
 WHERE c.segment = 'vip';
RESET audit_fdw.join_batch_size;
-- every customer: one scan of the history and a hash join
EXPLAIN (COSTS OFF)
SELECT c.id, a.event_time FROM customers c JOIN orders_audit a ON a.order_id = c.order_id;
-- keys that are not sent: timestamps (Athena keeps milliseconds), floats
EXPLAIN (COSTS OFF)
SELECT c.id FROM customers c JOIN orders_audit a ON a.event_time = c.ts
 WHERE c.segment = 'vip';
EXPLAIN (COSTS OFF)
SELECT c.id FROM customers c JOIN orders_audit a ON a.weight = c.w
 WHERE c.segment = 'vip';
-- turned off
SET audit_fdw.enable_batched_join = off;
EXPLAIN (COSTS OFF)
SELECT c.id, a.event_time FROM customers c JOIN orders_audit a ON a.order_id = c.order_id
 WHERE c.segment = 'vip';
RESET audit_fdw.enable_batched_join;
DROP TABLE customers;

-- pushdown can be turned off
SET audit_fdw.enable_pushdown = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time FROM orders_audit WHERE order_id = '101' ORDER BY event_time LIMIT 1;
RESET audit_fdw.enable_pushdown;

-- a scan costs the rows Athena returns before the local filters, never
-- more than the table's estimated_rows: a NOT IN list of 5,000 values, which
-- the planner finds 1e-11 selective, does not take the plan past JIT's
-- threshold (it cost 1e12 when the rows were backed out of the selectivity)
SET audit_fdw.enable_pushdown = off;
CREATE FUNCTION pg_temp.total_cost(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan->0->'Plan'->>'Total Cost')::float8;
END $$;
SELECT pg_temp.total_cost(format(
           'SELECT event_id FROM orders_audit WHERE order_id NOT IN (%s)',
           (SELECT string_agg(quote_literal(i::text), ',') FROM generate_series(1, 5000) i)))
       BETWEEN 10000 AND current_setting('jit_above_cost')::float8 AS cost_below_jit_threshold;
RESET audit_fdw.enable_pushdown;

-- the query log is readable by everyone (their own queries)
SELECT count(*) FROM audit_fdw.query_log;

DROP FOREIGN TABLE odd;
DROP FOREIGN TABLE orders_audit;
DROP USER MAPPING FOR CURRENT_USER SERVER athena;
DROP SERVER athena;
