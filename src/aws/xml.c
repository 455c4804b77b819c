/*-------------------------------------------------------------------------
 *
 * xml.c
 *		A small non-validating XML walker for AWS's REST-XML (S3) and query
 *		protocol (STS) responses.
 *
 * AWS responses are plain: elements, text, a declaration, no DTDs.  This
 * walker reports the text of every leaf element with its path from the
 * root; callers pick what they need.  Rules: pure C (no backend calls),
 * bounded depth and path length, every read checked against the end of the
 * input, so truncated or hostile bodies end the walk instead of crashing.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "aws/aws_parse.h"

#define XML_MAX_DEPTH 64
#define XML_MAX_PATH 2048

typedef struct XmlText
{
	char	   *data;
	size_t		len;
	size_t		cap;
} XmlText;

static bool text_append(XmlText *t, const char *s, size_t n);
static bool text_append_codepoint(XmlText *t, unsigned long cp);
static const char *find_seq(const char *p, const char *end, const char *seq);
static const char *decode_entity(const char *p, const char *end, XmlText *t);
static bool is_name_char(char c);
static bool find_cb(const char *path, const char *text, size_t text_len,
					void *arg);

static bool
text_append(XmlText *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap)
	{
		size_t		cap = t->cap ? t->cap * 2 : 64;
		char	   *d;

		while (cap < t->len + n + 1)
			cap *= 2;
		d = realloc(t->data, cap);
		if (d == NULL)
			return false;
		t->data = d;
		t->cap = cap;
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
	return true;
}

static bool
text_append_codepoint(XmlText *t, unsigned long cp)
{
	char		buf[4];
	size_t		n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return text_append(t, "\xEF\xBF\xBD", 3);	/* U+FFFD */
	if (cp < 0x80)
	{
		buf[0] = (char) cp;
		n = 1;
	}
	else if (cp < 0x800)
	{
		buf[0] = (char) (0xC0 | (cp >> 6));
		buf[1] = (char) (0x80 | (cp & 0x3F));
		n = 2;
	}
	else if (cp < 0x10000)
	{
		buf[0] = (char) (0xE0 | (cp >> 12));
		buf[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		buf[2] = (char) (0x80 | (cp & 0x3F));
		n = 3;
	}
	else
	{
		buf[0] = (char) (0xF0 | (cp >> 18));
		buf[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
		buf[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
		buf[3] = (char) (0x80 | (cp & 0x3F));
		n = 4;
	}
	return text_append(t, buf, n);
}

/* The position of seq in [p, end), or NULL. */
static const char *
find_seq(const char *p, const char *end, const char *seq)
{
	size_t		n = strlen(seq);

	while (p + n <= end)
	{
		if (memcmp(p, seq, n) == 0)
			return p;
		p++;
	}
	return NULL;
}

/*
 * Decode the entity at p ('&'); returns the position after it.  An unknown
 * or unterminated entity is kept literally.
 */
static const char *
decode_entity(const char *p, const char *end, XmlText *t)
{
	static const struct
	{
		const char *name;
		char		c;
	}			named[] = {
		{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}
	};
	const char *q = p + 1;

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
	{
		size_t		n = strlen(named[i].name);

		if (q + n <= end && memcmp(q, named[i].name, n) == 0)
		{
			text_append(t, &named[i].c, 1);
			return q + n;
		}
	}
	if (q < end && *q == '#')
	{
		unsigned long cp = 0;
		int			base = 10;
		int			digits = 0;

		q++;
		if (q < end && (*q == 'x' || *q == 'X'))
		{
			base = 16;
			q++;
		}
		while (q < end && digits < 8)
		{
			int			d;

			if (*q >= '0' && *q <= '9')
				d = *q - '0';
			else if (base == 16 && *q >= 'a' && *q <= 'f')
				d = *q - 'a' + 10;
			else if (base == 16 && *q >= 'A' && *q <= 'F')
				d = *q - 'A' + 10;
			else
				break;
			cp = cp * base + d;
			digits++;
			q++;
		}
		if (digits > 0 && q < end && *q == ';')
		{
			text_append_codepoint(t, cp);
			return q + 1;
		}
	}
	text_append(t, "&", 1);
	return p + 1;
}

static bool
is_name_char(char c)
{
	return !(c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' ||
			 c == '>' || c == '<' || c == '=' || c == '\0');
}

bool
aws_xml_walk(const char *xml, size_t len, AwsXmlCallback cb, void *arg)
{
	const char *p = xml;
	const char *end = xml + len;
	char		path[XML_MAX_PATH];
	size_t		path_len[XML_MAX_DEPTH + 1];
	bool		has_child[XML_MAX_DEPTH + 1];
	int			depth = 0;
	XmlText		text = {NULL, 0, 0};
	bool		ok = true;
	bool		stopped = false;

	path[0] = '\0';
	path_len[0] = 0;
	has_child[0] = false;

	while (p < end && !stopped)
	{
		if (*p != '<')
		{
			if (*p == '&')
				p = depth > 0 ? decode_entity(p, end, &text) : p + 1;
			else
			{
				const char *q = p;

				while (q < end && *q != '<' && *q != '&')
					q++;
				if (depth > 0)
					text_append(&text, p, q - p);
				p = q;
			}
			continue;
		}

		/* markup */
		if (end - p >= 2 && p[1] == '?')
		{
			p = find_seq(p + 2, end, "?>");
			if (p == NULL)
				break;
			p += 2;
		}
		else if (end - p >= 4 && memcmp(p, "<!--", 4) == 0)
		{
			p = find_seq(p + 4, end, "-->");
			if (p == NULL)
			{
				ok = false;
				break;
			}
			p += 3;
		}
		else if (end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0)
		{
			const char *q = find_seq(p + 9, end, "]]>");

			if (q == NULL)
			{
				ok = false;
				break;
			}
			if (depth > 0)
				text_append(&text, p + 9, q - (p + 9));
			p = q + 3;
		}
		else if (end - p >= 2 && p[1] == '!')
		{
			p = memchr(p, '>', end - p);
			if (p == NULL)
			{
				ok = false;
				break;
			}
			p++;
		}
		else if (end - p >= 2 && p[1] == '/')
		{
			const char *name = p + 2;
			const char *q = name;
			size_t		n;

			while (q < end && is_name_char(*q))
				q++;
			n = q - name;
			q = memchr(q, '>', end - q);
			if (q == NULL || depth == 0)
			{
				ok = false;
				break;
			}
			/* the closing name must match the open element */
			{
				size_t		start = path_len[depth - 1] + (depth > 1 ? 1 : 0);

				if (path_len[depth] - start != n ||
					memcmp(path + start, name, n) != 0)
				{
					ok = false;
					break;
				}
			}
			if (!has_child[depth])
				stopped = !cb(path, text.data ? text.data : "", text.len, arg);
			depth--;
			path[path_len[depth]] = '\0';
			text.len = 0;
			if (text.data)
				text.data[0] = '\0';
			p = q + 1;
		}
		else
		{
			const char *name = p + 1;
			const char *q = name;
			size_t		n;
			bool		self_closing = false;
			char		quote = 0;

			while (q < end && is_name_char(*q))
				q++;
			n = q - name;
			if (n == 0)
			{
				ok = false;
				break;
			}
			/* skip attributes, minding quoted values */
			while (q < end)
			{
				if (quote)
				{
					if (*q == quote)
						quote = 0;
				}
				else if (*q == '"' || *q == '\'')
					quote = *q;
				else if (*q == '>')
					break;
				q++;
			}
			if (q >= end)
			{
				ok = false;
				break;
			}
			if (q[-1] == '/')
				self_closing = true;
			if (depth >= XML_MAX_DEPTH ||
				path_len[depth] + n + 2 > sizeof(path))
			{
				ok = false;
				break;
			}
			has_child[depth] = true;
			{
				size_t		pos = path_len[depth];

				if (depth > 0)
					path[pos++] = '/';
				memcpy(path + pos, name, n);
				pos += n;
				path[pos] = '\0';
				depth++;
				path_len[depth] = pos;
				has_child[depth] = false;
			}
			text.len = 0;
			if (text.data)
				text.data[0] = '\0';
			if (self_closing)
			{
				stopped = !cb(path, "", 0, arg);
				depth--;
				path[path_len[depth]] = '\0';
			}
			p = q + 1;
		}
	}
	free(text.data);
	if (!stopped && depth != 0)
		ok = false;
	return ok;
}

typedef struct XmlFind
{
	const char *suffix;
	char	   *result;
} XmlFind;

static bool
find_cb(const char *path, const char *text, size_t text_len, void *arg)
{
	XmlFind    *f = arg;
	size_t		pl = strlen(path);
	size_t		sl = strlen(f->suffix);

	if (pl < sl || strcmp(path + pl - sl, f->suffix) != 0)
		return true;
	if (pl > sl && path[pl - sl - 1] != '/')
		return true;
	f->result = malloc(text_len + 1);
	if (f->result)
	{
		memcpy(f->result, text, text_len);
		f->result[text_len] = '\0';
	}
	return false;
}

char *
aws_xml_find(const char *xml, size_t len, const char *suffix)
{
	XmlFind		f = {suffix, NULL};

	aws_xml_walk(xml, len, find_cb, &f);
	return f.result;
}
