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
