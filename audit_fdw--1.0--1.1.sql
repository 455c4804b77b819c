/* audit_fdw--1.0--1.1.sql: from 1.0 to 1.1 (ALTER EXTENSION audit_fdw UPDATE TO '1.1') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION audit_fdw UPDATE TO '1.1'" to load this file. \quit

-- A fresh CREATE EXTENSION of 1.1 runs audit_fdw--1.0.sql and then this
-- script, so an installation made new and one updated from 1.0 are the same.
-- Each section below names the change it belongs to.

-- ---------------------------------------------------------------------------
-- Security: query_log filters by user as a security barrier, so that no
-- function or failing cast in a caller's WHERE clause sees another user's
-- rows before the filter has run.
-- ---------------------------------------------------------------------------
ALTER VIEW query_log SET (security_barrier = true);

-- ---------------------------------------------------------------------------
-- Pump: pg_dump keeps the pipelines, their checkpoints and dead letters.
-- The rows are the pump's state (where each shard is); without them a
-- restored database would start every pipeline over from TRIM_HORIZON.
-- pg_dump orders the data of these tables by their foreign keys.
-- ---------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.pipeline', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.dead_letter', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.dead_letter_id_seq', '');
