/*-------------------------------------------------------------------------
 *
 * pump.h
 *		The pump: background workers that move a DynamoDB stream into
 *		Firehose, losing nothing.
 *
 * One launcher (a static background worker, registered when the library
 * is preloaded) starts, for each running pipeline of the database named by
 * audit_fdw.database, up to audit_fdw.pump_readers dynamic reader workers.
 * Reader k of n reads the shards whose id hashes to k, so the shards of a
 * stream are read in parallel, and runs only while it has such a shard not
 * drained.  create_pipeline writes the stream's shards to
 * audit_fdw.checkpoint, the shared record of the shard DAG, and the lowest
 * of those readers (reader 0 when there is none) discovers new ones
 * (DescribeStream) and writes them there: a child shard is read only once
 * its parent's row says 'drained'.
 *
 * The delivery rule that makes at-least-once delivery keep each item's
 * order: the records of one PutRecordBatch belong to distinct items, and a
 * batch is sent only once the previous one was acknowledged in full, so a
 * resent entry never lands after a later change of the same item; the
 * checkpoint moves past a record only once Firehose acknowledged it (or it
 * went to the dead-letter table in the same transaction).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_FDW_PUMP_H
#define AUDIT_FDW_PUMP_H

#include "postgres.h"

#include "aws/aws.h"
#include "datatype/timestamp.h"
#include "pump/transform.h"

/* GUCs (launcher.c) */
extern char *pump_database;
extern int	pump_readers;
extern int	pump_naptime_ms;
extern int	pump_idle_max_ms;
extern int	pump_discovery_interval_ms;
extern int	backfill_workers;
extern bool pump_launcher_registered;

/* What a reader worker is told by the launcher (bgw_extra). */
typedef struct PumpWorkerArgs
{
	Oid			database;
	int16		slot;
	int16		nslots;
	char		pipeline[64];
} PumpWorkerArgs;

typedef enum PumpHealth
{
	PUMP_HEALTH_OK,
	PUMP_HEALTH_RETRYING,
	PUMP_HEALTH_FAILING
} PumpHealth;

typedef struct PumpHealthState
{
	PumpHealth	health;
	TimestampTz first_error;	/* of the current run of errors */
} PumpHealthState;

/* A pipeline's configuration, as audit_fdw.pipeline holds it. */
typedef struct PipelineConfig
{
	char	   *name;
	char	   *server_name;
	Oid			owner;
	char	   *source_table;
	char	   *stream_arn;
	char	   *delivery_stream;
	bool		start_at_latest;
	int			batch_size;
	int			batching_window_ms;
	bool		skip_trimmed_gaps;	/* 'skip', or 'snapshot' */
	bool		snapshot_trimmed_gaps;	/* 'snapshot': and a backfill */
	bool		running;
	PumpHealth	health;
	int64		generation;		/* moves on every pause and resume */
	TimestampTz created_at;		/* tells a pipeline made again under its name */
	char	   *folder_attribute;	/* attribute folders; NULL: none */
	char	  **folder_values;	/* the declared values */
	int			nfolder_values;
} PipelineConfig;

typedef enum ShardState
{
	SHARD_READING,
	SHARD_DRAINED,
	SHARD_STOPPED
} ShardState;

/* A record read but not yet checkpointed. */
typedef struct PendingRecord
{
	size_t		offset;			/* the audit record in the shard's buffer */
	size_t		len;
	uint64		item;			/* hash of the item's keys */
	char	   *sequence_number;
	char	   *event_id;
	double		approximate_time;
	const char *dead_reason;	/* not NULL: to the dead-letter table */
	int			round;
} PendingRecord;

