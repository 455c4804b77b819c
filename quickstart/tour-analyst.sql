-- The README's tour of the SQL interface, the analyst's part: run as the
-- analyst (psql -U analyst), who is not a superuser, after
-- quickstart/tour-admin.sql and some changes of the Orders table.
\set ON_ERROR_STOP on
\pset footer off

SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;

-- The history of order 101.
SELECT event_time, event_name, old_state, new_state
  FROM audit.orders_audit
 WHERE order_id = '101' AND event_time >= now() - interval '7 days'
 ORDER BY event_time, sequence_number::numeric;

-- The item as DynamoDB has it, attribute names and all.
SELECT keys->>'orderId' AS order_id, new_image
  FROM audit.orders_audit
 WHERE order_id = '101' AND event_name = 'INSERT';

-- What ran in Athena, and what it cost.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT event_time, new_state FROM audit.orders_audit WHERE order_id = '101';
SELECT username, state, data_scanned, cost_usd FROM audit_fdw.query_log;

-- Now and then in one statement: orders DELIVERED now that were RETURNED
-- before (the live table joined with the history).
SELECT o."orderId", o.state AS state_now, h.event_time AS returned_at
  FROM live.orders o
  JOIN audit.orders_audit h ON h.order_id = o."orderId"
 WHERE o.state = 'DELIVERED' AND h.new_state = 'RETURNED'
 ORDER BY 1;

-- Orders whose address now differs from the one they were placed with.
SELECT o."orderId", h.new_address AS address_at_order, o.address AS address_now
  FROM live.orders o
  JOIN audit.orders_audit h ON h.order_id = o."orderId" AND h.event_name = 'INSERT'
 WHERE o.address IS DISTINCT FROM h.new_address
 ORDER BY 1;
