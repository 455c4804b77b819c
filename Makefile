# audit_fdw: audit a DynamoDB table through its stream, query the history in Athena.
#
# The PGXS part is included only once pg_config exists, so that `make test` and
# `make quickstart` work on a fresh machine: they install what is missing first.

MODULE_big = audit_fdw
OBJS = \
	$(WIN32RES) \
	audit_fdw.o \
	src/aws/athena.o \
	src/aws/base64.o \
	src/aws/bigalloc.o \
	src/aws/client.o \
	src/aws/dynamodbstreams.o \
	src/aws/credentials.o \
	src/aws/errors.o \
	src/aws/firehose.o \
	src/aws/functions.o \
	src/aws/glue.o \
	src/aws/http.o \
	src/aws/ini.o \
	src/aws/json_read.o \
	src/aws/jsontext.o \
	src/aws/protocol.o \
	src/aws/region.o \
	src/aws/responses.o \
	src/aws/s3.o \
	src/aws/sigv4.o \
	src/aws/sts.o \
	src/aws/xml.o \
	src/fdw/batchjoin.o \
	src/fdw/budget.o \
	src/dynamodb/convert.o \
	src/dynamodb/exec.o \
	src/dynamodb/import.o \
	src/dynamodb/plan.o \
	src/dynamodb/table.o \
	src/fdw/csv.o \
	src/fdw/dialect.o \
	src/fdw/deparse.o \
	src/fdw/fdw.o \
	src/fdw/fieldcase.o \
	src/fdw/import.o \
	src/fdw/options.o \
	src/fdw/partition.o \
	src/fdw/querylog.o \
	src/fdw/scan.o \
	src/fdw/shippable.o \
	src/fdw/types.o \
	src/provision/audit_table.o \
	src/provision/delivery_stream.o \
	src/provision/item_columns.o \
	src/provision/provision.o \
	src/pump/backfill.o \
	src/pump/checkpoint.o \
	src/pump/dead_letter_text.o \
	src/pump/delivery.o \
	src/pump/health.o \
	src/pump/launcher.o \
	src/pump/lease.o \
	src/pump/lineage.o \
	src/pump/pipeline.o \
	src/pump/shard.o \
	src/pump/snapshot.o \
	src/pump/supervisor.o \
	src/pump/transform.o \
	src/pump/worker.o

EXTENSION = audit_fdw
DATA = audit_fdw--1.0.sql audit_fdw--1.0--1.1.sql audit_fdw--1.1--1.2.sql audit_fdw--1.2--1.3.sql
PGFILEDESC = "audit_fdw - DynamoDB stream auditing and Athena foreign tables"

REGRESS = audit_fdw aws_client fdw_options fdw_explain fdw_pushdown provision
REGRESS_OPTS = --inputdir=. --outputdir=test/regress-output

PG_CPPFLAGS = -I$(srcdir)/src -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare $(shell pkg-config --cflags libcurl json-c openssl nettle 2>/dev/null)
ifeq ($(WERROR),1)
PG_CPPFLAGS += -Werror
endif
SHLIB_LINK = $(shell pkg-config --libs libcurl json-c openssl nettle 2>/dev/null)

PG_CONFIG ?= $(shell ls /usr/lib/postgresql/15/bin/pg_config 2>/dev/null || command -v pg_config 2>/dev/null)

# pg_config alone is not enough: Debian's postgresql-common ships one without
# the server headers and PGXS (postgresql-server-dev-15).
ifneq ($(PG_CONFIG),)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
PG_SERVER_INCLUDE := $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)
endif
ifeq ($(wildcard $(PGXS)),)
PG_MISSING = pg_config or PGXS not found ($(or $(PG_CONFIG),no pg_config))
else ifeq ($(wildcard $(PG_SERVER_INCLUDE)/postgres.h),)
PG_MISSING = the PostgreSQL server headers are not installed ($(PG_SERVER_INCLUDE)/postgres.h)
endif

ifeq ($(PG_MISSING),)
include $(PGXS)

# Header dependencies: each object notes the headers it was compiled with
# (gcc -MMD), so a changed header rebuilds every object (and bitcode file)
# that includes it; a struct that grew is never read by a stale object.
DEPFLAGS = -MMD -MP -MT $@ -MT $(@:.o=.bc) -MF $(@:.o=.d)
%.o : %.c
	$(COMPILE.c) $(DEPFLAGS) -o $@ $<
-include $(OBJS:.o=.d)
EXTRA_CLEAN += $(OBJS:.o=.d)

# The transform reads every byte of every stream record: built with -O3 (as
# PostgreSQL builds its page checksums with extra optimization flags), which
# makes it about 2% faster on bench/pump_transform_bench's corpus; the
# benchmark builds it with the same flags.
TRANSFORM_CFLAGS = -O3
src/pump/transform.o: CFLAGS += $(TRANSFORM_CFLAGS)

# The pump and foreign-table tests read the AWS emulator's address from
# AUDIT_FDW_EMULATOR_URL; test/run starts a cluster and the emulator and sets it.
installcheck: installcheck-needs-emulator
.PHONY: installcheck-needs-emulator
installcheck-needs-emulator:
	@if [ -z "$$AUDIT_FDW_EMULATOR_URL" ]; then \
		echo "make installcheck needs the AWS emulator: run 'test/run regress' (it starts a private cluster and the emulator), or start test/emulator/aws-emulator and set AUDIT_FDW_EMULATOR_URL=http://127.0.0.1:PORT" >&2; \
		exit 1; \
	fi
else
all install installcheck:
	@echo "$(PG_MISSING): run 'make deps' (or 'make test', which runs it) first" >&2
	@exit 1
endif

.PHONY: deps unit test quickstart tour stop bench

# Debian packages the build, the tests and the quickstart need.
deps:
	@test/lib/install-deps

unit: deps
	@$(MAKE) --no-print-directory -C test/unit run

test: deps
	@test/run

quickstart: deps
	@quickstart/run

# the README's tour as a script: an administrator sets up, an analyst asks
tour: deps
	@quickstart/run --tour

stop:
	@test/lib/stop-all

bench: deps
	@bench/run
