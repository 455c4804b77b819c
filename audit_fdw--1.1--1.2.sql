/* audit_fdw--1.1--1.2.sql: from 1.1 to 1.2 (ALTER EXTENSION audit_fdw UPDATE TO '1.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION audit_fdw UPDATE TO '1.2'" to load this file. \quit

-- A fresh CREATE EXTENSION of 1.2 runs audit_fdw--1.0.sql, then
-- audit_fdw--1.0--1.1.sql and this script, so an installation made new and
-- one updated from 1.0 or 1.1 are the same.  Each section below names the
-- change it belongs to.
