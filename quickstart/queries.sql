-- The quickstart's audit questions, answered by Athena through audit_fdw.
\set ON_ERROR_STOP on
\pset footer off

\echo
\echo '==> How did order 101 get to RETURNED?'
SELECT event_time, event_name, old_state, new_state
  FROM audit.orders_audit
 WHERE order_id = '101' AND event_time >= now() - interval '7 days'
 ORDER BY event_time, sequence_number::numeric;

\echo
\echo '==> State transitions per day'
SELECT event_time::date AS day,
       coalesce(old_state, '(new)') AS from_state,
       coalesce(new_state, '(deleted)') AS to_state,
       count(*) AS orders
  FROM audit.orders_audit
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3;

\echo
\echo '==> The SQL that ran in Athena for the first question (datehour: the S3 folders to read)'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time, event_name, old_state, new_state
  FROM audit.orders_audit
 WHERE order_id = '101' AND event_time >= now() - interval '7 days'
 ORDER BY event_time, sequence_number::numeric;

\echo
\echo '==> As Athena ran it, from the query log (audit_fdw.query_log)'
\x on
SELECT query_id, athena_sql, data_scanned, cost_usd
  FROM audit_fdw.query_log
 WHERE athena_sql LIKE '%''101''%'
 ORDER BY logged_at
 LIMIT 1;
\x off

\echo
\echo '==> The live Orders table as a foreign table (IMPORT FOREIGN SCHEMA "DynamoDB")'
CREATE SCHEMA IF NOT EXISTS live;
SET client_min_messages = warning;
DROP FOREIGN TABLE IF EXISTS live."Orders";
RESET client_min_messages;
IMPORT FOREIGN SCHEMA "DynamoDB" LIMIT TO ("Orders") FROM SERVER aws INTO live;
\d live."Orders"

\echo
\echo '==> Orders DELIVERED now that were RETURNED before (DynamoDB now, Athena before)'
SELECT o."orderId", o.state AS state_now, h.event_time AS returned_at
  FROM live."Orders" o
  JOIN audit.orders_audit h ON h.order_id = o."orderId"
 WHERE o.state = 'DELIVERED' AND h.new_state = 'RETURNED'
 ORDER BY 1;

\echo
\echo '==> Orders whose address now differs from the one they were placed with'
SELECT o."orderId", h.new_address AS address_at_order, o.address AS address_now
  FROM live."Orders" o
  JOIN audit.orders_audit h ON h.order_id = o."orderId" AND h.event_name = 'INSERT'
 WHERE o.address IS DISTINCT FROM h.new_address
 ORDER BY 1;

\echo
\echo '==> How the live table was read for the first (a Scan, or a GetItem per returned order)'
EXPLAIN (COSTS OFF)
SELECT o."orderId", o.state AS state_now, h.event_time AS returned_at
  FROM live."Orders" o
  JOIN audit.orders_audit h ON h.order_id = o."orderId"
 WHERE o.state = 'DELIVERED' AND h.new_state = 'RETURNED'
 ORDER BY 1;
