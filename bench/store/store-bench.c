/*
 * store-bench - lib/store's figures beside raw SQLite and etcd, measured in the same run.
 *
 *   store-bench DIR [--etcd URL | --etcd-skip REASON]
 *
 * DIR is an empty scratch directory on the disk to measure. Prints "bench: METRIC VALUE UNIT"
 * lines (peers as METRIC.sqlite and METRIC.etcd). Durable figures count only writes whose
 * synchronous=FULL commit returned; afterwards the store is reopened and every acknowledged
 * write is checked at its revision, and the run fails if one is missing.
 *
 *   store-bench --watch-writer PATH FD N INTERVAL_US   (internal: the cross-process writer)
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/base64.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "store/store.h"

#define DURABLE_N 3000           /* durable creates and updates (each side) */
#define ROUNDS 10                /* korch and raw SQLite alternate reads in this many rounds */
#define BATCH_TOTAL 100000       /* objects written in batches: the list's data set */
#define BATCH_SIZE 100           /* writes per transaction */
#define BATCH_NORMAL_TOTAL 20000 /* the same at synchronous=NORMAL */
#define FSYNC_PROBES 200         /* fdatasync latency samples */
#define MATCH_EVERY 100          /* one object in 100 carries the list's label: 1,000 */
#define READS_N 200000           /* point reads */
#define LIST_RUNS 21             /* list repetitions (median) */
#define WATCH_N 1000             /* cross-process watch events */
#define WATCH_INTERVAL_US 2000
#define ETCD_N 1000 /* etcd puts (one request per put) */

static void _printf_(1, 2) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "store-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread. */
static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void
metric(const char *name, double value, const char *unit)
{
	if (value >= 100)
		printf("bench: %s %.0f %s\n", name, value, unit);
	else
		printf("bench: %s %.2f %s\n", name, value, unit);
	fflush(stdout);
}

static void
skipped(const char *name, const char *reason)
{
	printf("bench: %s skipped %s\n", name, reason);
	fflush(stdout);
}

/*
 * A Deployment of about 900 bytes, as a controller would write it: labels, a pod template,
 * status. match puts it in the list benchmark's 1 %.
 */
static json_t *
bench_obj(const char *name, int n, bool match)
{
	json_t *labels = json_pack("{s:s, s:s, s:s}", "app", name, "tier", n % 3 ? "web" : "db",
				   "bench.korch.io/shard", n % 2 ? "a" : "b");
	if (match)
		json_object_set_new(labels, "bench.korch.io/match", json_string("yes"));
	json_t *o = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:o, s:s, s:I}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}},"
		" s:{s:[{s:s, s:s, s:[{s:i, s:s}], s:{s:{s:s, s:s}}}]}}}, s:{s:i, s:i}}",
		"apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", name,
		"namespace", "default", "labels", labels, "uid",
		"6b2f3c1e-7d4a-4e8b-9f10-2a3b4c5d6e7f", "generation", (json_int_t)1, "spec",
		"replicas", 3, "selector", "matchLabels", "app", name, "template", "metadata",
		"labels", "app", name, "spec", "containers", "name", "main", "image",
		"registry.example.com/team/service:1.2.3", "ports", "containerPort", 8080,
		"protocol", "TCP", "resources", "requests", "cpu", "100m", "memory", "128Mi",
		"status", "replicas", n, "readyReplicas", n);
	if (!o)
		die("out of memory building an object");
	return o;
}

static struct store *
open_store_sync(const char *path, korch_loop *loop, bool sync_normal)
{
	struct store_options o = { .loop = loop,
				   .compact_keep_revisions = -1,
				   .sync_normal = sync_normal };
	struct store *s = NULL;
	korch_error *err = NULL;
	if (store_open(path, &o, &s, &err) < 0)
		die("%s", korch_error_message(err));
	return s;
}

static struct store *
open_store(const char *path, korch_loop *loop)
{
	return open_store_sync(path, loop, false);
}

static char *
path_in(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		die("out of memory");
	return p;
}

/* ---- raw SQLite: the floor ---- */

struct raw {
	sqlite3 *db;          /* WAL, synchronous=FULL, one table */
	sqlite3_stmt *insert; /* INSERT INTO kv */
	sqlite3_stmt *update; /* UPDATE kv */
	sqlite3_stmt *get;    /* SELECT v FROM kv */
};

static void
raw_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die("raw sqlite: %s: %s", sql, sqlite3_errmsg(db));
}

