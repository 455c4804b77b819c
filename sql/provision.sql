--
-- Provisioning functions: argument validation.  Every case here fails
-- before the first AWS request, so no network is needed: the server points
-- at a closed port, and a call that got as far as AWS would fail differently.
--
CREATE EXTENSION IF NOT EXISTS audit_fdw;
CREATE SERVER prov_aws FOREIGN DATA WRAPPER audit_fdw
	OPTIONS (region 'us-east-1', endpoint 'http://127.0.0.1:9');
CREATE SERVER prov_nodb FOREIGN DATA WRAPPER audit_fdw
	OPTIONS (region 'us-east-1', endpoint 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER prov_aws
	OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN DATA WRAPPER prov_other_fdw;
CREATE SERVER prov_other FOREIGN DATA WRAPPER prov_other_fdw;
\set VERBOSITY default

-- the server
SELECT audit_fdw.create_audit_table('no_such_server', 't', 's3://bucket/p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table('prov_other', 't', 's3://bucket/p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table(NULL, 't', 's3://bucket/p/', 'a string', 'db');

-- names and locations
SELECT audit_fdw.create_audit_table('prov_aws', NULL, 's3://bucket/p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 'orders-audit', 's3://bucket/p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', '', 's3://bucket/p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'a string', 'my db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 'https://bucket/p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://My_Bucket/p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket//p/', 'a string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/!{timestamp:yyyy}/', 'a string', 'db');
-- no database: neither the call nor the server names one
SELECT audit_fdw.create_audit_table('prov_nodb', 't', 's3://bucket/p/', 'a string');

-- item_columns
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', '  ', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'orderId strin', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'orderId', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'orderId string,', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'orderId string state string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'state string, State bigint', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'order-id string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', '1st string', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'total decimal(40,2)', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'code varchar', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'tags map<struct<a:int>,string>', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'address struct<city string>', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'lines array<struct<sku:string,qty:int>', 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', NULL, 'db');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'orderId string', 'db',
	key_columns => 'orderId strng');

-- history
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'a string', 'db',
	history => '0 days');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'a string', 'db',
	history => '1 month 2 days');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'a string', 'db',
	history => '90 minutes');
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'a string', 'db',
	history => NULL);

-- create_delivery_stream
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders audit', 's3://bucket/p/',
	'arn:aws:iam::123456789012:role/firehose');
SELECT audit_fdw.create_delivery_stream('prov_aws', repeat('x', 65), 's3://bucket/p/',
	'arn:aws:iam::123456789012:role/firehose');
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders-audit', 'bucket/p/',
	'arn:aws:iam::123456789012:role/firehose');
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders-audit', 's3://bucket/p/',
	'firehose-role');
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders-audit', 's3://bucket/p/',
	'arn:aws:iam::1234:role/firehose');
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders-audit', 's3://bucket/p/',
	NULL);
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders-audit', 's3://bucket/p/',
	'arn:aws:iam::123456789012:role/firehose', buffer_seconds => 30);
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders-audit', 's3://bucket/p/',
	'arn:aws:iam::123456789012:role/firehose', buffer_mb => 0);
SELECT audit_fdw.create_delivery_stream('prov_aws', 'orders-audit', 's3://bucket/p/',
	'arn:aws:iam::123456789012:role/firehose', wait => NULL);

-- privileges: USAGE on the server, and a user mapping
CREATE ROLE prov_analyst;
GRANT USAGE ON SCHEMA audit_fdw TO prov_analyst;
SET ROLE prov_analyst;
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'a string', 'db');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER prov_aws TO prov_analyst;
SET ROLE prov_analyst;
SELECT audit_fdw.create_audit_table('prov_aws', 't', 's3://bucket/p/', 'a string', 'db');
RESET ROLE;

DROP SERVER prov_aws CASCADE;
DROP SERVER prov_nodb;
DROP FOREIGN DATA WRAPPER prov_other_fdw CASCADE;
REVOKE USAGE ON SCHEMA audit_fdw FROM prov_analyst;
DROP ROLE prov_analyst;
