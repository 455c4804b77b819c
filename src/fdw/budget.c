/*-------------------------------------------------------------------------
 *
 * budget.c
 *		The byte budget of a query: before a scan starts its Athena query,
 *		the bytes it will read are estimated from S3 listings of the
 *		folders its partitions select, and a query over max_bytes_scanned
 *		is refused.
 *
 * The budget is the smallest of the max_bytes_scanned options of the
 * server, of each foreign table the scan reads and of the user mapping,
 * and of the setting audit_fdw.max_bytes_scanned (0 or unset: no limit at
 * that level).  A session can lower its budget, never raise it past what
 * the server, table and mapping allow.
 *
 * The estimate: for each foreign table of the scan, its folders are those
 * of the Glue table's location (the prefix of storage.location.template up
 * to the first ${...}, else StorageDescriptor.Location) whose partition
 * (the first path level of partition_format's length, yyyy/MM/dd/HH) lies
 * between the scan's partition bounds and, with key buckets and attribute
 * folders, whose bucket folder and attribute folder (the next path levels,
 * in that order) are ones the scan selects: what Athena's partition
 * projection reads for the shipped conditions.  Its bytes are the sizes
 * ListObjectsV2 gives.  A window of at most MAX_LISTED_DAYS days is listed
 * a day prefix at a time (yyyy/MM/dd/); anything else lists the whole
 * location.  Names that start with an underscore or a period are not read
 * by Athena and not counted: at the top (_errors/) and below a partition's
 * folders, but not those folders themselves (_other/, _none/).  Listings
 * and table locations are kept for
 * audit_fdw.estimate_cache_ttl seconds in the backend.
 *
 * The partition bounds and folders are those of planning (constants)
 * and, for a scan of one table, those computed at executor start (now() -
 * interval '7 days', $1, a nested loop's outer key).  A join's runtime bounds are not applied: its estimate may
 * be larger than what Athena reads, never smaller.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/* see provision.h: PostgreSQL's json_object() and json-c's type */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include <json-c/json.h>

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "aws/athena.h"
#include "aws/aws.h"
#include "aws/json_read.h"
#include "fdw/fdw.h"

/* GUC: audit_fdw.max_bytes_scanned, in MB (0: no limit) */
int			audit_max_bytes_scanned_mb = 0;

/* GUC: audit_fdw.estimate_cache_ttl, in seconds (0: no cache) */
int			audit_estimate_cache_ttl = 300;

/* a longer window lists the whole location at once */
#define MAX_LISTED_DAYS 400

typedef struct ListingEntry
{
	char		key[1024];		/* "s3:<bucket>/<prefix>" or "glue:<db>.<table>" */
	TimestampTz fetched;
	MemoryContext cxt;
	List	   *objects;		/* of S3Object * (s3:) */
	char	   *root;			/* s3://bucket/prefix/ (glue:) */
} ListingEntry;

static HTAB *listings = NULL;

static ListingEntry *
cached(const char *key, bool *fresh)
{
	ListingEntry *e;
	bool		found;

	if (listings == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(((ListingEntry *) 0)->key);
		ctl.entrysize = sizeof(ListingEntry);
		listings = hash_create("audit_fdw listings", 64, &ctl, HASH_ELEM | HASH_STRINGS);
	}
	if (strlen(key) >= sizeof(((ListingEntry *) 0)->key))
	{
		*fresh = false;
		return NULL;
	}
	e = hash_search(listings, key, HASH_ENTER, &found);
	if (!found)
	{
		e->cxt = NULL;
		e->objects = NIL;
		e->root = NULL;
	}
	*fresh = found && e->cxt != NULL && audit_estimate_cache_ttl > 0 &&
		!TimestampDifferenceExceeds(e->fetched, GetCurrentTimestamp(),
									audit_estimate_cache_ttl * 1000);
	if (!*fresh && e->cxt != NULL)
	{
		MemoryContextDelete(e->cxt);
		e->cxt = NULL;
		e->objects = NIL;
		e->root = NULL;
	}
	return e;
}

static MemoryContext
entry_context(ListingEntry *e)
{
	e->cxt = AllocSetContextCreate(TopMemoryContext, "audit_fdw listing",
								   ALLOCSET_SMALL_SIZES);
	e->fetched = GetCurrentTimestamp();
	return e->cxt;
}