static void
raw_open(struct raw *r, const char *path, bool sync_normal)
{
	if (sqlite3_open(path, &r->db) != SQLITE_OK)
		die("raw sqlite: open %s", path);
	raw_exec(r->db, sync_normal ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"
				    : "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL");
	raw_exec(r->db, "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
	if (sqlite3_prepare_v2(r->db, "INSERT INTO kv (k, v) VALUES (?1, ?2)", -1, &r->insert,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, "UPDATE kv SET v = ?2 WHERE k = ?1", -1, &r->update, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, "SELECT v FROM kv WHERE k = ?1", -1, &r->get, NULL) !=
		    SQLITE_OK)
		die("raw sqlite: prepare: %s", sqlite3_errmsg(r->db));
}

static void
raw_close(struct raw *r)
{
	sqlite3_finalize(r->insert);
	sqlite3_finalize(r->update);
	sqlite3_finalize(r->get);
	sqlite3_close(r->db);
}

/* One statement in autocommit: one durable transaction. */
static void
raw_write(struct raw *r, sqlite3_stmt *st, const char *key, const char *value)
{
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		die("raw sqlite: write %s: %s", key, sqlite3_errmsg(r->db));
	sqlite3_reset(st);
}

/* ---- etcd through its JSON gateway, one request per operation ---- */

struct etcd {
	CURL *curl;              /* one handle: a kept-alive connection */
	struct curl_slist *hdrs; /* Content-Type */
	char *url;               /* base URL */
	struct strbuf response;  /* last response body */
};

static size_t
etcd_collect(char *data, size_t size, size_t n, void *userdata)
{
	struct strbuf *sb = userdata;
	if (strbuf_append(sb, data, size * n) < 0)
		return 0;
	return size * n;
}

static char *
b64(const char *text)
{
	size_t n = strlen(text);
	char *out = malloc(BASE64_ENCODE_RAW_LENGTH(n) + 1);
	if (!out)
		die("out of memory");
	base64_encode_raw(out, n, (const uint8_t *)text);
	out[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
	return out;
}

static void
etcd_call(struct etcd *e, const char *path, const char *body)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", e->url, path);
	strbuf_truncate(&e->response, 0);
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(e->curl);
	long status = 0;
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200)
		die("etcd %s: %s (HTTP %ld) %s", path, curl_easy_strerror(rc), status,
		    strbuf_str(&e->response));
}

static void
etcd_put(struct etcd *e, const char *key, const char *value)
{
	char *k = b64(key), *v = b64(value), *body = NULL;
	if (asprintf(&body, "{\"key\":\"%s\",\"value\":\"%s\"}", k, v) < 0)
		die("out of memory");
	etcd_call(e, "/v3/kv/put", body);
	free(k);
	free(v);
	free(body);
}

static void
etcd_get(struct etcd *e, const char *key)
{
	char *k = b64(key), *body = NULL;
	if (asprintf(&body, "{\"key\":\"%s\"}", k) < 0)
		die("out of memory");
	etcd_call(e, "/v3/kv/range", body);
	if (!strstr(strbuf_str(&e->response), "\"kvs\""))
		die("etcd range %s: no value in %s", key, strbuf_str(&e->response));
	free(k);
	free(body);
}

/* ---- phases ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct durable {
	int64_t *rev; /* acknowledged revision of object i's last write */
	int *n;       /* its status.replicas */
};

static double
store_creates(struct store *s, struct durable *d, int from, int to)
{
	double t0 = now_s();
	for (int i = from; i < to; i++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%06d", i);
		json_t *o = bench_obj(name, i, false);
		struct store_key k = { "apps", "deployments", "default", name };
		korch_error *err = NULL;
		if (store_create(s, &k, o, 0, &d->rev[i], &err) < 0)
			die("create %s: %s", name, korch_error_message(err));
		d->n[i] = i;
		json_decref(o);
	}
	return now_s() - t0;
}

static double
store_updates(struct store *s, struct durable *d, int from, int to)
{
	double t0 = now_s();
	for (int i = from; i < to; i++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%06d", i);
		json_t *o = bench_obj(name, i + 1, false);
		struct store_key k = { "apps", "deployments", "default", name };
		korch_error *err = NULL;
		int64_t rev = 0;
		if (store_update(s, &k, o, d->rev[i], &rev, &err) < 0)
			die("update %s: %s", name, korch_error_message(err));
		d->rev[i] = rev;
		d->n[i] = i + 1;
		json_decref(o);
	}
	return now_s() - t0;
}

