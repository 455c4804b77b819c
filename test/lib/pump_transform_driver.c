/*-------------------------------------------------------------------------
 *
 * pump_transform_driver.c
 *		Runs the pump's C transform (src/pump/transform.c) outside the server,
 *		for the boto3 comparison test and the transform benchmark.
 *
 *	pump_transform_driver convert SHARD_ID SOURCE_TABLE < records.jsonl
 *		one stream record (GetRecords wire JSON) a line in; for each, its
 *		audit record (which ends with its own newline) or a line
 *		"!BAD <reason>" out.  The records are read as text, as the pump
 *		reads GetRecords pages (audit_transform_record_text).
 *
 *	pump_transform_driver convert-tree SHARD_ID SOURCE_TABLE < records.jsonl
 *		the same through json-c (audit_transform_record): each line parsed
 *		into a tree first.
 *
 *	pump_transform_driver bench SECONDS [ATTRIBUTE VALUE...] < records.jsonl
 *		transforms the records' text, as the worker does with a GetRecords
 *		page, into one reused batch buffer (reset every 500 records); repeats
 *		over the input for about SECONDS of CPU time and prints
 *		{"records": N, "cpu_ns": T, "bytes": B}.  Reading the JSON is part
 *		of what is timed.  With ATTRIBUTE, a pipeline's attribute folders
 *		(audit_transform_set_folders) on that attribute and declared values.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "pump/transform.h"


static char *
read_line(FILE *f, size_t *len)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n = getline(&line, &cap, f);

	if (n < 0)
	{
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	*len = (size_t) n;
	return line;
}

static json_object *
parse_or_die(const char *line, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *obj = json_tokener_parse_ex(tok, line, (int) len);

	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
	{
		fprintf(stderr, "cannot parse input line: %s\n", line);
		exit(2);
	}
	json_tokener_free(tok);
	return obj;
}

static double
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
convert(const char *shard_id, const char *table, int tree)
{
	AuditBuf	buf;
	char	   *line;
	size_t		len;
	char		err[512];

	audit_buf_init(&buf);
	while ((line = read_line(stdin, &len)) != NULL)
	{
		json_object *rec;

		if (len == 0)
		{
			free(line);
			continue;
		}
		buf.len = 0;
		rec = tree ? parse_or_die(line, len) : NULL;
		switch (tree ?
				audit_transform_record(rec, shard_id, table, &buf, NULL, err, sizeof(err)) :
				audit_transform_record_text(line, len, shard_id, table, &buf, NULL,
											err, sizeof(err)))
		{
			case AUDIT_TRANSFORM_OK:
				fwrite(buf.data, 1, buf.len, stdout);
				break;
			case AUDIT_TRANSFORM_BAD_RECORD:
				printf("!BAD %s\n", err);
				break;
			case AUDIT_TRANSFORM_OUT_OF_MEMORY:
				fprintf(stderr, "out of memory\n");
				return 3;
		}
		if (rec)
			json_object_put(rec);
		free(line);
	}
	audit_buf_free(&buf);
	return 0;
}

static int
bench(double seconds)
{
	char	  **lines = NULL;
	size_t	   *lens = NULL;
	size_t		nlines = 0,
				cap = 0,
				i;
	char	   *line;
	size_t		len;
	AuditBuf	buf;
	double		elapsed = 0;
	long long	done = 0;
	long long	bytes = 0;

	while ((line = read_line(stdin, &len)) != NULL)
	{
		if (len == 0)
		{
			free(line);
			continue;
		}
		if (nlines == cap)
		{
			cap = cap ? cap * 2 : 1024;
			lines = realloc(lines, cap * sizeof(*lines));
			lens = realloc(lens, cap * sizeof(*lens));
		}
		lines[nlines] = line;
		lens[nlines++] = len;
	}
	if (nlines == 0)
	{
		fprintf(stderr, "no records\n");
		return 2;
	}
	audit_buf_init(&buf);

	while (elapsed < seconds * 1e9)
	{
		double		start = cpu_ns();

		for (i = 0; i < nlines; i++)
		{
			if (i % 500 == 0)
				buf.len = 0;
			if (audit_transform_record_text(lines[i], lens[i], "shardId-00000001", "Orders",
											&buf, NULL, NULL, 0) != AUDIT_TRANSFORM_OK)
			{
				fprintf(stderr, "record %zu failed\n", i);
				return 2;
			}
		}
		elapsed += cpu_ns() - start;
		done += nlines;
	}
	for (i = 0; i < nlines; i++)
	{
		buf.len = 0;
		audit_transform_record_text(lines[i], lens[i], "shardId-00000001", "Orders",
									&buf, NULL, NULL, 0);
		bytes += buf.len;
	}
	printf("{\"records\": %lld, \"cpu_ns\": %.0f, \"bytes\": %lld}\n", done, elapsed, bytes);
	for (i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
	free(lens);
	audit_buf_free(&buf);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "convert") == 0)
		return convert(argv[2], argv[3], 0);
	if (argc == 4 && strcmp(argv[1], "convert-tree") == 0)
		return convert(argv[2], argv[3], 1);
	if (argc >= 3 && strcmp(argv[1], "bench") == 0)
	{
		if (argc >= 4 &&
			!audit_transform_set_folders(argv[3], (const char *const *) argv + 4, argc - 4))
			return 3;
		return bench(atof(argv[2]));
	}
	fprintf(stderr, "usage: %s convert|convert-tree SHARD_ID SOURCE_TABLE | "
			"bench SECONDS [ATTRIBUTE VALUE...]\n", argv[0]);
	return 2;
}
