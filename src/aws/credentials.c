/*-------------------------------------------------------------------------
 *
 * credentials.c
 *		Where a client's AWS credentials come from.
 *
 * The order is the user mapping's options first, then the default chain of
 * the AWS SDKs:
 *	1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *	   AWS_SESSION_TOKEN;
 *	2. the shared credentials and config files (AWS_SHARED_CREDENTIALS_FILE,
 *	   AWS_CONFIG_FILE, else ~/.aws/ of the server's user), the profile of
 *	   AWS_PROFILE or "default": static keys, role_arn with source_profile /
 *	   credential_source / web_identity_token_file through STS, or
 *	   credential_process (its JSON output, Version 1);
 *	3. a web identity token file: AWS_WEB_IDENTITY_TOKEN_FILE with
 *	   AWS_ROLE_ARN, through STS AssumeRoleWithWebIdentity;
 *	4. a container credentials endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *	   or _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE);
 *	5. the EC2 instance metadata service, IMDSv2 (a token PUT first, short
 *	   timeouts; AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED).
 * A user mapping's `profile` option selects that profile and skips the
 * rest of the chain; its `role_arn` (with `external_id`) is assumed on top
 * of whatever was found.
 *
 * Rules: a source that is configured but fails raises its error (as the
 * SDKs do) rather than silently falling through; a chain that finds nothing
 * raises an error listing what was looked at.  Temporary credentials are
 * cached for the life of the backend and refreshed five minutes before they
 * expire (half way through their lifetime when that is shorter).  Secrets are wiped when released and never appear in messages.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "aws/aws_internal.h"

#define REFRESH_MARGIN_SECS 300
#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_PROCESS_OUTPUT (64 * 1024)
#define MAX_PROFILE_DEPTH 5
#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define CONTAINER_DEFAULT_HOST "http://169.254.170.2"

/* Temporary credentials of this backend, by where they came from. */
typedef struct CachedCredentials
{
	char	   *key;
	AwsCredentials *creds;
} CachedCredentials;

static List *credential_cache = NIL;	/* in TopMemoryContext */

/* What one resolution looked at, for the error when nothing is found. */
typedef struct ChainState
{
	AwsClient  *client;
	MemoryContext cxt;			/* where found credentials go */
	StringInfoData tried;
} ChainState;

static bool expiring(AwsCredentials *creds);
static char *cache_key(AwsClient *client);
static AwsCredentials *cache_get(const char *key, MemoryContext cxt);
static void cache_put(const char *key, AwsCredentials *creds);
static AwsCredentials *copy_credentials(AwsCredentials *c, MemoryContext cxt);
static void set_source(AwsCredentials *c, const char *source);
static void note(ChainState *st, const char *fmt,...) pg_attribute_printf(2, 3);
static const char *env(const char *name);
static pg_noinline char *home_path(const char *rel);
static pg_noinline char *expand_path(const char *path);
static char *read_small_file(const char *path, size_t *len, bool missing_ok);
static AwsCredentials *from_environment(ChainState *st, bool required);
static AwsCredentials *from_profile(ChainState *st, const char *profile,
									bool required, int depth);
static AwsCredentials *profile_credentials(ChainState *st, const char *profile,
										   bool required, int depth,
										   AwsIni *cred_ini, AwsIni *conf_ini,
										   const char *cred_path,
										   const char *conf_path);
static AwsCredentials *from_web_identity_env(ChainState *st);
static AwsCredentials *from_container(ChainState *st, bool required);
static AwsCredentials *from_imds(ChainState *st, bool required);
static AwsCredentials *web_identity(ChainState *st, const char *role_arn,
									const char *session_name,
									const char *token_file);
static AwsCredentials *from_credential_process(ChainState *st,
											   const char *profile,
											   const char *command);
static char *run_process(const char *command, size_t *len, int *exit_status);
static AwsCredentials *from_document(ChainState *st, const char *what,
									 const char *body, size_t len,
									 bool require_version, const char *source);
static AwsResponse *metadata_request(AwsService service, const char *method,
									 const char *url, List *headers,
									 int attempts, AwsError **error);
