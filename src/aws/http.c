/*-------------------------------------------------------------------------
 *
 * http.c
 *		HTTP for the AWS client core: libcurl driven from PostgreSQL's wait
 *		loop, SigV4 signing of every attempt, retries with full-jitter
 *		exponential backoff, and streamed response bodies.
 *
 * Rules this file keeps:
 *	- One curl multi handle per backend (plus a share of DNS and TLS
 *	  sessions), so connections are reused from one request to the next.
 *	  The easy handle of an API call is kept for the next one (reset, all
 *	  options set again), and with it curl's receive and send buffers,
 *	  sized for pages of megabytes; a stream has a handle of its own.
 *	- Curl never waits on its own: its sockets and timer (multi socket API)
 *	  are waited on with a WaitEventSet that also holds MyLatch, and every
 *	  wake-up checks for interrupts.  Query cancel, statement_timeout and
 *	  SIGTERM therefore end a request in flight at once, and so do they a
 *	  backoff wait between retries.  On Linux curl's sockets are an epoll
 *	  set of their own, one socket of a wait set made once a process, so
 *	  that a socket that comes or goes (curl drops a connection from its
 *	  watch after every request) costs one epoll_ctl.  Elsewhere the wait
 *	  set is made again when curl's sockets change, and changed in place
 *	  when only what curl waits for on them does.
 *	- Curl callbacks never ereport or palloc (that would longjmp through
 *	  curl): they write into malloc'd buffers, set flags and return curl's
 *	  abort or pause codes; errors are raised after curl returns.
 *	- Every transfer is released on ERROR: synchronous calls in PG_CATCH,
 *	  streams by a reset callback of the memory context they live in.
 *	- CURLOPT_NOSIGNAL: curl must not touch the backend's signal handlers.
 *	- A streamed body is held in a bounded buffer; when the reader is
 *	  behind, the transfer is paused (CURL_WRITEFUNC_PAUSE) until it
 *	  catches up, so memory stays bounded whatever the object's size.  A
 *	  GET body cut off by the network is resumed where it broke (Range and
 *	  If-Match), so the reader sees every byte once or gets an ERROR.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>
#ifdef HAVE_SYS_EPOLL_H
#include <sys/epoll.h>
#endif

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "aws/aws_internal.h"
#include "aws/bigalloc.h"
#include "aws/sigv4.h"
#include "compat.h"

#define AWS_MAX_BODY ((size_t) MaxAllocSize - 1)
/*
 * A JSON API answer is read whole before it is parsed: no service sends one
 * near this size (GetRecords stops at 1 MB of records, GetQueryResults at
 * 1,000 rows), so a larger one is refused rather than allocated.
 */
#define AWS_MAX_API_BODY ((size_t) 64 * 1024 * 1024)
#define AWS_MAX_ERROR_BODY (1024 * 1024)
#define AWS_MAX_HEADER_BYTES (256 * 1024)
#define AWS_STREAM_BUFFER (256 * 1024)
#define AWS_MAX_BACKOFF_MS 20000
/*
 * The body buffer of a finished API call is kept for the next one, up to
 * this size, where a large answer would otherwise be received into memory
 * faulted in afresh on every call (in a pump worker, bigalloc keeps its
 * blocks itself, and keep_body frees them).  Also the most room made for
 * a body from its Content-Length (size_body).
 */
#define AWS_SPARE_BODY_MAX ((size_t) 8 * 1024 * 1024)
/*
 * An API call's answer is received, and its body sent, in pieces of these
 * sizes (curl's defaults are 16 and 64 KiB): a GetRecords page of 1 MB or a
 * PutRecordBatch body of several would otherwise take a system call and a
 * wake-up for every 16 or 64 KiB.  The buffers belong to the easy handle,
 * which is kept from one API call to the next (spare_easy).  The upload
 * buffer of a body over 64 KiB holds it whole, its size rounded up to
 * AWS_API_SEND_STEP (at most curl's 2 MiB): curl frees it whenever its size
 * is set (after curl_easy_reset, every call), and a few sizes let the
 * allocator hand the same memory back each time, where a buffer sized to
 * each body took new pages, faulted in afresh, whenever a body was larger
 * than the ones before.  In a reader (bigalloc.c) it shares a huge page
 * with the other buffers, where 2 MiB for every body took one of its own.
 */
#define AWS_API_RECV_BUFFER (512L * 1024)
#define AWS_API_SEND_STEP ((size_t) 512 * 1024)
#define AWS_API_SEND_MAX ((size_t) 2 * 1024 * 1024)

/*
 * One transfer.  Allocated with malloc: the curl callbacks write into it.
 */
typedef struct AwsTransfer
{
	CURL	   *easy;
	struct curl_slist *header_list;
	char	   *url;

	/* the response, written by the callbacks */
	long		status;			/* of the last status line seen */
	bool		headers_done;	/* the final response's headers are in */
	char	   *hdr;			/* raw header lines of the final response */
	size_t		hdr_len;
	size_t		hdr_cap;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	size_t		body_start;		/* streams: bytes before it were read */
	size_t		body_limit;
	bool		body_sized;		/* sized from Content-Length (once) */
	bool		streaming;
	bool		paused;
	bool		overflow;		/* the body exceeded body_limit */
	bool		oom;
	bool		wipe;			/* the body may hold secrets */

	/* completion */
	bool		in_multi;
	bool		done;
	CURLcode	result;
	char		errbuf[CURL_ERROR_SIZE];
} AwsTransfer;

#ifndef HAVE_SYS_EPOLL_H
/* A socket curl asked us to watch. */
typedef struct SockWatch
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN / OUT / INOUT */
	int			pos;			/* its event in wait_set, or -1 */
	uint32		events;			/* the events waited for there */
} SockWatch;
#endif

struct AwsStream
{
	AwsTransfer *t;
	AwsHttpRequest *req;
	MemoryContextCallback cb;
	size_t		bytes_read;
	List	   *headers;
	int			resumes;		/* reopened after a broken body */
};