static double
raw_writes(struct raw *r, bool update, int from, int to)
{
	double t0 = now_s();
	for (int i = from; i < to; i++) {
		char name[32], key[64];
		snprintf(name, sizeof(name), "web-%06d", i);
		snprintf(key, sizeof(key), "/registry/deployments/default/%s", name);
		json_t *o = bench_obj(name, update ? i + 1 : i, false);
		char *text = json_dumps(o, JSON_COMPACT);
		raw_write(r, update ? r->update : r->insert, key, text);
		free(text);
		json_decref(o);
	}
	return now_s() - t0;
}

/* Reopens the store and checks every acknowledged write at its revision. */
static void
verify(const char *path, const int64_t *rev, const int *n, int count, const char *what)
{
	struct store *s = open_store(path, NULL);
	for (int i = 0; i < count; i++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%06d", i);
		struct store_key k = { "apps", "deployments", "default", name };
		json_t *o = NULL;
		struct store_object_meta meta;
		korch_error *err = NULL;
		if (store_get(s, &k, &o, &meta, &err) < 0)
			die("verify %s: %s", what, korch_error_message(err));
		int got_n = (int)json_integer_value(
			json_object_get(json_object_get(o, "status"), "replicas"));
		if (meta.mod_revision != rev[i] || (n && got_n != n[i]))
			die("verify %s: %s at revision %lld (n %d), acknowledged %lld (n %d)", what,
			    name, (long long)meta.mod_revision, got_n, (long long)rev[i],
			    n ? n[i] : -1);
		json_decref(o);
	}
	korch_error *err = NULL;
	if (store_check(s, &err) < 0)
		die("verify %s: %s", what, korch_error_message(err));
	store_close(s);
	fprintf(stderr, "store-bench: %s: all %d acknowledged writes present at their revisions\n",
		what, count);
}

static void
bench_durable(const char *dir, struct etcd *etcd, double *ret_create_rate)
{
	char *spath = path_in(dir, "durable.db"), *rpath = path_in(dir, "raw.db");
	struct store *s = open_store(spath, NULL);
	struct raw raw = { 0 };
	raw_open(&raw, rpath, false);
	struct durable d = { calloc(DURABLE_N, sizeof(int64_t)), calloc(DURABLE_N, sizeof(int)) };
	/*
	 * korch and the floor alternate write by write (who goes first alternating too), so that
	 * both see the same disk weather: on a shared disk an fsync's latency changes from one
	 * second to the next, and alternating in rounds of a hundred writes moved the ratio by
	 * +-30 % from one run to the next.
	 */
	double t_store = 0, t_raw = 0, tu_store = 0, tu_raw = 0;
	for (int pass = 0; pass < 2; pass++) {
		bool update = pass == 1;
		double *ts = update ? &tu_store : &t_store, *tr = update ? &tu_raw : &t_raw;
		for (int i = 0; i < DURABLE_N; i++) {
			if (i % 2)
				*ts += update ? store_updates(s, &d, i, i + 1)
					      : store_creates(s, &d, i, i + 1);
			*tr += raw_writes(&raw, update, i, i + 1);
			if (!(i % 2))
				*ts += update ? store_updates(s, &d, i, i + 1)
					      : store_creates(s, &d, i, i + 1);
		}
	}
	store_close(s);
	raw_close(&raw);
	verify(spath, d.rev, d.n, DURABLE_N, "durable creates and updates");

	double create = DURABLE_N / t_store, create_raw = DURABLE_N / t_raw;
	double update = DURABLE_N / tu_store, update_raw = DURABLE_N / tu_raw;
	*ret_create_rate = create;
	metric("store.create_durable_per_s", create, "/s");
	metric("store.create_durable_per_s.sqlite", create_raw, "/s");
	metric("store.create_durable_ratio_sqlite", create / create_raw, "x");
	metric("store.update_durable_per_s", update, "/s");
	metric("store.update_durable_per_s.sqlite", update_raw, "/s");
	metric("store.update_durable_ratio_sqlite", update / update_raw, "x");
	if (etcd) {
		double t0 = now_s();
		for (int i = 0; i < ETCD_N; i++) {
			char name[32], key[64];
			snprintf(name, sizeof(name), "web-%06d", i);
			snprintf(key, sizeof(key), "/registry/deployments/default/%s", name);
			json_t *o = bench_obj(name, i, false);
			char *text = json_dumps(o, JSON_COMPACT);
			etcd_put(etcd, key, text);
			free(text);
			json_decref(o);
		}
		double etcd_create = ETCD_N / (now_s() - t0);
		t0 = now_s();
		for (int i = 0; i < ETCD_N; i++) {
			char name[32], key[64];
			snprintf(name, sizeof(name), "web-%06d", i);
			snprintf(key, sizeof(key), "/registry/deployments/default/%s", name);
			json_t *o = bench_obj(name, i + 1, false);
			char *text = json_dumps(o, JSON_COMPACT);
			etcd_put(etcd, key, text);
			free(text);
			json_decref(o);
		}
		double etcd_update = ETCD_N / (now_s() - t0);
		metric("store.create_durable_per_s.etcd", etcd_create, "/s");
		metric("store.create_durable_ratio_etcd", create / etcd_create, "x");
		metric("store.update_durable_per_s.etcd", etcd_update, "/s");
		metric("store.update_durable_ratio_etcd", update / etcd_update, "x");
	}
	free(d.rev);
	free(d.n);
	free(spath);
	free(rpath);
}