static bool full_uri_allowed(const char *url);
static char *default_session_name(void);

AwsCredentials *
aws_credentials_make(MemoryContext cxt, const char *access_key_id,
					 const char *secret_access_key, const char *session_token,
					 int64 expires_at, const char *source)
{
	AwsCredentials *c = MemoryContextAllocZero(cxt, sizeof(AwsCredentials));

	c->access_key_id = MemoryContextStrdup(cxt, access_key_id);
	c->secret_access_key = MemoryContextStrdup(cxt, secret_access_key);
	c->session_token = (session_token && session_token[0]) ?
		MemoryContextStrdup(cxt, session_token) : NULL;
	c->expires_at = expires_at;
	if (expires_at != 0)
	{
		/* five minutes ahead, or half way through a shorter lifetime */
		int64		lifetime = expires_at - (int64) time(NULL);

		c->refresh_at = expires_at - Min(REFRESH_MARGIN_SECS, Max(lifetime / 2, 0));
	}
	c->source = MemoryContextStrdup(cxt, source);
	return c;
}

void
aws_credentials_free(AwsCredentials *creds)
{
	if (creds == NULL)
		return;
	if (creds->secret_access_key)
	{
		memset(creds->secret_access_key, 0, strlen(creds->secret_access_key));
		pfree(creds->secret_access_key);
	}
	if (creds->session_token)
	{
		memset(creds->session_token, 0, strlen(creds->session_token));
		pfree(creds->session_token);
	}
	pfree(creds->access_key_id);
	pfree((char *) creds->source);
	pfree(creds);
}

static AwsCredentials *
copy_credentials(AwsCredentials *c, MemoryContext cxt)
{
	AwsCredentials *copy = aws_credentials_make(cxt, c->access_key_id,
												c->secret_access_key,
												c->session_token, c->expires_at,
												c->source);

	copy->refresh_at = c->refresh_at;
	return copy;
}

/* Replace where credentials came from, in the context they live in. */
static void
set_source(AwsCredentials *c, const char *source)
{
	char	   *old = (char *) c->source;

	c->source = MemoryContextStrdup(GetMemoryChunkContext(c), source);
	pfree(old);
}

static bool
expiring(AwsCredentials *creds)
{
	return creds->refresh_at != 0 && (int64) time(NULL) >= creds->refresh_at;
}

/*
 * What identifies a resolution: the explicit keys (by a hash of the
 * secret, never the secret), the profile, the role on top.
 */
static char *
cache_key(AwsClient *client)
{
	StringInfoData key;

	initStringInfo(&key);
	if (client->access_key_id)
		appendStringInfo(&key, "keys:%s:%08x", client->access_key_id,
						 hash_bytes((const unsigned char *) client->secret_access_key,
									strlen(client->secret_access_key)));
	else if (client->profile)
		appendStringInfo(&key, "profile:%s", client->profile);
	else
		appendStringInfoString(&key, "chain");
	appendStringInfo(&key, "|endpoint:%s|region:%s",
					 client->endpoint ? client->endpoint : "",
					 client->region ? client->region : "");
	if (client->role_arn)
		appendStringInfo(&key, "|role:%s|external:%s", client->role_arn,
						 client->external_id ? client->external_id : "");
	return key.data;
}

static AwsCredentials *
cache_get(const char *key, MemoryContext cxt)
{
	ListCell   *lc;

	foreach(lc, credential_cache)
	{
		CachedCredentials *cc = lfirst(lc);

		if (strcmp(cc->key, key) == 0 && !expiring(cc->creds))
			return copy_credentials(cc->creds, cxt);
	}
	return NULL;
}

static void
cache_put(const char *key, AwsCredentials *creds)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	ListCell   *lc;
	CachedCredentials *cc;

	foreach(lc, credential_cache)
	{
		cc = lfirst(lc);
		if (strcmp(cc->key, key) == 0)
		{
			aws_credentials_free(cc->creds);
			cc->creds = copy_credentials(creds, TopMemoryContext);
			MemoryContextSwitchTo(old);
			return;
		}
	}
	cc = palloc(sizeof(CachedCredentials));
	cc->key = pstrdup(key);
	cc->creds = copy_credentials(creds, TopMemoryContext);
	credential_cache = lappend(credential_cache, cc);
	MemoryContextSwitchTo(old);
}