/* Per-backend curl state. */
static CURLM *multi = NULL;
static CURLSH *share = NULL;
#ifdef HAVE_SYS_EPOLL_H
/* curl's sockets (one socket of wait_set), and the errno of a failed change */
static int	curl_epoll = -1;
static int	curl_epoll_errno = 0;
#else
static SockWatch *socks = NULL;
static int	nsocks = 0;
static int	socks_cap = 0;
static bool socks_changed = true;	/* a socket came or went: a new set */
static bool socks_what_changed = false; /* what curl waits for changed */
static bool socks_oom = false;
#endif
static int64 timer_deadline_us = -1;	/* monotonic; -1 = no timer */
/* the kept body buffer (AWS_SPARE_BODY_MAX), malloc'd */
static char *spare_body = NULL;
static size_t spare_body_cap = 0;
/* the easy handle of the last API call, kept for the next one */
static CURL *spare_easy = NULL;
/* the body lent to the caller of the last request (lend_body), malloc'd */
static char *lent_body = NULL;
static size_t lent_body_cap = 0;

/*
 * How far AWS's clock is ahead of ours, in seconds, learned from the Date
 * of a response that refused our signature's time (as the SDKs do): a
 * server whose clock is off can still sign requests AWS accepts.
 */
static int64 clock_skew_secs = 0;

#define AWS_MAX_CLOCK_SKEW_SECS 240
static WaitEventSet *wait_set = NULL;

typedef bool (*TransferCondition) (AwsTransfer *t);

static int64 monotonic_us(void);
static void http_setup(void);
static int	socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
					  void *socketp);
static int	timer_cb(CURLM *m, long timeout_ms, void *userp);
static size_t header_cb(char *buf, size_t size, size_t n, void *userdata);
static size_t write_cb(char *ptr, size_t size, size_t n, void *userdata);
static void wait_set_ready(void);
static void socket_ready(WaitEvent *event, int *running);
static void drain_messages(void);
static void drive_until(AwsTransfer *t, TransferCondition cond);
static bool cond_done(AwsTransfer *t);
static bool cond_headers(AwsTransfer *t);
static bool cond_data(AwsTransfer *t);
static AwsTransfer *transfer_start(AwsHttpRequest *req, bool streaming);
static void transfer_free(AwsTransfer *t);
static struct curl_slist *sign_request(AwsHttpRequest *req, const char *host,
									   const char *wire_path);
static void keep_body(char *body, size_t cap);
static AwsResponse *make_response(AwsTransfer *t, bool lend);
static List *parse_headers(const char *hdr, size_t len);
static const char *find_header(List *headers, const char *name);
static AwsError *transfer_error(AwsHttpRequest *req, AwsTransfer *t,
								 bool *clock_corrected);
static bool correct_clock(const char *code, const char *date);
static bool curl_code_is_retryable(CURLcode code);
static void error_names_client(AwsError *err, AwsClient *client);
static bool status_ok(AwsHttpRequest *req, long status);
static long backoff_ms(int attempt);
static void backoff_wait(long ms);
static AwsTransfer *perform_with_retries(AwsHttpRequest *req, bool streaming,
										 AwsError **error_out);
static void stream_reset_cb(void *arg);
static bool stream_resume(AwsStream *stream);

static int64
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * libcurl's global set-up, with curl's memory from aws/bigalloc.h: in the
 * pump's workers its large buffers (the upload and 512 KiB receive
 * buffers of an API call, which curl frees and allocates again on every
 * call) are huge pages kept from call to call, where from malloc they take
 * a page fault for every 4 KiB of each.  When another library of the
 * process set curl up first, its allocator stays.
 */
static CURLcode
curl_init(void)
{
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, bigalloc_malloc, bigalloc_free,
								bigalloc_realloc, strdup, bigalloc_calloc);
}

/*
 * When the library is preloaded: libcurl's global state (and OpenSSL's
 * configuration and providers with it) and SigV4's hash functions are set
 * up once in the postmaster, so that each worker and backend starts with
 * them instead of paying about a millisecond for them on its first call.
 * The postmaster runs no thread and makes no transfer.
 */
void
aws_http_preload(void)
{
	if (curl_init() != CURLE_OK || !sigv4_crypto_init())
		ereport(WARNING,
				(errmsg("audit_fdw: could not initialize libcurl or OpenSSL in the postmaster"),
				 errdetail("Each process initializes them on its first AWS call instead.")));
}

/* Create the backend's multi handle and share on first use. */
static void
http_setup(void)
{
	if (multi != NULL)
		return;
#ifdef HAVE_SYS_EPOLL_H
	if (curl_epoll < 0)
	{
		ReserveExternalFD();
		curl_epoll = epoll_create1(EPOLL_CLOEXEC);
		if (curl_epoll < 0)
		{
			ReleaseExternalFD();
			ereport(ERROR,
					(errcode_for_socket_access(),
					 errmsg("could not create an epoll set for libcurl: %m")));
		}
	}
#endif
	if (curl_init() != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	share = curl_share_init();
	if (share == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 16L);
}

#ifdef HAVE_SYS_EPOLL_H
/*
 * curl: watch (or stop watching) a socket, in curl_epoll.  No backend
 * calls; a failure is raised by drive_until.  socketp is NULL until the
 * socket is first watched (curl forgets it at CURL_POLL_REMOVE).
 */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev;
	int			op = socketp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (what == CURL_POLL_REMOVE)
	{
		/* a socket curl already closed left the set by itself */
		(void) epoll_ctl(curl_epoll, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev.events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev.events |= EPOLLOUT;
	ev.data.fd = s;
	if (epoll_ctl(curl_epoll, op, s, &ev) != 0)
	{
		/* a number reused before curl said the old socket was gone */
		op = errno == EEXIST ? EPOLL_CTL_MOD : errno == ENOENT ? EPOLL_CTL_ADD : -1;
		if (op < 0 || epoll_ctl(curl_epoll, op, s, &ev) != 0)
		{
			curl_epoll_errno = errno;
			return -1;
		}
	}
	if (socketp == NULL)
		curl_multi_assign(multi, s, &curl_epoll);
	return 0;
}
#else
/* curl: watch (or stop watching) a socket.  No backend calls. */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	int			i;

	for (i = 0; i < nsocks; i++)
		if (socks[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < nsocks)
		{
			socks[i] = socks[nsocks - 1];
			nsocks--;
			socks_changed = true;
		}
		return 0;
	}
	if (i == nsocks)
	{
		if (nsocks == socks_cap)
		{
			int			cap = socks_cap ? socks_cap * 2 : 8;
			SockWatch  *n = realloc(socks, cap * sizeof(SockWatch));

			if (n == NULL)
			{
				socks_oom = true;
				return -1;
			}
			socks = n;
			socks_cap = cap;
		}
		socks[nsocks].fd = s;
		socks[nsocks].what = 0;
		socks[nsocks].pos = -1;
		socks[nsocks].events = 0;
		nsocks++;
		socks_changed = true;
	}
	if (socks[i].what != what)
	{
		socks[i].what = what;
		socks_what_changed = true;
	}
	return 0;
}

#endif

/* curl: when to call us back.  No backend calls. */
static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	if (timeout_ms < 0)
		timer_deadline_us = -1;
	else
		timer_deadline_us = monotonic_us() + (int64) timeout_ms * 1000;
	return 0;
}