/* Objects [from, to) of the batched data set as 100-object transactions; returns seconds. */
static double
store_batches(struct store *s, int64_t *rev, int from, int to)
{
	struct store_op ops[BATCH_SIZE];
	json_t *objs[BATCH_SIZE];
	char names[BATCH_SIZE][32];
	double t = 0;
	for (int b = from; b < to; b += BATCH_SIZE) {
		for (int j = 0; j < BATCH_SIZE; j++) {
			int i = b + j;
			snprintf(names[j], sizeof(names[j]), "web-%06d", i);
			objs[j] = bench_obj(names[j], i, i % MATCH_EVERY == 7);
			ops[j] = (struct store_op){ .type = STORE_OP_CREATE,
						    .key = { "apps", "deployments", "default",
							     names[j] },
						    .obj = objs[j] };
		}
		double t0 = now_s();
		korch_error *err = NULL;
		int64_t r = 0;
		if (store_commit(s, ops, BATCH_SIZE, &r, &err) < 0)
			die("batch at %d: %s", b, korch_error_message(err));
		t += now_s() - t0;
		for (int j = 0; j < BATCH_SIZE; j++) {
			rev[b + j] = r;
			json_decref(objs[j]);
		}
	}
	return t;
}

/* The floor: the same objects' texts inserted 100 per transaction. */
static double
raw_batches(struct raw *raw, int from, int to)
{
	double t = 0;
	for (int b = from; b < to; b += BATCH_SIZE) {
		char *texts[BATCH_SIZE], keys[BATCH_SIZE][64];
		for (int j = 0; j < BATCH_SIZE; j++) {
			int i = b + j;
			char name[32];
			snprintf(name, sizeof(name), "web-%06d", i);
			snprintf(keys[j], sizeof(keys[j]), "/registry/deployments/default/%s",
				 name);
			json_t *o = bench_obj(name, i, i % MATCH_EVERY == 7);
			texts[j] = json_dumps(o, JSON_COMPACT);
			json_decref(o);
		}
		double t0 = now_s();
		raw_exec(raw->db, "BEGIN");
		for (int j = 0; j < BATCH_SIZE; j++)
			raw_write(raw, raw->insert, keys[j], texts[j]);
		raw_exec(raw->db, "COMMIT");
		t += now_s() - t0;
		for (int j = 0; j < BATCH_SIZE; j++)
			free(texts[j]);
	}
	return t;
}

/*
 * creates objects [0, total) 100 per transaction, in the store at DIR/NAME.db and raw SQLite at
 * DIR/raw-NAME.db, alternating batch by batch; returns the store's path (the caller frees it).
 */
static char *
batched_run(const char *dir, const char *name, int total, bool sync_normal, double *ret_store_s,
	    double *ret_raw_s)
{
	char sname[64], rname[64];
	snprintf(sname, sizeof(sname), "%s.db", name);
	snprintf(rname, sizeof(rname), "raw-%s.db", name);
	char *spath = path_in(dir, sname), *rpath = path_in(dir, rname);
	struct store *s = open_store_sync(spath, NULL, sync_normal);
	struct raw raw = { 0 };
	raw_open(&raw, rpath, sync_normal);
	int64_t *rev = calloc((size_t)total, sizeof(int64_t));
	/*
	 * Object construction stays outside the timed part on both sides; the two alternate batch
	 * by batch (who goes first alternating too), for the same reason as the durable writes.
	 */
	double t_store = 0, t_raw = 0;
	for (int b = 0; b < total; b += BATCH_SIZE) {
		if ((b / BATCH_SIZE) % 2)
			t_store += store_batches(s, rev, b, b + BATCH_SIZE);
		t_raw += raw_batches(&raw, b, b + BATCH_SIZE);
		if (!((b / BATCH_SIZE) % 2))
			t_store += store_batches(s, rev, b, b + BATCH_SIZE);
	}
	store_close(s);
	raw_close(&raw);
	verify(spath, rev, NULL, total,
	       sync_normal ? "batched creates (NORMAL)" : "batched creates");
	free(rev);
	free(rpath);
	*ret_store_s = t_store;
	*ret_raw_s = t_raw;
	return spath;
}

