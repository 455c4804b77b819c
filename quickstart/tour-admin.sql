-- The README's tour of the SQL interface, the administrator's part: run by
-- a superuser in the database named by audit_fdw.database.  `make tour`
-- runs it against the local emulator (psql -v endpoint=...), then plays
-- the story of order 101, then quickstart/tour-analyst.sql as the analyst.
\set ON_ERROR_STOP on

CREATE EXTENSION audit_fdw;          -- installs into the schema audit_fdw

-- Who is who: loader owns the pipeline, analyst asks the questions.
-- Neither is a superuser.
CREATE ROLE loader LOGIN;
CREATE ROLE analyst LOGIN;

-- A server is an AWS account and region.
CREATE SERVER aws FOREIGN DATA WRAPPER audit_fdw OPTIONS (
    region 'us-east-1',
    database 'audit',                                    -- the Glue database
    workgroup 'primary',
    output_location 's3://my-athena-results/audit_fdw/');

-- (the emulator, LocalStack or a VPC endpoint: only a superuser may set it)
\if :{?endpoint}
ALTER SERVER aws OPTIONS (ADD endpoint :'endpoint');
\endif

-- A user mapping holds each role's credentials.  With keys, a role acts
-- with its own IAM user:
--   CREATE USER MAPPING FOR analyst SERVER aws
--       OPTIONS (access_key_id 'AKIA...', secret_access_key '...');
-- Without keys, it acts with the PostgreSQL server's own identity (its
-- instance role, environment or profile), which only a superuser may allow
-- for a role that is not one (credentials_required 'false'):
CREATE USER MAPPING FOR CURRENT_USER SERVER aws;
CREATE USER MAPPING FOR loader SERVER aws OPTIONS (credentials_required 'false');
CREATE USER MAPPING FOR analyst SERVER aws OPTIONS (credentials_required 'false');

-- The delivery stream and the audit table, from SQL (both idempotent).
SELECT audit_fdw.create_delivery_stream('aws', 'orders-audit',
    location => 's3://my-audit-bucket/orders/',
    role_arn => 'arn:aws:iam::123456789012:role/orders-audit-firehose');

SELECT audit_fdw.create_audit_table('aws', 'orders_audit',
    location => 's3://my-audit-bucket/orders/',
    item_columns => 'orderId string, state string, address string, lastUpdatedDate bigint');

-- The loader may start pipelines on this server; the pipeline acts with
-- the loader's user mapping.
GRANT USAGE ON FOREIGN SERVER aws TO loader;
GRANT EXECUTE ON FUNCTION audit_fdw.create_pipeline TO loader;
SET ROLE loader;
SELECT audit_fdw.create_pipeline('orders', server => 'aws',
    source_table => 'Orders', delivery_stream => 'orders-audit');
RESET ROLE;

SELECT pipeline, state, records_delivered FROM audit_fdw.pipeline_status;

-- The audit table as a foreign table, readable by the analyst.
CREATE SCHEMA audit;
IMPORT FOREIGN SCHEMA audit LIMIT TO (orders_audit) FROM SERVER aws INTO audit;
GRANT USAGE ON SCHEMA audit TO analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT ON TABLES TO analyst;

-- The live Orders table, read from DynamoDB through the same server: what
-- the items are now, beside their history.
CREATE SCHEMA live;
CREATE FOREIGN TABLE live.orders (
    "orderId" text, state text, address text, "lastUpdatedDate" numeric,
    item jsonb OPTIONS (whole_item 'true'))
  SERVER aws OPTIONS (dynamodb_table 'Orders');
GRANT USAGE ON SCHEMA live TO analyst;
GRANT SELECT ON live.orders TO analyst;