/* The objects under s3://bucket/prefix, from the cache or S3. */
static List *
list_prefix(AwsClient *client, const char *bucket, const char *prefix)
{
	char	   *key = psprintf("s3:%s/%s", bucket, prefix);
	bool		fresh;
	ListingEntry *e = cached(key, &fresh);
	List	   *objects;
	MemoryContext old;
	ListCell   *lc;

	if (e != NULL && fresh)
		return e->objects;
	objects = s3_list_objects_v2(client, bucket, prefix);
	if (e == NULL)
		return objects;
	old = MemoryContextSwitchTo(entry_context(e));
	e->objects = NIL;
	foreach(lc, objects)
	{
		S3Object   *o = lfirst(lc);
		S3Object   *copy = palloc0(sizeof(S3Object));

		copy->key = pstrdup(o->key);
		copy->size = o->size;
		e->objects = lappend(e->objects, copy);
	}
	MemoryContextSwitchTo(old);
	return e->objects;
}

/* The S3 folder a table's partitions sit under: s3://bucket/prefix/ */
static char *
table_root(AwsClient *client, const AuditFdwOptions *options)
{
	char	   *key = psprintf("glue:%s.%s", options->database, options->table);
	bool		fresh;
	ListingEntry *e = cached(key, &fresh);
	json_object *table;
	const char *location;
	char	   *root;

	if (e != NULL && fresh)
		return e->root;
	table = glue_get_table(client, options->database, options->table);
	if (table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("Glue table \"%s.%s\" does not exist", options->database,
						options->table),
				 errdetail("The bytes a query reads are estimated from the table's S3 location."),
				 errhint("Check the foreign table's database and table options.")));
	location = aws_json_str(aws_json_obj(table, "Parameters"), "storage.location.template");
	if (location != NULL && strstr(location, "${") != NULL)
		root = pnstrdup(location, strstr(location, "${") - location);
	else
	{
		location = aws_json_path_str(table, "StorageDescriptor.Location");
		root = location ? pstrdup(location) : NULL;
	}
	/* table belongs to GetTable's answer, freed with the memory context */
	if (root == NULL || strncmp(root, "s3://", 5) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Glue table \"%s.%s\" has no S3 location", options->database,
						options->table),
				 errdetail("The bytes a query reads are estimated from the table's S3 location.")));
	if (root[strlen(root) - 1] != '/')
		root = psprintf("%s/", root);
	if (e != NULL)
	{
		e->root = MemoryContextStrdup(entry_context(e), root);
		return e->root;
	}
	return root;
}

/*
 * At planning: what the scan of rel selects of each of its foreign tables'
 * folders (a fdw_private item): per table a List of the table's OID
 * (Integer), the lowest and the highest partition ("" for no bound), per
 * level (AuditFdwLevelKind) the folders it selects (a List of String lists,
 * NIL: all) and whether runtime bounds narrow it further (Integer).
 */
List *
audit_folder_selection(PlannerInfo *root, Relids relids)
{
	List	   *out = NIL;
	int			relid = -1;

	while ((relid = bms_next_member(relids, relid)) >= 0)
	{
		RelOptInfo *brel = root->simple_rel_array[relid];
		AuditFdwRelationInfo *binfo;
		AuditFdwPartitioning part;
		char	   *lower = "";
		char	   *upper = "";
		bool		runtime = false;
		List	   *levels;
		ListCell   *lc;

		if (brel == NULL || brel->fdw_private == NULL)
			continue;
		binfo = (AuditFdwRelationInfo *) brel->fdw_private;
		audit_partitioning_of(binfo->options, &part);
		foreach(lc, binfo->partition_bounds)
		{
			AuditFdwPartitionBound *b = lfirst(lc);
			Node	   *value = (Node *) b->value;
			StringInfoData lit;
			char	   *p;

			while (IsA(value, RelabelType))
				value = (Node *) ((RelabelType *) value)->arg;
			if (!IsA(value, Const))
			{
				runtime = true;
				continue;
			}
			initStringInfo(&lit);
			audit_append_partition_literal(&lit, &part,
										   DatumGetTimestamp(((Const *) value)->constvalue),
										   b->is_upper);
			p = audit_partition_literal_value(lit.data);
			if (p == NULL)
				continue;
			if (b->is_upper ? (upper[0] == '\0' || strcmp(p, upper) < 0) : strcmp(p, lower) > 0)
			{
				if (b->is_upper)
					upper = p;
				else
					lower = p;
			}
		}
		levels = NIL;
		for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
		{
			levels = lappend(levels, list_copy(binfo->level_values[k]));
			/* folders chosen at executor start narrow it too */
			runtime |= binfo->level_runtime[k] != NIL;
		}
		out = lappend(out, list_make5(makeInteger((int) binfo->relid), makeString(lower),
									  makeString(upper), levels, makeInteger(runtime)));
	}
	return out;
}