/*
 * 100,000 durable creates, 100 per transaction; leaves the data set for reads and the list.
 * Then the same at synchronous=NORMAL on a smaller set: what the writes cost without waiting
 * for the disk (context for the durable figure, not a durable figure itself).
 */
static void
bench_batched(const char *dir, char **ret_path)
{
	double t_store, t_raw;
	*ret_path = batched_run(dir, "batched", BATCH_TOTAL, false, &t_store, &t_raw);
	metric("store.batched_writes_per_s", BATCH_TOTAL / t_store, "/s");
	metric("store.batched_writes_per_s.sqlite", BATCH_TOTAL / t_raw, "/s");
	metric("store.batched_writes_ratio_sqlite", t_raw / t_store, "x");
	skipped("store.batched_writes_per_s.etcd", "one request per put is the etcd figure here");
	free(batched_run(dir, "batched-normal", BATCH_NORMAL_TOTAL, true, &t_store, &t_raw));
	metric("store.batched_writes_sync_normal_per_s", BATCH_NORMAL_TOTAL / t_store, "/s");
	metric("store.batched_writes_sync_normal_per_s.sqlite", BATCH_NORMAL_TOTAL / t_raw, "/s");
}

/*
 * The disk's fdatasync latency (median of 200 4 KiB appends, each synced): what bounds every
 * durable figure here, printed so that runs on different disks can be compared.
 */
static void
bench_disk(const char *dir)
{
	char *path = path_in(dir, "fsync-probe");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	char block[4096];
	memset(block, 'k', sizeof(block));
	double ms[FSYNC_PROBES];
	for (int i = 0; i < FSYNC_PROBES; i++) {
		if (pwrite(fd, block, sizeof(block), (off_t)i * (off_t)sizeof(block)) !=
		    (ssize_t)sizeof(block))
			die("write %s: %s", path, strerror(errno));
		double t0 = now_s();
		if (fdatasync(fd) < 0)
			die("fdatasync %s: %s", path, strerror(errno));
		ms[i] = (now_s() - t0) * 1000;
	}
	close(fd);
	unlink(path);
	free(path);
	qsort(ms, FSYNC_PROBES, sizeof(double), cmp_double);
	metric("store.disk_fdatasync_p50_ms", ms[FSYNC_PROBES / 2], "ms");
}

static double
store_reads(struct store *s, unsigned *seed, int n)
{
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "web-%06d", rand_r(seed) % BATCH_TOTAL);
		struct store_key k = { "apps", "deployments", "default", name };
		json_t *o = NULL;
		korch_error *err = NULL;
		if (store_get(s, &k, &o, NULL, &err) < 0)
			die("get %s: %s", name, korch_error_message(err));
		json_decref(o);
	}
	return now_s() - t0;
}

/* The floor: the same lookups and the same JSON parsing. */
static double
raw_reads(struct raw *raw, unsigned *seed, int n)
{
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof(key), "/registry/deployments/default/web-%06d",
			 rand_r(seed) % BATCH_TOTAL);
		sqlite3_bind_text(raw->get, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(raw->get) != SQLITE_ROW)
			die("raw get %s", key);
		json_t *o = json_loadb((const char *)sqlite3_column_text(raw->get, 0),
				       (size_t)sqlite3_column_bytes(raw->get, 0), 0, NULL);
		if (!o)
			die("raw get %s: bad JSON", key);
		json_decref(o);
		sqlite3_reset(raw->get);
	}
	return now_s() - t0;
}