/* curl: one header line.  No backend calls. */
static size_t
header_cb(char *buf, size_t size, size_t n, void *userdata)
{
	AwsTransfer *t = userdata;
	size_t		len = size * n;

	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
	{
		/* a new response (interim 1xx responses come first) */
		const char *p = memchr(buf, ' ', len);
		long		status = 0;

		if (p != NULL)
			for (p++; p < buf + len && *p >= '0' && *p <= '9'; p++)
				status = status * 10 + (*p - '0');
		t->status = status;
		t->hdr_len = 0;
		t->headers_done = false;
		return len;
	}
	if ((len == 2 && buf[0] == '\r' && buf[1] == '\n') ||
		(len == 1 && buf[0] == '\n'))
	{
		if (t->status >= 200)
			t->headers_done = true;
		return len;
	}
	if (t->hdr_len + len + 1 > AWS_MAX_HEADER_BYTES)
		return len;				/* ignore what does not fit */
	if (t->hdr_len + len + 1 > t->hdr_cap)
	{
		size_t		cap = Max(t->hdr_cap * 2, t->hdr_len + len + 1);
		char	   *h = realloc(t->hdr, Max(cap, 1024));

		if (h == NULL)
		{
			t->oom = true;
			return 0;
		}
		t->hdr = h;
		t->hdr_cap = Max(cap, 1024);
	}
	memcpy(t->hdr + t->hdr_len, buf, len);
	t->hdr_len += len;
	t->hdr[t->hdr_len] = '\0';
	return len;
}

/*
 * Before an API call's first body bytes: room for the whole body when the
 * response says how long it is (Content-Length, up to the limit and
 * AWS_SPARE_BODY_MAX), so that a GetRecords page of a megabyte is one
 * buffer, not one grown by doubling (copied at each step, and twice the
 * page once it passes a power of 2).  A length larger than the bytes that
 * come costs only address space; a larger body grows past it as before.
 * No backend calls.
 */
static void
size_body(AwsTransfer *t, size_t limit)
{
	curl_off_t	length = -1;
	char	   *b;

	t->body_sized = true;
	if (t->body_len > 0 ||
		curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) != CURLE_OK ||
		length <= 0 || (uint64) length > Min(limit, AWS_SPARE_BODY_MAX) ||
		(size_t) length + 1 <= t->body_cap)
		return;
	/* a failure leaves the buffer to grow as the bytes come */
	b = bigalloc_malloc((size_t) length + 1);
	if (b == NULL)
		return;
	bigalloc_free(t->body);
	t->body = b;
	t->body_cap = (size_t) length + 1;
}

/* curl: body bytes.  No backend calls. */
static size_t
write_cb(char *ptr, size_t size, size_t n, void *userdata)
{
	AwsTransfer *t = userdata;
	size_t		len = size * n;
	bool		stream_body = t->streaming && t->status >= 200 && t->status < 300;
	size_t		limit = stream_body ? t->body_limit :
		(t->streaming ? AWS_MAX_ERROR_BODY : t->body_limit);

	if (stream_body)
	{
		size_t		pending = t->body_len - t->body_start;

		if (pending > 0 && pending + len > limit)
		{
			t->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		/*
		 * Move the unread bytes to the front once as many were read, or when
		 * they would not fit: not on every write, which would copy a large
		 * buffer over and over while the reader takes it in small pieces.
		 */
		if (t->body_start > 0 &&
			(t->body_start >= pending || t->body_len + len + 1 > t->body_cap))
		{
			memmove(t->body, t->body + t->body_start, pending);
			t->body_len = pending;
			t->body_start = 0;
		}
	}
	else if (t->body_len + len > limit)
	{
		t->overflow = true;
		return 0;
	}
	else if (!t->body_sized)
		size_body(t, limit);
	if (t->body_len + len + 1 > t->body_cap)
	{
		size_t		cap = t->body_cap ? t->body_cap : 8192;
		char	   *b;

		while (cap < t->body_len + len + 1)
			cap *= 2;
		/* a stream's buffer never grows past its limit */
		if (stream_body && cap > limit + 1 && t->body_len + len + 1 <= limit + 1)
			cap = limit + 1;
		b = bigalloc_realloc(t->body, cap);
		if (b == NULL)
		{
			t->oom = true;
			return 0;
		}
		t->body = b;
		t->body_cap = cap;
	}
	memcpy(t->body + t->body_len, ptr, len);
	t->body_len += len;
	return len;
}

#ifdef HAVE_SYS_EPOLL_H
/*
 * The wait set, made once: MyLatch, postmaster death and curl_epoll (made
 * with the multi handle).  A failed change of curl_epoll in socket_cb is
 * raised here.
 */
static void
wait_set_ready(void)
{
	if (curl_epoll_errno != 0)
	{
		int			save = curl_epoll_errno;

		curl_epoll_errno = 0;
		errno = save;
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("could not watch a socket of libcurl: %m")));
	}
	if (wait_set != NULL)
		return;
	wait_set = audit_create_process_wait_event_set(3);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	if (IsUnderPostmaster)
		AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET,
						  NULL, NULL);
	AddWaitEventToSet(wait_set, WL_SOCKET_READABLE, curl_epoll, NULL, NULL);
}

