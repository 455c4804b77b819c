/* audit_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION audit_fdw" to load this file. \quit

-- The extension lives in its own schema, audit_fdw (see audit_fdw.control).