static void
note(ChainState *st, const char *fmt,...)
{
	va_list		args;

	if (st->tried.len > 0)
		appendStringInfoString(&st->tried, "; ");
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&st->tried, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&st->tried, needed);
	}
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return (v && v[0]) ? v : NULL;
}

/* A path under the home directory of the server's user. */
static char *
home_path(const char *rel)
{
	const char *home = env("HOME");

	if (home == NULL)
	{
		struct passwd *pw = getpwuid(geteuid());

		if (pw == NULL || pw->pw_dir == NULL)
			return NULL;
		home = pw->pw_dir;
	}
	return psprintf("%s/%s", home, rel);
}

static char *
expand_path(const char *path)
{
	if (path[0] == '~' && path[1] == '/')
	{
		char	   *p = home_path(path + 2);

		return p ? p : pstrdup(path);
	}
	return pstrdup(path);
}

/* A whole small file, palloc'd and NUL-terminated; NULL if missing. */
static char *
read_small_file(const char *path, size_t *len, bool missing_ok)
{
	FILE	   *f = AllocateFile(path, PG_BINARY_R);
	StringInfoData buf;
	char		chunk[8192];
	size_t		n;

	if (f == NULL)
	{
		if (missing_ok && errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	}
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
	{
		if (buf.len + n > MAX_FILE_BYTES)
		{
			FreeFile(f);
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("file \"%s\" is too large", path),
					 errdetail("AWS configuration and token files are read up to %d bytes.",
							   MAX_FILE_BYTES)));
		}
		appendBinaryStringInfo(&buf, chunk, n);
	}
	if (ferror(f))
	{
		int			save_errno = errno;

		FreeFile(f);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	}
	FreeFile(f);
	if (len)
		*len = buf.len;
	return buf.data;
}

static AwsCredentials *
from_environment(ChainState *st, bool required)
{
	const char *akid = env("AWS_ACCESS_KEY_ID");
	const char *secret = env("AWS_SECRET_ACCESS_KEY");

	if (akid == NULL || secret == NULL)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("no AWS credentials in the environment of the server"),
					 errdetail("credential_source is Environment, but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not set.")));
		note(st, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
		return NULL;
	}
	return aws_credentials_make(st->cxt, akid, secret,
								env("AWS_SESSION_TOKEN"), 0, "environment");
}

/*
 * The credentials a profile holds, given the parsed files (either may be
 * NULL).  NULL when the profile does not exist or holds no credentials
 * (and !required).
 */