static void
bench_reads(const char *spath, const char *dir, struct etcd *etcd)
{
	struct store *s = open_store(spath, NULL);
	char *rpath = path_in(dir, "raw-batched.db");
	struct raw raw = { 0 };
	raw_open(&raw, rpath, false);
	unsigned seed_store = 1, seed_raw = 1;
	double t_store = 0, t_raw = 0;
	for (int r = 0; r < ROUNDS; r++) {
		t_store += store_reads(s, &seed_store, READS_N / ROUNDS);
		t_raw += raw_reads(&raw, &seed_raw, READS_N / ROUNDS);
	}
	metric("store.point_reads_per_s", READS_N / t_store, "/s");
	metric("store.point_reads_per_s.sqlite", READS_N / t_raw, "/s");
	metric("store.point_reads_ratio_sqlite", t_raw / t_store, "x");
	store_close(s);
	raw_close(&raw);
	free(rpath);
	if (etcd) {
		double t0 = now_s();
		for (int i = 0; i < ETCD_N; i++) {
			char key[64];
			snprintf(key, sizeof(key), "/registry/deployments/default/web-%06d", i);
			etcd_get(etcd, key);
		}
		metric("store.point_reads_per_s.etcd", ETCD_N / (now_s() - t0), "/s");
	}
}

/* How the list hands out its items. */
enum list_mode {
	LIST_PARSED,     /* jansson trees (what controllers get) */
	LIST_TEXT_ITEMS, /* the stored texts as JSON strings */
	LIST_TEXT_OUT,   /* the stored texts appended to one buffer (what the API server sends) */
};

/* How the list selects the 1,000. */
enum list_select {
	SELECT_INDEX,         /* bench.korch.io/match=yes: the label index */
	SELECT_LABEL_FILTER,  /* "bench.korch.io/match" (exists): label_filter on every object */
	SELECT_OBJECT_FILTER, /* the same as a filter on every parsed object (the old way) */
};

static bool
has_match_label(const json_t *labels, void *userdata)
{
	return json_object_get(labels, "bench.korch.io/match") != NULL;
}

static bool
has_match_label_obj(const json_t *obj, void *userdata)
{
	return has_match_label(json_object_get(json_object_get(obj, "metadata"), "labels"),
			       userdata);
}

/* The median of `runs` (at most LIST_RUNS) lists of the 1,000 labelled objects. */
static double
list_median_ms(struct store *s, enum list_mode mode, enum list_select sel, int runs,
	       double *ret_cpu_ms)
{
	struct store_label match = { "bench.korch.io/match", "yes" };
	struct strbuf out = STRBUF_INIT;
	struct store_list_options lo = {
		.group = "apps",
		.resource = "deployments",
		.ns = "default",
		.labels = sel == SELECT_INDEX ? &match : NULL,
		.n_labels = sel == SELECT_INDEX,
		.label_filter = sel == SELECT_LABEL_FILTER ? has_match_label : NULL,
		.filter = sel == SELECT_OBJECT_FILTER ? has_match_label_obj : NULL,
		.text_items = mode == LIST_TEXT_ITEMS,
		.text_out = mode == LIST_TEXT_OUT ? &out : NULL,
	};
	double ms[LIST_RUNS], cpu[LIST_RUNS];
	for (int r = 0; r < runs; r++) {
		struct store_list l = { 0 };
		korch_error *err = NULL;
		strbuf_truncate(&out, 0);
		double t0 = now_s(), c0 = cpu_s();
		if (store_list(s, &lo, &l, &err) < 0)
			die("list: %s", korch_error_message(err));
		ms[r] = (now_s() - t0) * 1000;
		cpu[r] = (cpu_s() - c0) * 1000;
		if (l.n_items != BATCH_TOTAL / MATCH_EVERY ||
		    json_array_size(l.items) != (mode == LIST_TEXT_OUT ? 0 : l.n_items))
			die("list: %zu items (%zu in the array), want %d", l.n_items,
			    json_array_size(l.items), BATCH_TOTAL / MATCH_EVERY);
		if (mode == LIST_TEXT_OUT && r == runs - 1) {
			/* The buffer is a JSON array's inside: check it parses as one (after the
			 * last run only: parsing a megabyte between runs would cool the caches). */
			struct strbuf arr = STRBUF_INIT;
			strbuf_putc(&arr, '[');
			strbuf_append(&arr, strbuf_str(&out), out.len);
			strbuf_putc(&arr, ']');
			json_t *j = json_loadb(strbuf_str(&arr), arr.len, 0, NULL);
			if (json_array_size(j) != l.n_items)
				die("list: the streamed texts are not %zu JSON objects", l.n_items);
			json_decref(j);
			strbuf_free(&arr);
		}
		store_list_clear(&l);
	}
	strbuf_free(&out);
	qsort(ms, (size_t)runs, sizeof(double), cmp_double);
	qsort(cpu, (size_t)runs, sizeof(double), cmp_double);
	*ret_cpu_ms = cpu[runs / 2];
	return ms[runs / 2];
}