/* One shard this reader owns. */
typedef struct ShardReader
{
	char	   *shard_id;
	char	   *parent_shard_id;
	ShardState	state;
	bool		initial;		/* open when the pipeline started */
	bool		skip_gap;		/* the user accepted a trimmed gap here */
	char	   *checkpoint;		/* last sequence number delivered */
	char	   *iterator;		/* NULL: get one */
	bool		at_end;			/* a closed shard read to its end */
	bool		caught_up;		/* the last GetRecords was empty */
	bool		lag_reported_zero;
	bool		polls_due;		/* GetRecords traffic to write (checkpoint_report_polls) */
	bool		polls_lag_zero; /* ... with the lag at 0 */
	bool		leased;			/* this reader holds the shard's lease */
	TimestampTz next_poll;
	int			idle_ms;
	int			error_backoff_ms;

	MemoryContext cxt;			/* pending records, reset once delivered */
	AuditBuf	buf;			/* their bytes (malloc'd, reused) */
	PendingRecord *pending;
	int			npending;
	int			maxpending;
	size_t		pending_bytes;
	TimestampTz pending_since;
	int64		retried;		/* entries resent since the last checkpoint */

	PumpHealthState health;
	char	   *sent;			/* the last sequence number handed to Firehose */
	int64		resent;			/* of the pending records, sent once before */
	TimestampTz last_call;		/* the last GetRecords */
	int64		calls;			/* GetRecords since the counters were written */
	int64		throttled;
	int64		window_calls;	/* GetRecords since stats_since */
	int64		window_records;
	TimestampTz stats_since;
	TimestampTz stats_written;
} ShardReader;

/* The state of one reader worker. */
typedef struct PumpWorker
{
	PumpWorkerArgs args;
	const char *kind;			/* "reader" or "backfill worker", for messages */
	PipelineConfig *config;
	MemoryContext config_cxt;	/* holds config */
	MemoryContext next_config_cxt;	/* the next reading of it; empty between */
	AwsClient  *client;
	List	   *shards;			/* of ShardReader *, the ones this reader owns */
	List	   *all_states;		/* of ShardRow *, every shard of the pipeline */
	MemoryContext cxt;			/* lives as long as the worker */
	TimestampTz next_refresh;
	TimestampTz next_discovery;
	bool		discover_now;
	bool		discoverer;		/* this reader discovers shards (worker.c) */
	PumpHealthState health;		/* of the errors that are no shard's */
	ShardReader *calling;		/* the shard whose calls run now, or NULL */
	List	   *client_retries; /* of PumpRetryCount *, not yet counted */
} PumpWorker;

/* Failed attempts the AWS client retried by itself, to count. */
typedef struct PumpRetryCount
{
	char	   *shard_id;		/* "" for the pipeline's own calls */
	char	   *operation;
	char	   *code;
	char	   *message;
	int64		count;
} PumpRetryCount;

/* A row of audit_fdw.checkpoint, as a reader reads it. */
typedef struct ShardRow
{
	char	   *shard_id;
	char	   *parent_shard_id;
	ShardState	state;
	bool		initial;
	bool		skip_gap;
	char	   *sequence_number;
	char	   *sent_sequence_number;
	PumpHealth	health;
	char	   *ending_sequence_number; /* set once the shard is closed */
} ShardRow;

/* in launcher.c */
extern void pump_init(void);
extern void pump_pin_search_path(void);
extern PGDLLEXPORT void audit_fdw_pump_launcher_main(Datum arg);

/* in supervisor.c */
extern PGDLLEXPORT void audit_fdw_pump_supervisor_main(Datum arg);

/* in lease.c: advisory lock classes of the pump's own (locktag_field4) */
typedef enum PumpLeaseKind
{
	PUMP_LEASE_SUPERVISOR = 0xAF01,
	PUMP_LEASE_SLOT = 0xAF02,
	PUMP_LEASE_SHARD = 0xAF03,
	PUMP_LEASE_BACKFILL = 0xAF04
} PumpLeaseKind;

extern bool lease_try(PumpLeaseKind kind, const char *name, uint32 key);
extern void lease_wait(PumpLeaseKind kind, const char *name, uint32 key, const char *what);
extern bool lease_held(PumpLeaseKind kind, const char *name, uint32 key);
extern void lease_release(PumpLeaseKind kind, const char *name, uint32 key);
extern uint32 lease_shard_key(const char *shard_id);
extern bool lease_parent_alive(void);
extern void lease_wake_parent(void);

/* in worker.c */
extern PGDLLEXPORT void audit_fdw_pump_worker_main(Datum arg);
extern void pump_wait(int ms);
extern void pump_commit(MemoryContext caller);
extern void pump_refresh_pipeline(PumpWorker *w);
extern void pump_connect_aws(PumpWorker *w);
extern void pump_watch_catalog(void);
extern PumpWorker *pump_worker_start(size_t size, const char *kind);
extern void pump_worker_loop(PumpWorker *w, long (*pass) (PumpWorker *w),
							 void (*failed) (PumpWorker *w, ErrorData *edata));
