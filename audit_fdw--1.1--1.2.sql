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