/* curl_epoll is readable: each of curl's sockets that is ready, to curl. */
static void
socket_ready(WaitEvent *event, int *running)
{
	struct epoll_event ready[16];
	int			n = epoll_wait(curl_epoll, ready, lengthof(ready), 0);

	/*
	 * A socket that an earlier action closed may still be listed: curl
	 * ignores a socket it does not know.
	 */
	for (int i = 0; i < n; i++)
	{
		int			flags = 0;

		if (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			flags |= CURL_CSELECT_IN;
		if (ready[i].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (ready[i].events & EPOLLERR)
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(multi, ready[i].data.fd, flags, running);
	}
}
#else
/* What a socket is waited for, from what curl asked. */
static uint32
sock_events(int what)
{
	uint32		events = 0;

	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= WL_SOCKET_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= WL_SOCKET_WRITEABLE;
	return events;
}

/* The wait set: MyLatch, postmaster death, and curl's sockets. */
static void
rebuild_wait_set(void)
{
	if (wait_set != NULL)
	{
		FreeWaitEventSet(wait_set);
		wait_set = NULL;
	}
	wait_set = audit_create_process_wait_event_set(nsocks + 2);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	if (IsUnderPostmaster)
		AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET,
						  NULL, NULL);
	for (int i = 0; i < nsocks; i++)
	{
		socks[i].events = sock_events(socks[i].what);
		socks[i].pos = socks[i].events != 0 ?
			AddWaitEventToSet(wait_set, socks[i].events, socks[i].fd, NULL, NULL) : -1;
	}
	socks_changed = false;
	socks_what_changed = false;
}

/*
 * The same sockets waited for other events (curl goes from sending a
 * request to reading its answer): changed in place, not made again.
 */
static void
update_wait_set(void)
{
	for (int i = 0; i < nsocks; i++)
	{
		uint32		events = sock_events(socks[i].what);

		if (events == socks[i].events)
			continue;
		if (socks[i].pos < 0 || events == 0)
		{
			/* a socket to add to the set, or to leave out of it */
			rebuild_wait_set();
			return;
		}
		ModifyWaitEvent(wait_set, socks[i].pos, events, NULL);
		socks[i].events = events;
	}
	socks_what_changed = false;
}

/* The wait set, current with curl's sockets. */
static void
wait_set_ready(void)
{
	if (socks_oom)
	{
		socks_oom = false;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	if (wait_set == NULL || socks_changed)
		rebuild_wait_set();
	else if (socks_what_changed)
		update_wait_set();
}

/* One of curl's sockets is ready: to curl. */
static void
socket_ready(WaitEvent *event, int *running)
{
	int			flags = 0;

	if (event->events & WL_SOCKET_READABLE)
		flags |= CURL_CSELECT_IN;
	if (event->events & WL_SOCKET_WRITEABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(multi, event->fd, flags, running);
}
#endif


/* Mark the transfers curl has finished. */
static void
drain_messages(void)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		AwsTransfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		if (t != NULL)
		{
			t->done = true;
			t->result = msg->data.result;
		}
	}
}

/*
 * Let curl work until cond holds for t (or t is done), waiting on its
 * sockets, its timer and MyLatch.  Interrupts are served at every wake-up.
 */
static void
drive_until(AwsTransfer *t, TransferCondition cond)
{
	int			running;

	for (;;)
	{
		WaitEvent	events[16];
		int			nevents;
		long		timeout;
		int64		now;

		drain_messages();
		if (t->done || cond(t))
			return;

		CHECK_FOR_INTERRUPTS();

		wait_set_ready();

		now = monotonic_us();
		if (timer_deadline_us < 0)
			timeout = 1000;
		else if (timer_deadline_us <= now)
			timeout = 0;
		else
			timeout = Min((timer_deadline_us - now + 999) / 1000, 1000);

		nevents = WaitEventSetWait(wait_set, timeout, events, lengthof(events),
								   PG_WAIT_EXTENSION);
		for (int i = 0; i < nevents; i++)
		{
			if (events[i].events & WL_LATCH_SET)
			{
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
			else if (events[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
				socket_ready(&events[i], &running);
		}
		if (timer_deadline_us >= 0 && timer_deadline_us <= monotonic_us())
		{
			timer_deadline_us = -1;
			curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
	}
}

static bool
cond_done(AwsTransfer *t)
{
	return t->done;
}

static bool
cond_headers(AwsTransfer *t)
{
	return t->headers_done;
}

static bool
cond_data(AwsTransfer *t)
{
	return t->body_len > t->body_start;
}

static bool
status_ok(AwsHttpRequest *req, long status)
{
	if (status >= 200 && status < 300)
		return true;
	if (req->ok_statuses)
		for (const long *s = req->ok_statuses; *s; s++)
			if (*s == status)
				return true;
	return false;
}

/*
 * Sign the request (when it is signed) and build curl's header list:
 * Host, the caller's headers, the signature's headers.
 */
static struct curl_slist *
sign_request(AwsHttpRequest *req, const char *host, const char *wire_path)
{
	struct curl_slist *list = NULL;
	AwsCredentials *creds = NULL;
	List	   *lines = NIL;
	ListCell   *lc;
	bool		has_content_type = false;

	if (!req->unsigned_request)
		creds = req->creds ? req->creds : aws_client_credentials(req->client);

	lines = lappend(lines, psprintf("Host: %s", host));
	foreach(lc, req->headers)
	{
		AwsHeader  *h = lfirst(lc);

		if (pg_strcasecmp(h->name, "content-type") == 0)
			has_content_type = true;
		lines = lappend(lines, psprintf("%s: %s", h->name, h->value));
	}

	if (creds != NULL)
	{
		int			nh = list_length(req->headers) + 1;
		SigV4Header *hs = palloc(sizeof(SigV4Header) * nh);
		SigV4Request sreq = {0};
		SigV4Params params = {0};
		SigV4Result *res;
		char	  **added;
		char	   *payload_hash;
		int			i = 0;

		hs[i].name = "host";
		hs[i].value = host;
		i++;
		foreach(lc, req->headers)
		{
			AwsHeader  *h = lfirst(lc);

			hs[i].name = h->name;
			hs[i].value = h->value;
			i++;
		}
		payload_hash = sigv4_hex_sha256(req->body ? req->body : "", req->body_len);
		if (payload_hash == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		sreq.method = req->method;
		sreq.path = wire_path;
		sreq.query = req->query;
		sreq.headers = hs;
		sreq.nheaders = nh;
		sreq.payload_hash = payload_hash;

		params.access_key_id = creds->access_key_id;
		params.secret_access_key = creds->secret_access_key;
		params.session_token = creds->session_token;
		params.region = (req->client && req->client->region) ?
			req->client->region : "us-east-1";
		params.service = aws_service_info(req->service)->signing_name;
		params.timestamp = time(NULL) + clock_skew_secs;
		params.normalize_path = !req->s3_signing;
		params.sign_body = req->s3_signing;

		/* allocate before signing: nothing may fail while res is held */
		added = palloc0(sizeof(char *) * 8);
		res = sigv4_sign_headers(&sreq, &params);
		free(payload_hash);
		if (res == NULL || res->error != NULL || res->nadd_headers > 8)
		{
			char		why[256];

			strlcpy(why, (res && res->error) ? res->error : "out of memory",
					sizeof(why));
			sigv4_result_free(res);
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not sign the aws %s %s request: %s",
							aws_service_name(req->service), req->operation, why)));
		}
		for (i = 0; i < res->nadd_headers; i++)
		{
			size_t		n = strlen(res->add_headers[i].name) +
				strlen(res->add_headers[i].value) + 3;

			added[i] = malloc(n);
			if (added[i] != NULL)
				snprintf(added[i], n, "%s: %s", res->add_headers[i].name,
						 res->add_headers[i].value);
		}
		i = res->nadd_headers;
		sigv4_result_free(res);
		for (int j = 0; j < i; j++)
		{
			if (added[j] != NULL)
			{
				lines = lappend(lines, pstrdup(added[j]));
				/* the session token is a secret */
				memset(added[j], 0, strlen(added[j]));
				free(added[j]);
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
		}
		pfree(added);
		pfree(hs);
	}

	/* no 100-continue round trip; no content type curl would invent */
	lines = lappend(lines, "Expect:");
	if (!has_content_type)
		lines = lappend(lines, "Content-Type:");

	foreach(lc, lines)
	{
		struct curl_slist *n = curl_slist_append(list, lfirst(lc));

		if (n == NULL)
		{
			curl_slist_free_all(list);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		}
		list = n;
	}
	/* curl copied the lines; the token is wiped from ours */
	foreach(lc, lines)
	{
		char	   *line = lfirst(lc);

		if (pg_strncasecmp(line, "x-amz-security-token:", 21) == 0)
			memset(line, 0, strlen(line));
	}
	return list;
}

/*
 * Create and start a transfer for req: signed now, added to the multi
 * handle.  The caller drives it and frees it.
 */
static AwsTransfer *
transfer_start(AwsHttpRequest *req, bool streaming)
{
	AwsTransfer *t;
	const char *scheme_end = strstr(req->base_url, "://");
	const char *host_start;
	const char *host_end;
	char	   *host;
	char	   *prefix;
	char	   *wire_path;
	char	   *url;
	struct curl_slist *headers;
	CURL	   *e;
	int			connect_timeout;
	int			running;

	http_setup();
	/* a body lent by the last request is taken back */
	if (lent_body != NULL)
	{
		keep_body(lent_body, lent_body_cap);
		lent_body = NULL;
		lent_body_cap = 0;
	}

	if (scheme_end == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid AWS endpoint URL \"%s\"", req->base_url)));
	host_start = scheme_end + 3;
	host_end = strchr(host_start, '/');
	if (host_end == NULL)
		host_end = host_start + strlen(host_start);
	host = pnstrdup(host_start, host_end - host_start);
	prefix = pstrdup(host_end);	/* an endpoint's own path, or "" */
	while (strlen(prefix) > 0 && prefix[strlen(prefix) - 1] == '/')
		prefix[strlen(prefix) - 1] = '\0';
	wire_path = psprintf("%s%s", prefix, req->path ? req->path : "/");
	url = psprintf("%.*s%s%s%s", (int) (host_end - req->base_url), req->base_url,
				   wire_path, req->query && req->query[0] ? "?" : "",
				   req->query ? req->query : "");

	headers = sign_request(req, host, wire_path);

	t = calloc(1, sizeof(AwsTransfer));
	if (t != NULL)
		t->url = strdup(url);
	if (!streaming && spare_easy != NULL)
	{
		/* every option is set again below */
		e = spare_easy;
		spare_easy = NULL;
		curl_easy_reset(e);
	}
	else
		e = curl_easy_init();
	if (t == NULL || t->url == NULL || e == NULL)
	{
		if (t)
			free(t->url);
		free(t);
		if (e)
			curl_easy_cleanup(e);
		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	t->easy = e;
	t->header_list = headers;
	t->streaming = streaming;
	t->body_limit = streaming ?
		(req->stream_buffer > 0 ? req->stream_buffer : AWS_STREAM_BUFFER) :
		req->service == AWS_SERVICE_S3 ? AWS_MAX_BODY : AWS_MAX_API_BODY;
	t->wipe = (req->service == AWS_SERVICE_STS || req->local_service);
	if (!streaming && !t->wipe && spare_body != NULL)
	{
		t->body = spare_body;
		t->body_cap = spare_body_cap;
		spare_body = NULL;
		spare_body_cap = 0;
	}

	connect_timeout = req->connect_timeout_ms > 0 ? req->connect_timeout_ms :
		aws_connect_timeout_ms;

	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_SHARE, share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) connect_timeout);
	if (streaming)
	{
		/* no total limit for a body read at the reader's pace; a stall ends it */
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
						 (long) Max(aws_request_timeout_ms / 1000, 1));
	}
	else
	{
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
						 (long) (req->timeout_ms > 0 ? req->timeout_ms :
								 aws_request_timeout_ms));
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, AWS_API_RECV_BUFFER);
		if (req->body_len > 64 * 1024)
			curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE,
							 (long) Min((req->body_len + AWS_API_SEND_STEP - 1) /
										AWS_API_SEND_STEP * AWS_API_SEND_STEP,
										AWS_API_SEND_MAX));
	}
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "audit_fdw/1.0 libcurl/" LIBCURL_VERSION);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, aws_verify_tls ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, aws_verify_tls ? 2L : 0L);
	if (aws_ca_file != NULL && aws_ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, aws_ca_file);
	if (req->no_proxy)
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");

	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else
	{
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body != NULL || strcmp(req->method, "POST") == 0 ||
			strcmp(req->method, "PUT") == 0)
		{
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
							 (curl_off_t) (req->body ? req->body_len : 0));
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
	}

	if (curl_multi_add_handle(multi, e) != CURLM_OK)
	{
		transfer_free(t);
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not start an HTTP request")));
	}
	t->in_multi = true;
	/* kick it off: curl sets its timer and sockets */
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	return t;
}