static AwsCredentials *
profile_credentials(ChainState *st, const char *profile, bool required,
					int depth, AwsIni *cred_ini, AwsIni *conf_ini,
					const char *cred_path, const char *conf_path)
{
	char	   *conf_section = strcmp(profile, "default") == 0 ?
		pstrdup("default") : psprintf("profile %s", profile);
	AwsCredentials *result = NULL;
	const char *v;

#define GET(key) (aws_ini_get(cred_ini, profile, key) ? \
			  aws_ini_get(cred_ini, profile, key) : \
			  (aws_ini_get(conf_ini, conf_section, key) ? \
			   aws_ini_get(conf_ini, conf_section, key) : \
			   (strcmp(profile, "default") == 0 ? \
				aws_ini_get(conf_ini, "profile default", key) : NULL)))

	if (!aws_ini_has_section(cred_ini, profile) &&
		!aws_ini_has_section(conf_ini, conf_section) &&
		!(strcmp(profile, "default") == 0 &&
		  aws_ini_has_section(conf_ini, "profile default")))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("AWS profile \"%s\" not found", profile),
					 errdetail("Looked in \"%s\" and \"%s\".",
							   cred_path ? cred_path : "(no home directory)",
							   conf_path ? conf_path : "(no home directory)")));
		note(st, "profile \"%s\": not in \"%s\" nor \"%s\"", profile,
			 cred_path ? cred_path : "(no home directory)",
			 conf_path ? conf_path : "(no home directory)");
	}
	else if ((v = GET("role_arn")) != NULL)
	{
		char	   *role_arn = pstrdup(v);
		const char *session = GET("role_session_name");
		char	   *session_name = session ? pstrdup(session) : default_session_name();
		char	   *external_id = GET("external_id") ? pstrdup(GET("external_id")) : NULL;
		const char *source_profile = GET("source_profile");
		const char *credential_source = GET("credential_source");
		const char *token_file = GET("web_identity_token_file");
		AwsCredentials *base = NULL;
		char	   *source;

		if (source_profile != NULL && strcmp(source_profile, profile) == 0)
		{
			/* a profile may be its own source with static keys */
			const char *akid = GET("aws_access_key_id");
			const char *secret = GET("aws_secret_access_key");

			if (akid == NULL || secret == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("AWS profile \"%s\" is its own source_profile but has no keys",
								profile)));
			base = aws_credentials_make(CurrentMemoryContext, akid, secret,
										GET("aws_session_token"), 0,
										psprintf("profile %s", profile));
		}
		else if (source_profile != NULL)
		{
			char	   *sp = pstrdup(source_profile);

			base = from_profile(st, sp, true, depth + 1);
		}
		else if (credential_source != NULL)
		{
			if (strcmp(credential_source, "Environment") == 0)
				base = from_environment(st, true);
			else if (strcmp(credential_source, "Ec2InstanceMetadata") == 0)
				base = from_imds(st, true);
			else if (strcmp(credential_source, "EcsContainer") == 0)
				base = from_container(st, true);
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("AWS profile \"%s\" has an unknown credential_source \"%s\"",
								profile, credential_source),
						 errhint("Use Environment, Ec2InstanceMetadata or EcsContainer.")));
		}
		else if (token_file != NULL)
		{
			char	   *tf = expand_path(token_file);

			result = web_identity(st, role_arn, session_name, tf);
			source = psprintf("profile %s: web identity %s", profile, role_arn);
			set_source(result, source);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("AWS profile \"%s\" has a role_arn but no source of credentials",
							profile),
					 errhint("Set source_profile, credential_source or web_identity_token_file in the profile.")));

		if (base != NULL)
		{
			result = sts_assume_role(st->client, base, role_arn, session_name,
									 external_id, st->cxt);
			source = psprintf("profile %s: assumed role %s", profile, role_arn);
			set_source(result, source);
			aws_credentials_free(base);
		}
	}
	else if (GET("aws_access_key_id") != NULL && GET("aws_secret_access_key") != NULL)
	{
		result = aws_credentials_make(st->cxt, GET("aws_access_key_id"),
									  GET("aws_secret_access_key"),
									  GET("aws_session_token"), 0,
									  psprintf("profile %s", profile));
	}
	else if ((v = GET("credential_process")) != NULL)
	{
		char	   *command = pstrdup(v);

		result = from_credential_process(st, profile, command);
	}
	else
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("AWS profile \"%s\" holds no credentials", profile),
					 errhint("Set aws_access_key_id and aws_secret_access_key, role_arn with a source, or credential_process in the profile.")));
		note(st, "profile \"%s\": no credentials in it", profile);
	}
#undef GET
	return result;
}

/*
 * The credentials of a profile of the shared files.  NULL when the profile
 * does not exist or holds no credentials (and !required).
 */
