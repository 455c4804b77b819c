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