static void
bench_list(const char *spath)
{
	struct store *s = open_store(spath, NULL);
	/*
	 * Parsed objects (what controllers get), the stored texts as JSON strings, and the stored texts
	 * streamed into one buffer (what the API server relays).
	 * Beside each wall-clock median, the median of the CPU time the list thread used: on a
	 * machine whose cores are shared the wall time mostly measures the wait for a core.
	 */
	double cpu_ms;
	metric("store.list_1000_of_100000_ms",
	       list_median_ms(s, LIST_PARSED, SELECT_INDEX, LIST_RUNS, &cpu_ms), "ms");
	metric("store.list_1000_of_100000_cpu_ms", cpu_ms, "ms");
	metric("store.list_1000_of_100000_text_ms",
	       list_median_ms(s, LIST_TEXT_ITEMS, SELECT_INDEX, LIST_RUNS, &cpu_ms), "ms");
	metric("store.list_1000_of_100000_text_cpu_ms", cpu_ms, "ms");
	metric("store.list_1000_of_100000_stream_ms",
	       list_median_ms(s, LIST_TEXT_OUT, SELECT_INDEX, LIST_RUNS, &cpu_ms), "ms");
	metric("store.list_1000_of_100000_stream_cpu_ms", cpu_ms, "ms");
	/*
	 * A requirement the index cannot answer (exists), over all 100,000: decided on the stored
	 * labels, and (fewer runs: it parses every object) on the parsed objects as before.
	 */
	metric("store.list_exists_1000_of_100000_stream_ms",
	       list_median_ms(s, LIST_TEXT_OUT, SELECT_LABEL_FILTER, LIST_RUNS, &cpu_ms), "ms");
	metric("store.list_exists_1000_of_100000_stream_cpu_ms", cpu_ms, "ms");
	metric("store.list_exists_1000_of_100000_object_filter_ms",
	       list_median_ms(s, LIST_TEXT_OUT, SELECT_OBJECT_FILTER, 3, &cpu_ms), "ms");
	metric("store.list_exists_1000_of_100000_object_filter_cpu_ms", cpu_ms, "ms");
	skipped("store.list_1000_of_100000_ms.etcd",
		"etcd has no label index (the Kubernetes API server filters a full range read)");
	store_close(s);
}

/* The writer process of the watch benchmark: creates, reporting when each commit returned. */
static int
watch_writer(const char *path, int fd, int n, int interval_us)
{
	struct store *s = open_store(path, NULL);
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "w-%06d", i);
		json_t *o = bench_obj(name, i, false);
		struct store_key k = { "apps", "deployments", "default", name };
		korch_error *err = NULL;
		int64_t rev = 0;
		if (store_create(s, &k, o, 0, &rev, &err) < 0)
			die("watch writer: %s", korch_error_message(err));
		int64_t t = now_ns();
		char line[64];
		int len = snprintf(line, sizeof(line), "%lld %lld\n", (long long)rev, (long long)t);
		if (write_all(fd, line, (size_t)len) < 0)
			die("watch writer: report");
		json_decref(o);
		usleep((useconds_t)interval_us);
	}
	store_close(s);
	return 0;
}

struct watch_rec {
	int64_t *delivered_ns; /* by revision */
	int64_t max_rev;       /* highest revision seen */
	int count;             /* events */
	int dup;               /* revisions seen twice */
};

static void
on_watch(struct store_watch *w, const struct store_event *ev, size_t n, const korch_error *error,
	 void *userdata)
{
	struct watch_rec *r = userdata;
	if (error)
		die("watch: %s", korch_error_message(error));
	int64_t t = now_ns();
	for (size_t i = 0; i < n; i++) {
		int64_t rev = ev[i].revision;
		if (rev < 1 || rev > WATCH_N)
			die("watch: unexpected revision %lld", (long long)rev);
		if (r->delivered_ns[rev])
			r->dup++;
		r->delivered_ns[rev] = t;
		r->count++;
		if (rev > r->max_rev)
			r->max_rev = rev;
	}
}