static AwsCredentials *
from_profile(ChainState *st, const char *profile, bool required, int depth)
{
	char	   *cred_path;
	char	   *conf_path;
	char	   *text;
	size_t		len;
	AwsIni	   *volatile cred_ini = NULL;
	AwsIni	   *volatile conf_ini = NULL;
	AwsCredentials *volatile result = NULL;

	if (depth > MAX_PROFILE_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("AWS profile \"%s\" is part of a source_profile chain that is too long or circular",
						profile)));

	cred_path = env("AWS_SHARED_CREDENTIALS_FILE") ?
		expand_path(env("AWS_SHARED_CREDENTIALS_FILE")) : home_path(".aws/credentials");
	conf_path = env("AWS_CONFIG_FILE") ?
		expand_path(env("AWS_CONFIG_FILE")) : home_path(".aws/config");

	PG_TRY();
	{
		if (cred_path && (text = read_small_file(cred_path, &len, true)) != NULL)
			cred_ini = aws_ini_parse(text, len);
		if (conf_path && (text = read_small_file(conf_path, &len, true)) != NULL)
			conf_ini = aws_ini_parse(text, len);

		result = profile_credentials(st, profile, required, depth,
									 cred_ini, conf_ini, cred_path, conf_path);
	}
	PG_FINALLY();
	{
		aws_ini_free(cred_ini);
		aws_ini_free(conf_ini);
	}
	PG_END_TRY();
	return result;
}

static char *
default_session_name(void)
{
	return psprintf("audit_fdw-%d-%ld", MyProcPid, (long) time(NULL));
}

/* AssumeRoleWithWebIdentity with the token in token_file. */
static AwsCredentials *
web_identity(ChainState *st, const char *role_arn, const char *session_name,
			 const char *token_file)
{
	size_t		len;
	char	   *token = read_small_file(token_file, &len, false);
	AwsCredentials *c;

	/* the token is the file's content, without a trailing newline */
	while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r' ||
					   token[len - 1] == ' '))
		token[--len] = '\0';
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("web identity token file \"%s\" is empty", token_file)));
	c = sts_assume_role_with_web_identity(st->client, role_arn, session_name,
										  token, st->cxt);
	memset(token, 0, len);
	pfree(token);
	return c;
}

static AwsCredentials *
from_web_identity_env(ChainState *st)
{
	const char *token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role_arn = env("AWS_ROLE_ARN");
	AwsCredentials *c;

	if (token_file == NULL || role_arn == NULL)
	{
		note(st, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set");
		return NULL;
	}
	c = web_identity(st, role_arn,
					 env("AWS_ROLE_SESSION_NAME") ? env("AWS_ROLE_SESSION_NAME") :
					 default_session_name(),
					 token_file);
	set_source(c, psprintf("web identity %s", role_arn));
	return c;
}

/* Credentials out of a JSON document (process output, endpoints). */
static AwsCredentials *
from_document(ChainState *st, const char *what, const char *body, size_t len,
			  bool require_version, const char *source)
{
	AwsCredentialDoc *doc = aws_parse_credential_json(body, len, require_version);
	AwsCredentials *c;

	if (doc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (doc->error != NULL)
	{
		char	   *why = pstrdup(doc->error);

		aws_credential_doc_free(doc);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("%s returned no usable AWS credentials", what),
				 errdetail("%s.", why)));
	}
	c = aws_credentials_make(st->cxt, doc->access_key_id, doc->secret_access_key,
							 doc->session_token, doc->expires_at, source);
	aws_credential_doc_free(doc);
	return c;
}

static AwsCredentials *
from_credential_process(ChainState *st, const char *profile,
						const char *command)
{
	size_t		len;
	int			status;
	char	   *out = run_process(command, &len, &status);
	AwsCredentials *c;

	if (status != 0)
	{
		memset(out, 0, len);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("credential_process of AWS profile \"%s\" failed", profile),
				 errdetail("The command %s.",
						   WIFEXITED(status) ?
						   psprintf("exited with status %d", WEXITSTATUS(status)) :
						   psprintf("was terminated by signal %d", WTERMSIG(status)))));
	}
	c = from_document(st, psprintf("credential_process of AWS profile \"%s\"", profile),
					  out, len, true,
					  psprintf("profile %s: credential_process", profile));
	memset(out, 0, len);
	pfree(out);
	return c;
}

/*
 * Run a shell command and collect its standard output, waiting on MyLatch
 * so that the wait can be cancelled (the child is killed then).
 */
