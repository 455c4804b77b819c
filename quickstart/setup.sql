-- The quickstart's audit pipeline, set up from SQL.  Every statement may run
-- again: the functions of audit_fdw that create AWS resources leave an
-- identical existing resource alone.
--
-- psql variables: endpoint (the emulator's URL), bucket.

CREATE EXTENSION IF NOT EXISTS audit_fdw;

-- One server per AWS account and region.  The endpoint option points every
-- service at the local emulator; against AWS, leave it out.
CREATE SERVER IF NOT EXISTS aws FOREIGN DATA WRAPPER audit_fdw OPTIONS (
    region 'us-east-1',
    endpoint :'endpoint',
    database 'audit',
    workgroup 'primary',
    output_location 's3://quickstart-athena-results/audit_fdw/');

-- Credentials: the emulator accepts test/test.  Against AWS, leave the keys
-- out to use the standard credential chain (environment, profile, role).
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER aws
    OPTIONS (access_key_id 'test', secret_access_key 'test');

-- Firehose delivers the audit records into S3 under orders/YYYY/MM/dd/HH/.
SELECT audit_fdw.create_delivery_stream('aws', 'orders-audit',
    location => 's3://' || :'bucket' || '/orders/',
    role_arn => 'arn:aws:iam::000000000000:role/orders-audit-firehose');

-- The Glue table over those folders: no crawler, new hours are visible at once.
SELECT audit_fdw.create_audit_table('aws', 'orders_audit',
    location => 's3://' || :'bucket' || '/orders/',
    item_columns => 'orderId string, state string, address string, lastUpdatedDate bigint',
    key_columns => 'orderId string');

-- The pump: a background worker that moves the Orders stream into Firehose.
SELECT audit_fdw.create_pipeline('orders', server => 'aws',
    source_table => 'Orders', delivery_stream => 'orders-audit')
 WHERE NOT EXISTS (SELECT FROM audit_fdw.pipeline WHERE name = 'orders');

-- The audit table as a foreign table, from the Glue catalog.
CREATE SCHEMA IF NOT EXISTS audit;
SET client_min_messages = warning;
DROP FOREIGN TABLE IF EXISTS audit.orders_audit;
RESET client_min_messages;
IMPORT FOREIGN SCHEMA audit LIMIT TO (orders_audit) FROM SERVER aws INTO audit;