static void
bench_watch(const char *dir, const char *self)
{
	char *path = path_in(dir, "watch.db");
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	if (korch_clock_new_real(&clock, NULL) < 0 || korch_loop_new(clock, &loop, NULL) < 0)
		die("loop");
	struct store *s = open_store(path, loop);
	struct watch_rec rec = { .delivered_ns = calloc(WATCH_N + 1, sizeof(int64_t)) };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	struct store_watch *w = NULL;
	korch_error *err = NULL;
	if (store_watch_new(s, &wo, on_watch, &rec, &w, &err) < 0)
		die("watch: %s", korch_error_message(err));
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0 || fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) < 0)
		die("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], 3);
		char n[16], iv[16];
		snprintf(n, sizeof(n), "%d", WATCH_N);
		snprintf(iv, sizeof(iv), "%d", WATCH_INTERVAL_US);
		execl(self, self, "--watch-writer", path, "3", n, iv, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	int status = 0;
	double deadline = now_s() + 120;
	while (waitpid(pid, &status, WNOHANG) == 0 && now_s() < deadline)
		korch_loop_dispatch(loop, 10, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("watch writer failed (status %#x)", status);
	deadline = now_s() + 2;
	while (rec.max_rev < WATCH_N && now_s() < deadline)
		korch_loop_dispatch(loop, 10, NULL);
	char *acks = NULL;
	size_t len = 0;
	if (read_all_fd(fds[0], 1 << 24, &acks, &len, NULL) < 0)
		die("read writer reports");
	close(fds[0]);
	if (rec.count != WATCH_N || rec.dup)
		die("watch: %d events (%d duplicates), want %d", rec.count, rec.dup, WATCH_N);
	double *lat = calloc(WATCH_N, sizeof(double));
	int n = 0;
	for (char *p = acks; *p && n < WATCH_N;) {
		long long rev, t;
		int used;
		if (sscanf(p, "%lld %lld%n", &rev, &t, &used) != 2)
			die("watch writer report: %s", p);
		/* Delivered before the writer's clock read after its commit: latency 0. */
		int64_t d = rec.delivered_ns[rev] - t;
		lat[n++] = d > 0 ? (double)d / 1e6 : 0;
		p += used;
		while (*p == '\n')
			p++;
	}
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	metric("store.watch_delivery_p50_ms", lat[n / 2], "ms");
	metric("store.watch_delivery_p99_ms", lat[n * 99 / 100], "ms");
	skipped("store.watch_delivery_p99_ms.etcd",
		"not measured (its watch streams over gRPC; the JSON gateway adds its own buffering)");
	free(lat);
	free(acks);
	store_watch_free(w);
	store_close(s);
	korch_loop_free(loop);
	korch_clock_free(clock);
	free(rec.delivered_ns);
	free(path);
}

int
main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "--watch-writer") == 0)
		return watch_writer(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc != 2 && argc != 4)
		die("usage: store-bench DIR [--etcd URL | --etcd-skip REASON]");
	const char *dir = argv[1];
	struct etcd etcd = { 0 }, *e = NULL;
	const char *etcd_skip = "no etcd URL given";
	if (argc == 4 && strcmp(argv[2], "--etcd") == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		etcd.curl = curl_easy_init();
		etcd.url = argv[3];
		etcd.hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(etcd.curl, CURLOPT_HTTPHEADER, etcd.hdrs);
		curl_easy_setopt(etcd.curl, CURLOPT_WRITEFUNCTION, etcd_collect);
		curl_easy_setopt(etcd.curl, CURLOPT_WRITEDATA, &etcd.response);
		curl_easy_setopt(etcd.curl, CURLOPT_TCP_NODELAY, 1L);
		e = &etcd;
	} else if (argc == 4 && strcmp(argv[2], "--etcd-skip") == 0) {
		etcd_skip = argv[3];
	} else if (argc == 4) {
		die("unknown option %s", argv[2]);
	}
	double create_rate = 0;
	bench_disk(dir);
	bench_durable(dir, e, &create_rate);
	if (!e) {
		skipped("store.create_durable_per_s.etcd", etcd_skip);
		skipped("store.create_durable_ratio_etcd", etcd_skip);
		skipped("store.update_durable_per_s.etcd", etcd_skip);
	}
	char *batched = NULL;
	bench_batched(dir, &batched);
	bench_reads(batched, dir, e);
	if (!e)
		skipped("store.point_reads_per_s.etcd", etcd_skip);
	bench_list(batched);
	bench_watch(dir, "/proc/self/exe");
	free(batched);
	if (e) {
		curl_slist_free_all(etcd.hdrs);
		curl_easy_cleanup(etcd.curl);
		strbuf_free(&etcd.response);
		curl_global_cleanup();
	}
	return 0;
}
