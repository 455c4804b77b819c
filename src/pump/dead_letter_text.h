/*-------------------------------------------------------------------------
 *
 * dead_letter_text.h
 *		A dead letter's bytes as text the database can store.
 *
 * A dead letter is a record the pump could not deliver: often because its
 * bytes are not what they should be.  They are kept in a text column, which
 * must hold valid text of the database's encoding (no NUL, no invalid
 * sequence), or the row would break dumps and every reader of the table.
 * Pure C with no backend calls, so the unit tests link it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_PUMP_DEAD_LETTER_TEXT_H
#define AUDIT_FDW_PUMP_DEAD_LETTER_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "pump/transform.h"

/*
 * Appends s (len bytes, meant to be UTF-8 JSON) to out as text that is
 * valid in a UTF-8 database (utf8_database) or, otherwise, in any server
 * encoding (all of which are ASCII supersets):
 *	- valid UTF-8 characters are kept as they are in a UTF-8 database and
 *	  written as JSON escapes (\uXXXX, a surrogate pair above U+FFFF)
 *	  otherwise, which is the same JSON string;
 *	- NUL is written \u0000;
 *	- a byte that starts no valid UTF-8 sequence is written \xNN.
 * So the text round-trips: every original byte can be told from it.
 * Returns true when nothing had to be escaped (the text is the bytes).
 */
extern bool audit_dead_letter_text(const char *s, size_t len, bool utf8_database,
								   AuditBuf *out);

#endif							/* AUDIT_FDW_PUMP_DEAD_LETTER_TEXT_H */