extern void pump_take_catalog_changes(PumpWorker *w);
extern bool pump_owns_shard(PumpWorker *w, const char *shard_id);
extern int	pump_shard_slot(const char *shard_id, int nslots);
extern int	pump_discoverer_slot(const bool *has_shard, int nslots);

/* in lineage.c */
extern void lineage_discover(PumpWorker *w);
extern void lineage_sync(PumpWorker *w);
extern bool lineage_parent_done(PumpWorker *w, ShardReader *shard);
extern bool lineage_take_lease(PumpWorker *w, ShardReader *shard);
extern void lineage_drop_lease(PumpWorker *w, ShardReader *shard);
extern void lineage_check_lease(PumpWorker *w, ShardReader *shard);

/* in backfill.c and snapshot.c */
#define BACKFILL_GAP_SEGMENTS 4	/* of the backfill a trimmed gap starts */
extern const char *const backfill_insert_sql;
extern Oid	backfill_insert_types[7];
extern PGDLLEXPORT void audit_fdw_backfill_worker_main(Datum arg);

/* in shard.c */
extern bool shard_poll(PumpWorker *w, ShardReader *shard);
extern void shard_reset(ShardReader *shard);
extern void shard_free(ShardReader *shard);
extern PendingRecord *shard_next_pending(ShardReader *shard);

/* in pipeline.c: for the SQL functions that manage pipelines */
extern uint64 run_privileged(const char *sql, int nargs, Oid *types, Datum *values,
							 const char *nulls);
extern uint64 run_privileged_first(const char *sql, int nargs, Oid *types, Datum *values,
								   const char *nulls, Datum *first);
extern bool require_pipeline_owner(const char *name, bool missing_ok);

/* in delivery.c */
extern void delivery_flush(PumpWorker *w, ShardReader *shard);
extern void delivery_send(PumpWorker *w, ShardReader *shard);
extern bool delivery_due(PumpWorker *w, ShardReader *shard, TimestampTz now);
extern int	sequence_number_cmp(const char *a, const char *b);

/* in checkpoint.c */
extern void checkpoint_begin(const char *activity);
extern void checkpoint_end(void);
extern PipelineConfig *checkpoint_read_pipeline(const char *name, MemoryContext cxt);
extern List *checkpoint_read_shards(const char *pipeline, MemoryContext cxt);
extern ShardRow *checkpoint_read_shard(const char *pipeline, const char *shard_id,
									   MemoryContext cxt);
extern bool checkpoint_register_shards(const char *pipeline, List *shards, bool initial,
									   bool retire, List *listed_ids);
extern bool checkpoint_advance(PumpWorker *w, ShardReader *shard, bool drained);
extern void checkpoint_write_dead_letters(PumpWorker *w, ShardReader *shard);
extern int64 checkpoint_gap_backfill(PumpWorker *w, ShardReader *shard, int64 *cancelled);
extern void checkpoint_report_polls(PumpWorker *w);
extern void checkpoint_mark_sent(PumpWorker *w, ShardReader *shard);
extern void checkpoint_count_error(const char *pipeline, const char *shard_id,
								   const char *operation, const char *code,
								   bool transient, const char *message, int64 count);
extern void checkpoint_set_health(const char *pipeline, const char *shard_id,
								  const char *health, const char *message);
extern PumpHealth health_from_name(const char *name);

/* in health.c */
extern const char *health_name(PumpHealth health);
extern void health_error(PumpWorker *w, ShardReader *shard, const char *operation,
						 const char *code, const char *message, bool transient);
extern void health_aws_error(PumpWorker *w, ShardReader *shard, AwsError *error);
extern void health_note_client_retry(void *arg, const AwsError *error);
extern void health_count_client_retries(PumpWorker *w);
extern void health_ok(PumpWorker *w, ShardReader *shard);
extern void checkpoint_trimmed_gap(PumpWorker *w, ShardReader *shard,
								   const char *gap_after, const char *gap_before,
								   bool stop);

#endif							/* AUDIT_FDW_PUMP_H */
