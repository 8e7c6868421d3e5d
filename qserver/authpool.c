/* Password and token checks on a few worker threads (DESIGN decision 12): crypt(3) costs tens
 * of milliseconds on purpose, so it never runs on the event loop. A job goes into a bounded
 * queue; a worker runs crypt and puts the finished job on a done list, then writes one byte to
 * a pipe whose read end the loop watches; the loop then calls the job's callback. libevent is
 * never called from a worker, so it needs no thread support. */
#include "qserver.h"
#include "log.h"
#include "password.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AUTHPOOL_NICE 10 /* workers run this much below the loop */

struct auth_job {
	struct auth_job *next;
	char *secret;		     /* wiped before it is freed */
	const char **hashes;	     /* the config's hashes: they live as long as the process */
	size_t nhashes;
	int matched;		     /* index of the hash that matched, AUTH_NO_MATCH, AUTH_CANCELLED */
	authpool_done_fn *done;
	void *arg;
};

/* A singly linked FIFO of jobs. */
struct auth_fifo {
	struct auth_job *head, *tail;
	size_t len;
};

static struct {
	pthread_t threads[AUTHPOOL_MAX_THREADS];
	int nthreads;
	size_t queue_max;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct auth_fifo queue; /* waiting for a worker */
	struct auth_fifo done;	/* checked, waiting for the loop */
	int running;		/* jobs a worker holds right now */
	unsigned long hashes_checked; /* crypt calls made, for tests and figures */
	int stopping;
	int pipe_fds[2];
	struct event *pipe_event;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .pipe_fds = {-1, -1}};

/* Appends a job to a FIFO. */
static void fifo_push(struct auth_fifo *f, struct auth_job *j)
{
	j->next = NULL;
	if (f->tail)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
	f->len++;
}

/* Takes the first job of a FIFO, or NULL. */
static struct auth_job *fifo_pop(struct auth_fifo *f)
{
	struct auth_job *j = f->head;
	if (!j)
		return NULL;
	f->head = j->next;
	if (!f->head)
		f->tail = NULL;
	f->len--;
	return j;
}

/* Frees a job, wiping its secret. */
static void job_free(struct auth_job *j)
{
	if (j->secret) {
		explicit_bzero(j->secret, strlen(j->secret));
		free(j->secret);
	}
	free(j->hashes);
	free(j);
}

/* Compares the secret with each hash in turn; every hash is tried even after a match, so the
 * time does not tell which one matched. */
static int job_check(const struct auth_job *j)
{
	int matched = AUTH_NO_MATCH;
	for (size_t i = 0; i < j->nhashes; i++)
		if (password_verify(j->secret, j->hashes[i]) && matched == AUTH_NO_MATCH)
			matched = (int)i;
	return matched;
}