static void
transfer_free(AwsTransfer *t)
{
	if (t == NULL)
		return;
	if (t->in_multi)
		curl_multi_remove_handle(multi, t->easy);
	/* an API call's handle is kept, unless its buffers saw secrets */
	if (t->easy && !t->streaming && !t->wipe && spare_easy == NULL)
		spare_easy = t->easy;
	else if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->header_list);
	if (t->body && t->wipe)
		memset(t->body, 0, t->body_len);
	if (!t->wipe && !t->streaming)
		keep_body(t->body, t->body_cap);
	else
		bigalloc_free(t->body);
	free(t->hdr);
	free(t->url);
	free(t);
}

/*
 * A body buffer no longer used: kept for the next call when it is larger
 * than the one kept (and not too large), else freed.
 */
static void
keep_body(char *body, size_t cap)
{
	/*
	 * Not one of bigalloc's blocks, which it keeps itself: held here, a
	 * GetRecords page would take its granules through the PutRecordBatch
	 * calls that follow, and their buffers a huge page more.
	 */
	if (body != NULL && cap <= AWS_SPARE_BODY_MAX && cap > spare_body_cap &&
		!bigalloc_owns(body))
	{
		bigalloc_free(spare_body);
		spare_body = body;
		spare_body_cap = cap;
	}
	else
		bigalloc_free(body);
}