static char *
run_process(const char *command, size_t *len, int *exit_status)
{
	int			pipefd[2];
	pid_t		pid;
	StringInfoData out;
	volatile bool reaped = false;

	initStringInfo(&out);
	if (pipe(pipefd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create a pipe: %m")));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		close(pipefd[0]);
		close(pipefd[1]);
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not start credential_process: %m")));
	}
	if (pid == 0)
	{
		/* child: only async-signal-safe calls until exec */
		int			devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execl("/bin/sh", "sh", "-c", command, (char *) NULL);
		_exit(127);
	}
	close(pipefd[1]);
	if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) != 0)
		elog(ERROR, "could not make a pipe non-blocking: %m");

	PG_TRY();
	{
		for (;;)
		{
			char		chunk[4096];
			ssize_t		n = read(pipefd[0], chunk, sizeof(chunk));

			if (n > 0)
			{
				if (out.len + n > MAX_PROCESS_OUTPUT)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("credential_process wrote more than %d bytes",
									MAX_PROCESS_OUTPUT)));
				appendBinaryStringInfo(&out, chunk, n);
				continue;
			}
			if (n == 0)
				break;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not read the output of credential_process: %m")));
			(void) WaitLatchOrSocket(MyLatch,
									 WL_LATCH_SET | WL_SOCKET_READABLE |
									 WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
									 pipefd[0], 1000, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		/* the output is complete; wait for the exit status */
		for (;;)
		{
			pid_t		r = waitpid(pid, exit_status, WNOHANG);

			if (r == pid)
			{
				reaped = true;
				break;
			}
			if (r < 0 && errno != EINTR)
			{
				reaped = true;
				*exit_status = 0;
				break;
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		close(pipefd[0]);
		if (!reaped)
		{
			int			ignored;

			kill(pid, SIGKILL);
			while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR)
				;
		}
	}
	PG_END_TRY();
	*len = out.len;
	return out.data;
}

/* An unsigned request to a local credentials endpoint (IMDS, container). */
static AwsResponse *
metadata_request(AwsService service, const char *method, const char *url,
				 List *headers, int attempts, AwsError **error)
{
	AwsHttpRequest req = {0};
	const char *scheme_end = strstr(url, "://");
	const char *path;

	if (scheme_end == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid credentials endpoint URL \"%s\"", url)));
	path = strchr(scheme_end + 3, '/');
	req.service = service;
	req.operation = method;
	req.method = method;
	req.base_url = path ? pnstrdup(url, path - url) : url;
	req.path = path ? path : "/";
	req.headers = headers;
	req.unsigned_request = true;
	req.local_service = true;
	req.no_proxy = true;
	req.connect_timeout_ms = aws_metadata_timeout_ms;
	req.timeout_ms = aws_metadata_timeout_ms * 2;
	req.max_attempts = attempts;
	if (strcmp(method, "PUT") == 0)
	{
		req.body = "";
		req.body_len = 0;
	}
	return aws_http_execute(&req, error);
}

/*
 * Only loopback and the ECS/EKS link-local hosts may serve credentials over
 * plain HTTP (as the SDKs enforce): anything else must be https.
 */
static bool
full_uri_allowed(const char *url)
{
	static const char *const hosts[] = {
		"127.", "localhost", "[::1]", "169.254.170.2", "169.254.170.23",
		"[fd00:ec2::23]", NULL
	};
	const char *host;

	if (pg_strncasecmp(url, "https://", 8) == 0)
		return true;
	if (pg_strncasecmp(url, "http://", 7) != 0)
		return false;
	host = url + 7;
	for (int i = 0; hosts[i]; i++)
	{
		size_t		n = strlen(hosts[i]);

		if (pg_strncasecmp(host, hosts[i], n) == 0 &&
			(hosts[i][n - 1] == '.' || host[n] == '\0' || host[n] == ':' ||
			 host[n] == '/'))
			return true;
	}
	return false;
}