/* A worker: takes jobs until the pool stops. */
static void *worker(void *arg)
{
	(void)arg;
	/* Below the loop's priority: on a busy machine the loop answers the hall first and the
	 * checks wait (Linux gives each thread its own nice value; failing changes nothing). */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), AUTHPOOL_NICE) < 0) {
		/* Not allowed here: the checks run at the loop's priority. */
	}
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (!pool.stopping && !pool.queue.head)
			pthread_cond_wait(&pool.wake, &pool.lock);
		if (pool.stopping)
			break;
		struct auth_job *j = fifo_pop(&pool.queue);
		pool.running++;
		pthread_mutex_unlock(&pool.lock);
		j->matched = job_check(j);
		pthread_mutex_lock(&pool.lock);
		pool.running--;
		pool.hashes_checked += j->nhashes;
		fifo_push(&pool.done, j);
		/* A full pipe already holds a wake-up the loop has not read: nothing is lost. */
		ssize_t n = write(pool.pipe_fds[1], "x", 1);
		(void)n;
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/* Runs on the loop when a worker finished jobs: hands each result to its callback. */
static void authpool_on_pipe(evutil_socket_t fd, short what, void *arg)
{
	(void)what, (void)arg;
	char buf[256];
	while (read(fd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&pool.lock);
	struct auth_fifo done = pool.done;
	pool.done = (struct auth_fifo){0};
	pthread_mutex_unlock(&pool.lock);
	struct auth_job *j;
	while ((j = fifo_pop(&done)) != NULL) {
		j->done(j->matched, j->arg);
		job_free(j);
	}
}

/* Starts nthreads workers and a queue of queue_max jobs; 0, or -1 after logging why. */
int authpool_start(int nthreads, size_t queue_max)
{
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > AUTHPOOL_MAX_THREADS)
		nthreads = AUTHPOOL_MAX_THREADS;
	pool.queue_max = queue_max;
	pool.stopping = 0;
	if (pipe2(pool.pipe_fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		log_error("cannot make the login pool's pipe: %s", strerror(errno));
		return -1;
	}
	pool.pipe_event = event_new(server.base, pool.pipe_fds[0], EV_READ | EV_PERSIST, authpool_on_pipe, NULL);
	if (!pool.pipe_event || event_add(pool.pipe_event, NULL) < 0) {
		log_error("cannot watch the login pool's pipe");
		authpool_stop();
		return -1;
	}
	for (int i = 0; i < nthreads; i++) {
		int rc = pthread_create(&pool.threads[i], NULL, worker, NULL);
		if (rc != 0) {
			log_error("cannot start a login worker: %s", strerror(rc));
			authpool_stop();
			return -1;
		}
		pool.nthreads++;
	}
	return 0;
}

/* Stops the workers (a check under way finishes first) and answers every job that did not
 * reach the loop with AUTH_CANCELLED; call after the connections are closed. */
void authpool_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.wake);
	pthread_mutex_unlock(&pool.lock);
	for (int i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	pool.nthreads = 0;
	struct auth_job *j;
	while ((j = fifo_pop(&pool.done)) != NULL || (j = fifo_pop(&pool.queue)) != NULL) {
		j->done(AUTH_CANCELLED, j->arg);
		job_free(j);
	}
	if (pool.pipe_event) {
		event_free(pool.pipe_event);
		pool.pipe_event = NULL;
	}
	for (int i = 0; i < 2; i++) {
		if (pool.pipe_fds[i] >= 0)
			close(pool.pipe_fds[i]);
		pool.pipe_fds[i] = -1;
	}
}

/* Queues a check of secret against each of nhashes hashes (the pointers must stay valid; the
 * secret is copied). done(matched, arg) runs later on the loop. Returns 0, or -1 without ever
 * calling done when the queue is full or memory ran out. */
int authpool_submit(const char *secret, const char *const *hashes, size_t nhashes, authpool_done_fn *done, void *arg)
{
	struct auth_job *j = calloc(1, sizeof *j);
	if (!j)
		return -1;
	j->secret = strdup(secret);
	j->hashes = calloc(nhashes ? nhashes : 1, sizeof *j->hashes);
	if (!j->secret || !j->hashes) {
		job_free(j);
		return -1;
	}
	memcpy(j->hashes, hashes, nhashes * sizeof *hashes);
	j->nhashes = nhashes;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&pool.lock);
	int full = pool.stopping || pool.nthreads == 0 || pool.queue.len >= pool.queue_max;
	if (!full) {
		fifo_push(&pool.queue, j);
		pthread_cond_signal(&pool.wake);
	}
	pthread_mutex_unlock(&pool.lock);
	if (full) {
		job_free(j);
		return -1;
	}
	return 0;
}

/* How many hashes the workers have checked so far (each one crypt call). */
unsigned long authpool_hashes_checked(void)
{
	pthread_mutex_lock(&pool.lock);
	unsigned long n = pool.hashes_checked;
	pthread_mutex_unlock(&pool.lock);
	return n;
}
