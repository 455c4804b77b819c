/* audit_fdw--1.2--1.3.sql: from 1.2 to 1.3 (ALTER EXTENSION audit_fdw UPDATE TO '1.3') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION audit_fdw UPDATE TO '1.3'" to load this file. \quit

-- A fresh CREATE EXTENSION of 1.3 runs audit_fdw--1.0.sql, then each
-- update script up to this one, so an installation made new and one
-- updated from an earlier version are the same.  Each section below names
-- the change it belongs to.

-- ---------------------------------------------------------------------------
-- Cost at scale: attribute folders.  A third, optional partition level
-- under each event hour (and key bucket) on one chosen top-level attribute
-- of the item (folder_attribute, e.g. an order's state) with declared
-- values (folder_values): the pump writes each record's folder as the
-- member "attribute_folder" (the new image's string value when declared,
-- _other for any other value, _none when there is no new image or no
-- value), Firehose routes on it, and a query for one value reads that
-- value's folders and _other.  The pipeline stores the attribute and its
-- values; create_pipeline, create_audit_table and create_delivery_stream
-- gain them as arguments at the end, with no folders by default.
-- ---------------------------------------------------------------------------
ALTER TABLE audit_fdw.pipeline
    ADD COLUMN folder_attribute text,
    ADD COLUMN folder_values text[],
    ADD CONSTRAINT pipeline_folders_check CHECK (
        (folder_attribute IS NULL) = (folder_values IS NULL)
        AND (folder_attribute IS NULL
             OR (pg_catalog.octet_length(folder_attribute) BETWEEN 1 AND 255
                 AND pg_catalog.array_ndims(folder_values) OPERATOR(pg_catalog.=) 1
                 AND pg_catalog.array_position(folder_values, NULL) IS NULL
                 AND pg_catalog.cardinality(folder_values) BETWEEN 1 AND 64
                 AND pg_catalog.array_to_string(folder_values, ',') OPERATOR(pg_catalog.~)
                     '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(,[A-Za-z0-9][A-Za-z0-9._-]{0,99})*$')));
COMMENT ON COLUMN audit_fdw.pipeline.folder_attribute IS
    'the top-level item attribute whose value names each record''s attribute folder; NULL: no attribute folders';
COMMENT ON COLUMN audit_fdw.pipeline.folder_values IS
    'the declared values of folder_attribute, each a folder; any other value goes to _other, no value or no new image to _none';

CREATE OR REPLACE VIEW audit_fdw.pipeline_status AS
SELECT p.name AS pipeline,
       CASE WHEN p.state = 'running' AND NOT audit_fdw.pump_runs_here() THEN 'not pumped here'
            ELSE p.state END AS pipeline_state,
       p.source_table,
       p.delivery_stream,
       c.shard_id,
       c.parent_shard_id,
       CASE
           WHEN c.shard_id IS NULL THEN NULL
           WHEN c.state = 'reading' AND c.parent_shard_id IS NOT NULL
                AND EXISTS (SELECT 1 FROM audit_fdw.checkpoint pc
                             WHERE pc.pipeline = c.pipeline
                               AND pc.shard_id = c.parent_shard_id
                               AND pc.state <> 'drained') THEN 'waiting for parent'
           WHEN c.state = 'reading' AND p.state = 'paused' THEN 'paused'
           ELSE c.state
       END AS state,
       c.sequence_number AS checkpoint_sequence_number,
       c.records_read,
       c.records_delivered,
       c.records_retried,
       c.records_dead_lettered,
       CASE
           WHEN c.state <> 'reading' THEN NULL
           WHEN c.oldest_unacknowledged_time IS NOT NULL
               THEN GREATEST(pg_catalog.date_part('epoch', pg_catalog.now() - c.oldest_unacknowledged_time), 0)
           WHEN c.health <> 'ok' OR p.health <> 'ok'
               THEN GREATEST(pg_catalog.date_part('epoch', pg_catalog.now() -
                        COALESCE(c.last_record_time, c.health_since, p.health_since, p.created_at)), 0)
           ELSE c.lag_seconds
       END AS lag_seconds,
       c.last_record_time,
       c.gap_after_sequence_number,
       c.gap_before_sequence_number,
       COALESCE(c.last_error, p.last_error,
                CASE WHEN p.state = 'running' AND NOT audit_fdw.pump_runs_here()
                     THEN pg_catalog.format('the pump runs the pipelines of database %s (audit_fdw.database), not of this one',
                                            pg_catalog.quote_ident(pg_catalog.current_setting('audit_fdw.database', true)))
                END) AS last_error,
       CASE WHEN c.last_error IS NOT NULL THEN c.last_error_at ELSE p.last_error_at END AS last_error_at,
       c.updated_at,
       CASE
           WHEN p.state = 'paused' OR NOT audit_fdw.pump_runs_here() OR c.state = 'stopped' THEN 'stopped'
           WHEN c.health = 'failing' OR p.health = 'failing' THEN 'failing'
           WHEN c.health = 'retrying' OR p.health = 'retrying' THEN 'retrying'
           ELSE 'ok'
       END AS health,
       CASE WHEN c.health <> 'ok' THEN c.health_since
            WHEN p.health <> 'ok' THEN p.health_since END AS health_since,
       c.records_resent,
       c.get_records_calls,
       c.get_records_throttled,
       c.get_records_per_second,
       c.records_per_call,
       (SELECT COALESCE(pg_catalog.sum(e.count), 0) FROM audit_fdw.pump_error e
         WHERE e.pipeline = p.name AND e.shard_id IN (COALESCE(c.shard_id, ''), '')
           AND e.kind = 'retry')::bigint AS retries,
       (SELECT COALESCE(pg_catalog.sum(e.count), 0) FROM audit_fdw.pump_error e
         WHERE e.pipeline = p.name AND e.shard_id IN (COALESCE(c.shard_id, ''), '')
           AND e.kind = 'failure')::bigint AS failures,
       (SELECT pg_catalog.jsonb_object_agg(e.operation || ' ' || e.code, e.count)
          FROM audit_fdw.pump_error e
         WHERE e.pipeline = p.name AND e.shard_id IN (COALESCE(c.shard_id, ''), ''))
           AS errors_by_code,
       p.folder_attribute,
       p.folder_values
  FROM audit_fdw.pipeline p
  LEFT JOIN audit_fdw.checkpoint c ON c.pipeline = p.name
 ORDER BY p.name, c.shard_id;

-- The three functions gain the arguments at the end; whoever could execute
-- an old definition can execute its successor.
ALTER FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text, boolean)
    RENAME TO create_pipeline_1_2;
CREATE FUNCTION audit_fdw.create_pipeline(
    name text,
    server text,
    source_table text DEFAULT NULL,
    delivery_stream text DEFAULT NULL,
    stream_arn text DEFAULT NULL,
    starting_position text DEFAULT 'TRIM_HORIZON',
    batch_size integer DEFAULT 500,
    max_batching_window interval DEFAULT '1 second',
    on_trimmed_gap text DEFAULT 'stop',
    share_stream boolean DEFAULT false,
    folder_attribute text DEFAULT NULL,
    folder_values text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'audit_fdw_create_pipeline'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text, boolean, text, text[]) IS
    'pumps a DynamoDB table''s stream into a Firehose delivery stream, checking both; share_stream: a second pipeline on a stream; folder_attribute: folders';
REVOKE EXECUTE ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text, boolean, text, text[])
    FROM PUBLIC;

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee, a.is_grantable
          FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
         WHERE p.oid OPERATOR(pg_catalog.=) 'audit_fdw.create_pipeline_1_2(text, text, text, text, text, text, integer, interval, text, boolean)'::pg_catalog.regprocedure
           AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
           AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text, boolean, text, text[]) TO %s%s',
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
            CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;

DROP FUNCTION audit_fdw.create_pipeline_1_2(text, text, text, text, text, text, integer, interval, text, boolean);

DROP FUNCTION audit_fdw.create_audit_table(name, text, text, text, text, text, interval, text, integer);
CREATE FUNCTION audit_fdw.create_audit_table(
	server name,
	table_name text,
	location text,
	item_columns text,
	database text DEFAULT NULL,
	key_columns text DEFAULT NULL,
	history interval DEFAULT '1 year',
	layout text DEFAULT 'delivery_time',
	key_buckets integer DEFAULT 0,
	folder_attribute text DEFAULT NULL,
	folder_values text[] DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_audit_table'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION audit_fdw.create_audit_table(name, text, text, text, text, text, interval, text, integer, text, text[]) IS
'creates the Glue table of a pipeline''s audit records: folders by delivery or event hour (layout), key buckets, attribute folders (folder_attribute)';

DROP FUNCTION audit_fdw.create_delivery_stream(name, text, text, text, integer, integer, boolean, text, integer, text);
CREATE FUNCTION audit_fdw.create_delivery_stream(
	server name,
	name text,
	location text,
	role_arn text,
	buffer_seconds integer DEFAULT 60,
	buffer_mb integer DEFAULT 5,
	wait boolean DEFAULT true,
	layout text DEFAULT 'delivery_time',
	key_buckets integer DEFAULT 0,
	bucket_key text DEFAULT NULL,
	folder_attribute text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_delivery_stream'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION audit_fdw.create_delivery_stream(name, text, text, text, integer, integer, boolean, text, integer, text, text) IS
'creates the Firehose stream of a pipeline''s audit records: folders by delivery or event hour (layout), key buckets, attribute folders (folder_attribute)';