static AwsCredentials *
from_container(ChainState *st, bool required)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *token_env = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char	   *url;
	List	   *headers = NIL;
	AwsResponse *resp;
	AwsError   *err;
	AwsCredentials *c;

	if (rel == NULL && full == NULL)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("no container credentials endpoint is configured"),
					 errdetail("credential_source is EcsContainer, but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set.")));
		note(st, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set");
		return NULL;
	}
	if (rel != NULL)
		url = psprintf("%s%s%s", CONTAINER_DEFAULT_HOST, rel[0] == '/' ? "" : "/", rel);
	else
	{
		url = pstrdup(full);
		if (!full_uri_allowed(url))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback or container host"),
					 errdetail("The URI is \"%s\".", url)));
	}
	if (token_file != NULL || token_env != NULL)
	{
		AwsHeader  *h = palloc(sizeof(AwsHeader));
		char	   *token;

		if (token_file != NULL)
		{
			size_t		len;

			token = read_small_file(token_file, &len, false);
			while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'))
				token[--len] = '\0';
		}
		else
			token = pstrdup(token_env);
		h->name = "Authorization";
		h->value = token;
		headers = list_make1(h);
	}
	resp = metadata_request(AWS_SERVICE_CONTAINER_CREDENTIALS, "GET", url,
							headers, 3, &err);
	if (resp == NULL)
		ereport(ERROR,
				(errcode(err->sqlerrcode),
				 errmsg("could not get credentials from the container credentials endpoint"),
				 errdetail("GET %s: %s%s%s.", url,
						   err->status ? psprintf("HTTP status %ld", err->status) : err->code,
						   err->message ? ": " : "",
						   err->message ? err->message : "")));
	c = from_document(st, "the container credentials endpoint", resp->body,
					  resp->body_len, false, "container credentials");
	memset(resp->body, 0, resp->body_len);
	return c;
}

static AwsCredentials *
from_imds(ChainState *st, bool required)
{
	const char *disabled = env("AWS_EC2_METADATA_DISABLED");
	const char *endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	char	   *base;
	AwsHeader  *ttl = palloc(sizeof(AwsHeader));
	AwsHeader  *token_header = NULL;
	List	   *headers = NIL;
	AwsResponse *resp;
	AwsError   *err;
	char	   *role;
	char	   *nl;
	AwsCredentials *c;

	if (disabled != NULL && pg_strcasecmp(disabled, "true") == 0)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the EC2 instance metadata service is disabled"),
					 errdetail("credential_source is Ec2InstanceMetadata, but AWS_EC2_METADATA_DISABLED is true.")));
		note(st, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
		return NULL;
	}
	base = pstrdup(endpoint ? endpoint : IMDS_DEFAULT_ENDPOINT);
	while (strlen(base) > 0 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';

	/* IMDSv2: a session token first */
	ttl->name = "X-aws-ec2-metadata-token-ttl-seconds";
	ttl->value = "21600";
	resp = metadata_request(AWS_SERVICE_EC2_METADATA, "PUT",
							psprintf("%s/latest/api/token", base),
							list_make1(ttl), 1, &err);
	if (resp == NULL && err->status == 0)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not reach the EC2 instance metadata service at %s", base),
					 errdetail("%s.", err->message)));
		note(st, "instance metadata: no answer from %s", base);
		return NULL;
	}
	if (resp != NULL && resp->status >= 200 && resp->status < 300)
	{
		token_header = palloc(sizeof(AwsHeader));
		token_header->name = "X-aws-ec2-metadata-token";
		token_header->value = pnstrdup(resp->body, resp->body_len);
		headers = list_make1(token_header);
	}
	else if (resp == NULL || !(resp->status == 403 || resp->status == 404 ||
							   resp->status == 405))
	{
		/* 400 and the like: IMDS is there but refuses */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the EC2 instance metadata service refused a session token"),
				 errdetail("PUT %s/latest/api/token: HTTP status %ld.", base,
						   resp ? resp->status : err->status)));
	}

	resp = metadata_request(AWS_SERVICE_EC2_METADATA, "GET",
							psprintf("%s/latest/meta-data/iam/security-credentials/", base),
							headers, 2, &err);
	if (resp == NULL)
	{
		if (err->status == 404 && !required)
		{
			note(st, "instance metadata: the instance has no IAM role");
			return NULL;
		}
		ereport(ERROR,
				(errcode(err->sqlerrcode),
				 errmsg("could not get the IAM role from the EC2 instance metadata service"),
				 errdetail("GET %s/latest/meta-data/iam/security-credentials/: %s.", base,
						   err->status ? psprintf("HTTP status %ld", err->status) :
						   err->message)));
	}
	role = pnstrdup(resp->body, resp->body_len);
	nl = strpbrk(role, "\r\n");
	if (nl)
		*nl = '\0';
	if (role[0] == '\0')
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the EC2 instance has no IAM role")));
		note(st, "instance metadata: the instance has no IAM role");
		return NULL;
	}
	resp = metadata_request(AWS_SERVICE_EC2_METADATA, "GET",
							psprintf("%s/latest/meta-data/iam/security-credentials/%s",
									 base, role),
							headers, 2, &err);
	if (resp == NULL)
		ereport(ERROR,
				(errcode(err->sqlerrcode),
				 errmsg("could not get the credentials of IAM role \"%s\" from the EC2 instance metadata service",
						role),
				 errdetail("%s.", err->status ? psprintf("HTTP status %ld", err->status) :
						   err->message)));
	c = from_document(st, "the EC2 instance metadata service", resp->body,
					  resp->body_len, false,
					  psprintf("instance metadata role %s", role));
	memset(resp->body, 0, resp->body_len);
	if (token_header)
		memset(token_header->value, 0, strlen(token_header->value));
	return c;
}