/* Header lines -> List of AwsHeader, names lower-cased, values trimmed. */
static List *
parse_headers(const char *hdr, size_t len)
{
	List	   *result = NIL;
	const char *p = hdr;
	const char *end = hdr + len;

	while (p < end)
	{
		const char *eol = memchr(p, '\n', end - p);
		const char *colon;
		const char *v;
		const char *ve;

		if (eol == NULL)
			eol = end;
		colon = memchr(p, ':', eol - p);
		if (colon != NULL && colon > p)
		{
			AwsHeader  *h = palloc(sizeof(AwsHeader));
			char	   *name = pnstrdup(p, colon - p);

			for (char *c = name; *c; c++)
				*c = pg_tolower((unsigned char) *c);
			v = colon + 1;
			ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			h->name = name;
			h->value = pnstrdup(v, ve - v);
			result = lappend(result, h);
		}
		p = eol + 1;
	}
	return result;
}

static const char *
find_header(List *headers, const char *name)
{
	ListCell   *lc;

	foreach(lc, headers)
	{
		AwsHeader  *h = lfirst(lc);

		if (strcmp(h->name, name) == 0)
			return h->value;
	}
	return NULL;
}

const char *
aws_response_header(AwsResponse *resp, const char *name)
{
	return find_header(resp->headers, name);
}

/*
 * The response of a finished transfer, its body copied, or lent (taken
 * from t, valid until the next request) when asked and t has one that
 * holds no secrets.
 */
static AwsResponse *
make_response(AwsTransfer *t, bool lend)
{
	AwsResponse *resp = palloc0(sizeof(AwsResponse));
	const char *rid;

	resp->status = t->status;
	resp->body_len = t->body_len;
	resp->headers = parse_headers(t->hdr ? t->hdr : "", t->hdr_len);
	rid = find_header(resp->headers, "x-amzn-requestid");
	if (rid == NULL)
		rid = find_header(resp->headers, "x-amz-request-id");
	resp->request_id = rid ? pstrdup(rid) : NULL;
	if (lend && t->body != NULL && !t->wipe)
	{
		/* write_cb leaves room for the terminator */
		Assert(t->body_cap > t->body_len);
		resp->body = t->body;
		resp->body[t->body_len] = '\0';
		lent_body = t->body;
		lent_body_cap = t->body_cap;
		t->body = NULL;
		return resp;
	}
	resp->body = palloc(t->body_len + 1);
	if (t->body_len > 0)
		memcpy(resp->body, t->body, t->body_len);
	resp->body[t->body_len] = '\0';
	return resp;
}

static bool
curl_code_is_retryable(CURLcode code)
{
	switch (code)
	{
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
	}
}

/*
 * After an error that may mean our clock is off (the codes the SDKs treat
 * so), take the offset from the response's Date when it is larger than
 * AWS allows.  True when the offset changed: the request is worth making
 * again at once.
 */
static bool
correct_clock(const char *code, const char *date)
{
	static const char *const skew_codes[] = {
		"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture",
		"InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure",
		NULL
	};
	int64		server_time;
	int64		skew;
	bool		known = false;

	if (code == NULL || date == NULL)
		return false;
	for (int i = 0; skew_codes[i]; i++)
		if (strcmp(code, skew_codes[i]) == 0)
			known = true;
	if (!known)
		return false;
	server_time = aws_parse_http_date(date);
	if (server_time < 0)
		return false;
	skew = server_time - (int64) time(NULL);
	if (Abs(skew - clock_skew_secs) <= AWS_MAX_CLOCK_SKEW_SECS)
		return false;
	ereport(LOG,
			(errmsg("audit_fdw: the clock of this server is %lld seconds %s AWS's; signing with AWS's time",
					(long long) Abs(skew), skew > 0 ? "behind" : "ahead of")));
	clock_skew_secs = skew;
	return true;
}

/* What an error's hint may name: the server, its region and endpoint. */
static void
error_names_client(AwsError *err, AwsClient *client)
{
	if (client == NULL)
		return;
	err->server_name = client->server_name ? pstrdup(client->server_name) : NULL;
	err->endpoint = client->endpoint ? pstrdup(client->endpoint) : NULL;
	err->region = client->region ? pstrdup(client->region) : NULL;
}