/*
 * The folders of one level the tables of a selection select: the union of
 * theirs, or NIL (all) when one of them selects all.
 */
List *
audit_folder_selection_levels(List *folders, AuditFdwLevelKind kind)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, folders)
	{
		List	   *these = list_nth((List *) lfourth((List *) lfirst(lc)), kind);
		ListCell   *fc;

		if (these == NIL)
			return NIL;
		foreach(fc, these)
		{
			ListCell   *have;
			bool		seen = false;

			foreach(have, out)
				seen |= strcmp(strVal(lfirst(have)), strVal(lfirst(fc))) == 0;
			if (!seen)
				out = lappend(out, lfirst(fc));
		}
	}
	return out;
}

/*
 * The folders of a self-join read in one scan (deparse.c): one selection
 * holding every folder either side selects, from the lowest lower bound to
 * the highest upper bound, with either side's buckets and attribute
 * folders.  Runtime bounds are not applied (they differ per side): the
 * estimate may be larger than what Athena reads, never smaller.
 */
List *
audit_folder_selection_union(List *folders)
{
	List	   *first = linitial(folders);
	char	   *lower = strVal(lsecond(first));
	char	   *upper = strVal(lthird(first));
	List	   *levels = NIL;
	ListCell   *lc;

	for_each_from(lc, folders, 1)
	{
		List	   *item = lfirst(lc);
		char	   *lo = strVal(lsecond(item));
		char	   *hi = strVal(lthird(item));

		if (lo[0] == '\0' || strcmp(lo, lower) < 0)
			lower = lo;
		if (upper[0] != '\0' && (hi[0] == '\0' || strcmp(hi, upper) > 0))
			upper = hi;
	}
	for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
		levels = lappend(levels, audit_folder_selection_levels(folders, k));
	return list_make1(list_make5(copyObject(linitial(first)), makeString(lower),
								 makeString(upper), levels, makeInteger(0)));
}

/*
 * The value of a partition literal as deparse.c writes it ('2024/01/15/16'),
 * or NULL for another form (NULL, an empty bound).
 */
char *
audit_partition_literal_value(const char *literal)
{
	size_t		len = strlen(literal);

	if (len < 2 || literal[0] != '\'' || literal[len - 1] != '\'' ||
		strchr(literal + 1, '\'') != literal + len - 1)
		return NULL;
	return pnstrdup(literal + 1, len - 2);
}

/* The bytes of one size option's text, -1 for none. */
static int64
size_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return DatumGetInt64(DirectFunctionCall1(pg_size_bytes,
													 CStringGetTextDatum(defGetString(def))));
	}
	return -1;
}

static void
narrow(int64 *budget, const char **source, int64 value, const char *what)
{
	if (value > 0 && (*budget < 0 || value < *budget))
	{
		*budget = value;
		*source = what;
	}
}

/*
 * The byte budget of a scan of the foreign tables in folders, for userid on
 * serverid: -1 when none applies.  *source names where it comes from.
 */
