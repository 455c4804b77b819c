/* audit_fdw--1.1--1.2.sql: from 1.1 to 1.2 (ALTER EXTENSION audit_fdw UPDATE TO '1.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION audit_fdw UPDATE TO '1.2'" to load this file. \quit

-- A fresh CREATE EXTENSION of 1.2 runs audit_fdw--1.0.sql, then
-- audit_fdw--1.0--1.1.sql and this script, so an installation made new and
-- one updated from 1.0 or 1.1 are the same.  Each section below names the
-- change it belongs to.

-- ---------------------------------------------------------------------------
-- Pump: a dead letter's text is valid in the database's encoding whatever
-- bytes the record had (a record is often dead because its bytes are
-- wrong); the column comments say how such bytes are written.
-- ---------------------------------------------------------------------------
COMMENT ON COLUMN audit_fdw.dead_letter.record IS
    'the record as it came, as text: in a UTF-8 database valid characters as they are, otherwise non-ASCII as JSON \uXXXX escapes; NUL as \u0000, invalid UTF-8 bytes as \xNN';
COMMENT ON COLUMN audit_fdw.dead_letter.record_bytes IS
    'the record''s length in bytes as it came, before any escaping';

-- ---------------------------------------------------------------------------
-- Cost at scale: key buckets.  create_audit_table and create_delivery_stream
-- take key_buckets (0, 16, 256 or 4096; event-time layout only): a folder
-- under each event hour for the last hex digits of the key_hash the pump
-- writes for the key (SHA-256 of its value), so that a query for one key
-- reads 1/N of the folders.  create_delivery_stream also takes the key
-- attribute (bucket_key).  The functions gain the arguments at the end,
-- with no buckets as their default.
-- ---------------------------------------------------------------------------
DROP FUNCTION create_audit_table(name, text, text, text, text, text, interval, text);
CREATE FUNCTION create_audit_table(
	server name,
	table_name text,
	location text,
	item_columns text,
	database text DEFAULT NULL,
	key_columns text DEFAULT NULL,
	history interval DEFAULT '1 year',
	layout text DEFAULT 'delivery_time',
	key_buckets integer DEFAULT 0)
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_audit_table'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_audit_table(name, text, text, text, text, text, interval, text, integer) IS
'creates the Glue table of a pipeline''s audit records: delivery-hour or event-hour folders (layout), key buckets (key_buckets)';

DROP FUNCTION create_delivery_stream(name, text, text, text, integer, integer, boolean, text);
CREATE FUNCTION create_delivery_stream(
	server name,
	name text,
	location text,
	role_arn text,
	buffer_seconds integer DEFAULT 60,
	buffer_mb integer DEFAULT 5,
	wait boolean DEFAULT true,
	layout text DEFAULT 'delivery_time',
	key_buckets integer DEFAULT 0,
	bucket_key text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_delivery_stream'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_delivery_stream(name, text, text, text, integer, integer, boolean, text, integer, text) IS
'creates the Firehose stream of a pipeline''s audit records: delivery-hour or event-hour folders (layout), key buckets (key_buckets)';