/* The error of a finished, failed transfer (palloc'd). */
static AwsError *
transfer_error(AwsHttpRequest *req, AwsTransfer *t, bool *clock_corrected)
{
	AwsError   *err;

	if (clock_corrected)
		*clock_corrected = false;

	if (t->oom)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (t->overflow)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("aws %s %s response is too large",
						aws_service_name(req->service), req->operation),
				 errdetail("The response body is larger than %zu bytes.",
						   t->streaming ? (size_t) AWS_MAX_ERROR_BODY : t->body_limit)));

	if (t->result != CURLE_OK)
	{
		err = palloc0(sizeof(AwsError));
		err->service = req->service;
		err->operation = pstrdup(req->operation);
		err->status = 0;
		err->code = pstrdup("NetworkError");
		err->message = pstrdup(t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
		err->sqlerrcode = (t->result == CURLE_PEER_FAILED_VERIFICATION ||
						   t->result == CURLE_SSL_CACERT_BADFILE) ?
			ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION : ERRCODE_CONNECTION_FAILURE;
		err->retryable = curl_code_is_retryable(t->result);
		if (t->result == CURLE_COULDNT_RESOLVE_HOST)
			err->unreachable = AWS_HOST_NOT_FOUND;
		else if (t->result == CURLE_COULDNT_CONNECT)
			err->unreachable = AWS_CONNECTION_REFUSED;
		error_names_client(err, req->client);
		return err;
	}
	else
	{
		List	   *headers = parse_headers(t->hdr ? t->hdr : "", t->hdr_len);
		const char *rid = find_header(headers, "x-amzn-requestid");
		AwsErrorInfo *info;

		if (rid == NULL)
			rid = find_header(headers, "x-amz-request-id");
		info = aws_parse_error(t->status,
							   req->local_service ? NULL : t->body,
							   req->local_service ? 0 : t->body_len,
							   find_header(headers, "x-amzn-errortype"), rid);
		if (info == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		err = aws_error_from_info(req->service, req->operation, t->status, info);
		aws_error_info_free(info);
		error_names_client(err, req->client);
		if (clock_corrected && !req->unsigned_request && !req->local_service)
			*clock_corrected = correct_clock(err->code, find_header(headers, "date"));
		return err;
	}
}

/* Full jitter: a uniform delay in [0, min(cap, base * 2^(attempt-1))]. */
static long
backoff_ms(int attempt)
{
	double		ceiling = (double) aws_retry_base_delay_ms;

	for (int i = 1; i < attempt && ceiling < AWS_MAX_BACKOFF_MS; i++)
		ceiling *= 2;
	if (ceiling > AWS_MAX_BACKOFF_MS)
		ceiling = AWS_MAX_BACKOFF_MS;
	return (long) (pg_prng_double(&pg_global_prng_state) * ceiling);
}

/* Sleep ms on MyLatch, serving interrupts. */
static void
backoff_wait(long ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		remaining;

		CHECK_FOR_INTERRUPTS();
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
		if (remaining <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 remaining, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* A failed attempt about to be retried, to the client's observer. */
static void
note_retry(AwsHttpRequest *req, AwsError *err)
{
	if (req->client != NULL && req->client->on_retry != NULL)
		req->client->on_retry(req->client->on_retry_arg, err);
}

/*
 * Run req until it succeeds, or fails for good.  For a stream, success is
 * the arrival of a 2xx status and headers: the body is left to the reader.
 * On failure: the error is returned in *error_out when the caller asked for
 * it (AWS and network errors), raised otherwise.
 */
static AwsTransfer *
perform_with_retries(AwsHttpRequest *req, bool streaming, AwsError **error_out)
{
	int			max_attempts = req->max_attempts > 0 ? req->max_attempts :
		aws_max_retries + 1;
	TimestampTz start = GetCurrentTimestamp();
	bool		clock_retried = false;

	for (int attempt = 1;; attempt++)
	{
		TimestampTz attempt_start = GetCurrentTimestamp();
		AwsTransfer *volatile t = transfer_start(req, streaming);
		AwsError   *volatile err = NULL;
		bool		clock_corrected = false;

		PG_TRY();
		{
			if (streaming)
			{
				drive_until(t, cond_headers);
				/* an error response is read whole to report it */
				if (!t->done && !status_ok(req, t->status))
					drive_until(t, cond_done);
			}
			else
				drive_until(t, cond_done);
			if ((t->done && (t->result != CURLE_OK || !status_ok(req, t->status))) ||
				t->oom || t->overflow)
				err = transfer_error(req, t, &clock_corrected);
		}
		PG_CATCH();
		{
			transfer_free(t);
			PG_RE_THROW();
		}
		PG_END_TRY();

		ereport(DEBUG2,
				(errmsg_internal("aws %s %s: %s %ld after %ld ms (attempt %d)",
								 aws_service_name(req->service), req->operation,
								 t->result == CURLE_OK ? "HTTP" : "curl error",
								 t->result == CURLE_OK ? t->status : (long) t->result,
								 (long) TimestampDifferenceMilliseconds(attempt_start,
																		GetCurrentTimestamp()),
								 attempt)));
		if (err == NULL)
			return t;
		transfer_free(t);
		err->attempts = attempt;

		/* signed with a corrected clock, the request may pass: once, at once */
		if (clock_corrected && !clock_retried && attempt < max_attempts)
		{
			clock_retried = true;
			note_retry(req, err);
			continue;
		}

		if (err->retryable && attempt < max_attempts)
		{
			long		delay = backoff_ms(attempt);
			long		elapsed = TimestampDifferenceMilliseconds(start,
																  GetCurrentTimestamp());

			if (elapsed + delay <= aws_max_retry_time_ms)
			{
				ereport(DEBUG1,
						(errmsg_internal("aws %s %s failed with %s (attempt %d of %d), retrying in %ld ms",
										 aws_service_name(req->service), req->operation,
										 err->code, attempt, max_attempts, delay)));
				note_retry(req, err);
				backoff_wait(delay);
				continue;
			}
		}
		if (error_out != NULL)
		{
			*error_out = err;
			return NULL;
		}
		aws_raise(err);
	}
}

AwsResponse *
aws_http_execute(AwsHttpRequest *req, AwsError **error)
{
	AwsTransfer *t;
	AwsResponse *volatile resp = NULL;

	if (error)
		*error = NULL;
	t = perform_with_retries(req, false, error);
	if (t == NULL)
		return NULL;
	PG_TRY();
	{
		resp = make_response(t, req->lend_body);
	}
	PG_FINALLY();
	{
		transfer_free(t);
	}
	PG_END_TRY();
	return resp;
}

/* Memory context reset callback of a stream: end its transfer. */
static void
stream_reset_cb(void *arg)
{
	AwsStream  *stream = arg;

	transfer_free(stream->t);
	stream->t = NULL;
}

AwsStream *
aws_http_stream_open(AwsHttpRequest *req)
{
	AwsStream  *stream = palloc0(sizeof(AwsStream));

	stream->req = req;
	stream->t = perform_with_retries(req, true, NULL);
	stream->cb.func = stream_reset_cb;
	stream->cb.arg = stream;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &stream->cb);
	stream->headers = parse_headers(stream->t->hdr ? stream->t->hdr : "",
									stream->t->hdr_len);
	return stream;
}

size_t
aws_stream_read(AwsStream *stream, char *buf, size_t len)
{
	AwsTransfer *t = stream->t;

	if (t == NULL || len == 0)
		return 0;
	for (;;)
	{
		size_t		avail = t->body_len - t->body_start;

		if (avail > 0)
		{
			size_t		n = Min(avail, len);

			memcpy(buf, t->body + t->body_start, n);
			t->body_start += n;
			stream->bytes_read += n;
			if (t->body_start == t->body_len)
			{
				t->body_start = t->body_len = 0;
				if (t->paused)
				{
					t->paused = false;
					curl_easy_pause(t->easy, CURLPAUSE_CONT);
				}
			}
			return n;
		}
		if (t->done)
		{
			if (t->result != CURLE_OK && !t->oom && stream_resume(stream))
			{
				t = stream->t;
				continue;
			}
			if (t->result != CURLE_OK || t->oom)
			{
				AwsError   *err = transfer_error(stream->req, t, NULL);

				err->message = psprintf("%s (after %zu bytes of the body)",
										err->message, stream->bytes_read);
				aws_raise(err);
			}
			return 0;
		}
		if (t->paused)
		{
			t->paused = false;
			curl_easy_pause(t->easy, CURLPAUSE_CONT);
		}
		drive_until(t, cond_data);
	}
}

/*
 * After the connection broke in the middle of a GET body, ask again for the
 * rest (Range: bytes=<read>-), of the same version of the object (If-Match
 * with its ETag), after a backoff; up to audit_fdw.aws_max_retries times a
 * stream.  False when the failure is not one to retry: the caller raises it.
 */
static bool
stream_resume(AwsStream *stream)
{
	AwsHttpRequest *req;
	AwsHeader  *range;
	const char *etag = find_header(stream->headers, "etag");
	const char *content_range;
	List	   *headers = NIL;
	ListCell   *lc;
	MemoryContext old;
	char	   *expect;
	unsigned long long first = 0;
	char	   *last = NULL;
	bool		has_if_match = false;

	if (!curl_code_is_retryable(stream->t->result) ||
		stream->resumes >= aws_max_retries ||
		strcmp(stream->req->method, "GET") != 0 ||
		(stream->t->status != 200 && stream->t->status != 206))
		return false;

	old = MemoryContextSwitchTo(GetMemoryChunkContext(stream));
	/* a range asked for (bytes=<first>-[<last>]) goes on from where it broke */
	foreach(lc, stream->req->headers)
	{
		AwsHeader  *h = lfirst(lc);

		if (pg_strcasecmp(h->name, "range") == 0)
		{
			const char *v = h->value;
			char	   *end;

			if (strncmp(v, "bytes=", 6) != 0 || v[6] < '0' || v[6] > '9')
				break;
			errno = 0;
			first = strtoull(v + 6, &end, 10);
			if (errno != 0 || *end != '-' || strspn(end + 1, "0123456789") != strlen(end + 1))
				break;
			last = pstrdup(end + 1);
			continue;
		}
		if (pg_strcasecmp(h->name, "if-match") == 0)
			has_if_match = true;
		headers = lappend(headers, h);
	}
	if (lc != NULL || (last == NULL && stream->t->status != 200))
	{
		/* a range this code did not write, or a 206 to no range */
		MemoryContextSwitchTo(old);
		return false;
	}
	req = palloc(sizeof(AwsHttpRequest));
	memcpy(req, stream->req, sizeof(AwsHttpRequest));
	range = palloc(sizeof(AwsHeader));
	range->name = "range";
	range->value = psprintf("bytes=%llu-%s", first + stream->bytes_read,
							last ? last : "");
	headers = lappend(headers, range);
	if (etag != NULL && !has_if_match)
	{
		AwsHeader  *if_match = palloc(sizeof(AwsHeader));

		if_match->name = "if-match";
		if_match->value = pstrdup(etag);
		headers = lappend(headers, if_match);
	}
	req->headers = headers;
	MemoryContextSwitchTo(old);

	ereport(DEBUG1,
			(errmsg_internal("aws %s %s: the body broke after %zu bytes (%s), resuming",
							 aws_service_name(req->service), req->operation,
							 stream->bytes_read, curl_easy_strerror(stream->t->result))));
	transfer_free(stream->t);
	stream->t = NULL;
	stream->resumes++;
	backoff_wait(backoff_ms(stream->resumes));

	stream->t = perform_with_retries(req, true, NULL);
	content_range = NULL;
	foreach(lc, parse_headers(stream->t->hdr ? stream->t->hdr : "", stream->t->hdr_len))
	{
		AwsHeader  *h = lfirst(lc);

		if (strcmp(h->name, "content-range") == 0)
			content_range = h->value;
	}
	expect = psprintf("bytes %llu-", first + stream->bytes_read);
	if (stream->t->status != 206 || content_range == NULL ||
		strncmp(content_range, expect, strlen(expect)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("aws %s %s failed: the connection broke after %zu bytes of the body and the rest could not be asked for",
						aws_service_name(req->service), req->operation,
						stream->bytes_read),
				 errdetail_internal("The range request got HTTP status %ld%s%s.",
									stream->t->status,
									content_range ? " with Content-Range " : "",
									content_range ? content_range : "")));
	return true;
}

long
aws_stream_status(AwsStream *stream, List **headers)
{
	if (headers)
		*headers = stream->headers;
	return stream->t ? stream->t->status : 0;
}

void
aws_stream_close(AwsStream *stream)
{
	if (stream == NULL)
		return;
	transfer_free(stream->t);
	stream->t = NULL;
}