int64
audit_byte_budget(List *folders, Oid serverid, Oid userid, const char **source)
{
	int64		budget = -1;
	ListCell   *lc;

	*source = NULL;
	if (audit_max_bytes_scanned_mb > 0)
		narrow(&budget, source, (int64) audit_max_bytes_scanned_mb * 1024 * 1024,
			   "the setting audit_fdw.max_bytes_scanned");
	narrow(&budget, source, size_option(GetForeignServer(serverid)->options,
										"max_bytes_scanned"),
		   psprintf("option max_bytes_scanned of server \"%s\"",
					GetForeignServer(serverid)->servername));
	foreach(lc, folders)
	{
		Oid			relid = (Oid) intVal(linitial((List *) lfirst(lc)));

		narrow(&budget, source, size_option(GetForeignTable(relid)->options,
											"max_bytes_scanned"),
			   psprintf("option max_bytes_scanned of foreign table \"%s\"",
						get_rel_name(relid)));
	}
	narrow(&budget, source, size_option(GetUserMapping(userid, serverid)->options,
										"max_bytes_scanned"),
		   "option max_bytes_scanned of the user mapping");
	return budget;
}

/* yyyy/MM/dd of a partition value, as a Julian day; false when not one. */
static bool
partition_day(const char *p, int *jday)
{
	int			y,
				m,
				d;

	if (strlen(p) < 10 || sscanf(p, "%4d/%2d/%2d", &y, &m, &d) != 3 ||
		m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	*jday = date2j(y, m, d);
	return true;
}

static bool
in_folders(const char *folder, size_t len, List *folders)
{
	ListCell   *lc;

	foreach(lc, folders)
	{
		const char *b = strVal(lfirst(lc));

		if (strlen(b) == len && strncmp(b, folder, len) == 0)
			return true;
	}
	return false;
}

/* Adds the objects of one table's selected folders to est. */
static void
estimate_table(AwsClient *client, List *item, const AuditRuntimeSelection *rt,
			   AuditBudgetEstimate *est)
{
	Oid			relid = (Oid) intVal(linitial(item));
	AuditFdwOptions *options = audit_get_options(relid, InvalidOid);
	const char *lower = strVal(lsecond(item));
	const char *upper = strVal(lthird(item));
	List	   *selected[AUDIT_NUM_LEVELS];
	bool		has_level[AUDIT_NUM_LEVELS];
	bool		runtime = intVal(list_nth(item, 4));
	char	   *root = table_root(client, options);
	char	   *bucket;
	char	   *prefix;
	size_t		plen = 0;
	List	   *prefixes = NIL;
	char	   *last_folder = NULL;
	ListCell   *lc;
	int			lo_day,
				hi_day;

	if (runtime && rt && rt->lower && (lower[0] == '\0' || strcmp(rt->lower, lower) > 0))
		lower = rt->lower;
	if (runtime && rt && rt->upper && (upper[0] == '\0' || strcmp(rt->upper, upper) < 0))
		upper = rt->upper;
	if (runtime && !rt)
		est->runtime_unapplied = true;
	for (int k = 0; k < AUDIT_NUM_LEVELS; k++)
	{
		AuditFdwLevel level;

		selected[k] = (List *) list_nth((List *) lfourth(item), k);
		/* the folders of values known at executor start (NIL: none) */
		if (runtime && rt && rt->level_known[k])
		{
			selected[k] = selected[k] == NIL ? rt->level_values[k]
				: list_intersection(selected[k], rt->level_values[k]);
			if (selected[k] == NIL)
				return;
		}
		has_level[k] = audit_level_of(options, k, &level);
	}
	if (options->partition_column == NULL || options->partition_format == NULL)
		lower = upper = "";
	else
		plen = strlen(options->partition_format);

	if (!aws_parse_s3_uri(root, &bucket, &prefix))
		return;
	if (prefix == NULL)
		prefix = "";
	/* a window of days: its day prefixes; else the whole location */
	if (lower[0] && upper[0] && plen >= 10 &&
		strncmp(options->partition_format, "yyyy/MM/dd", 10) == 0 &&
		partition_day(lower, &lo_day) && partition_day(upper, &hi_day) &&
		hi_day >= lo_day && hi_day - lo_day < MAX_LISTED_DAYS)
	{
		for (int j = lo_day; j <= hi_day; j++)
		{
			int			y,
						m,
						d;

			j2date(j, &y, &m, &d);
			prefixes = lappend(prefixes, psprintf("%s%04d/%02d/%02d/", prefix, y, m, d));
		}
	}
	else
		prefixes = list_make1(prefix);

	foreach(lc, prefixes)
	{
		ListCell   *oc;

		CHECK_FOR_INTERRUPTS();
		foreach(oc, list_prefix(client, bucket, (char *) lfirst(lc)))
		{
			S3Object   *o = lfirst(oc);
			const char *rel = o->key + strlen(prefix);
			const char *slash = strrchr(rel, '/');
			/* where the names Athena may skip begin: below the partition */
			const char *below = rel;

			if (strncmp(o->key, prefix, strlen(prefix)) != 0 || rel[0] == '_')
				continue;
			if (plen > 0)
			{
				/* projection reads only the partitions' folders */
				if (strlen(rel) <= plen || rel[plen] != '/')
					continue;
				if (lower[0] && strncmp(rel, lower, plen) < 0)
					continue;
				if (upper[0] && strncmp(rel, upper, plen) > 0)
					continue;
				/* then a folder per level: the key's bucket, the attribute's */
				{
					const char *f = rel + plen + 1;
					bool		keep = true;

					for (int k = 0; k < AUDIT_NUM_LEVELS && keep; k++)
					{
						const char *end;

						if (!has_level[k])
							continue;
						end = strchr(f, '/');
						if (end == NULL ||
							(selected[k] != NIL && !in_folders(f, end - f, selected[k])))
							keep = false;
						else
							f = end + 1;
					}
					if (!keep)
						continue;
					below = f;
				}
			}
			/*
			 * Athena skips names that begin with an underscore or a period
			 * under a partition's location, not in the location itself
			 * (_other/, _none/): trinodb/trino's HiveFileIterator, whose
			 * TestHiveFileIterator reads a listing root within a hidden
			 * folder.
			 */
			if (below[0] == '_' || below[0] == '.' || strstr(below, "/_") != NULL ||
				strstr(below, "/.") != NULL)
				continue;
			est->bytes += o->size;
			est->objects++;
			if (slash != NULL &&
				(last_folder == NULL || strlen(last_folder) != (size_t) (slash - rel) ||
				 strncmp(last_folder, rel, slash - rel) != 0))
			{
				last_folder = pnstrdup(rel, slash - rel);
				est->folders++;
				if (est->first_folder == NULL)
					est->first_folder = psprintf("s3://%s/%s%s/", bucket, prefix, last_folder);
				est->last_folder = psprintf("s3://%s/%s%s/", bucket, prefix, last_folder);
			}
		}
	}
}

/*
 * Estimates the bytes of the folders a scan selects (folders: its
 * fdw_private item).  rt: what the values known at execution selected
 * (NULL at planning, when they are not known); it applies to a one-table
 * scan.
 */
void
audit_estimate_scan(AwsClient *client, List *folders, const AuditRuntimeSelection *rt,
					AuditBudgetEstimate *est)
{
	ListCell   *lc;
	bool		one = list_length(folders) == 1;

	memset(est, 0, sizeof(*est));
	foreach(lc, folders)
		estimate_table(client, (List *) lfirst(lc), one ? rt : NULL, est);
	est->computed = true;
}

static char *
pretty(int64 bytes)
{
	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
															  Int64GetDatum(bytes))));
}

/* Refuses a scan whose estimate is over the budget. */
void
audit_check_budget(const AuditBudgetEstimate *est, int64 budget, const char *source)
{
	if (budget < 0 || est->bytes <= budget)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("the Athena query would scan about %s, more than its budget of %s",
					pretty(est->bytes), pretty(budget)),
			 errdetail("Estimated from S3 listings: " INT64_FORMAT " bytes in " INT64_FORMAT
					   " objects in %d folders%s%s%s%s. The budget is %s.",
					   est->bytes, est->objects, est->folders,
					   est->first_folder ? ", from " : "",
					   est->first_folder ? est->first_folder : "",
					   est->first_folder ? " to " : "",
					   est->last_folder ? est->last_folder : "", source),
			 errhint("Narrow the query: bound event_time on both sides, or give the key (= or IN) of a table with key buckets, or the attribute of a table with attribute folders. "
					 "Or raise the budget: SET audit_fdw.max_bytes_scanned = '%s' (the server's, the table's and the user mapping's max_bytes_scanned also apply: the smallest wins).",
					 pretty(est->bytes + 1024 * 1024))));
}