/*
 * The credentials of a client: cached ones while they are fresh, otherwise
 * resolved again.  The result lives in the client's context.
 */
AwsCredentials *
aws_client_credentials(AwsClient *client)
{
	ChainState	st;
	AwsCredentials *c = NULL;
	char	   *key;

	if (client->creds != NULL && !expiring(client->creds))
		return client->creds;
	if (client->creds != NULL)
	{
		aws_credentials_free(client->creds);
		client->creds = NULL;
	}

	key = cache_key(client);
	c = cache_get(key, client->cxt);
	if (c != NULL)
	{
		client->creds = c;
		return c;
	}

	st.client = client;
	st.cxt = client->cxt;
	initStringInfo(&st.tried);

	if (client->access_key_id != NULL)
		c = aws_credentials_make(client->cxt, client->access_key_id,
								 client->secret_access_key,
								 client->session_token, 0, "user mapping");
	else if (client->profile != NULL)
		c = from_profile(&st, client->profile, true, 0);
	else
	{
		const char *profile = env("AWS_PROFILE");

		/* as in the SDKs, AWS_PROFILE does not outrank the environment keys */
		c = from_environment(&st, false);
		if (c == NULL)
			c = from_profile(&st, profile ? profile : "default",
							 profile != NULL, 0);
		if (c == NULL)
			c = from_web_identity_env(&st);
		if (c == NULL)
			c = from_container(&st, false);
		if (c == NULL)
			c = from_imds(&st, false);
	}

	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 client->server_name ?
				 errmsg("no AWS credentials found for server \"%s\"", client->server_name) :
				 errmsg("no AWS credentials found"),
				 errdetail("Looked at: %s.", st.tried.data),
				 errhint("Set access_key_id and secret_access_key (or profile) in the user mapping, or give the PostgreSQL server process credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the shared credentials and config files (~/.aws/credentials and ~/.aws/config of the server's operating system user, or AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE) with AWS_PROFILE, AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, a container credentials endpoint, or an EC2 instance role.")));

	if (client->role_arn != NULL)
	{
		AwsCredentials *base = c;
		char	   *source;

		c = sts_assume_role(client, base, client->role_arn, default_session_name(),
							client->external_id, client->cxt);
		source = psprintf("%s, then assumed role %s", base->source, client->role_arn);
		set_source(c, source);
		aws_credentials_free(base);
	}
	if (c->expires_at != 0)
		cache_put(key, c);
	client->creds = c;
	return c;
}
