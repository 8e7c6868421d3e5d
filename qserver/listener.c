/* Accepts TCP (and optionally Unix socket) connections up to the connection bound. */
#include "qserver.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct evconnlistener *tcp_listener;
static struct evconnlistener *unix_listener;

/* Takes one accepted socket, or refuses it when the server is full. */
static void listener_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l, (void)salen, (void)arg;
	char peer[64] = "unix";
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(peer, sizeof peer, "%s:%d", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		char ip[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(peer, sizeof peer, "[%s]:%d", ip, ntohs(in6->sin6_port));
	}
	char addr[CONN_ADDR_MAX];
	conn_peer_addr(peer, addr, sizeof addr);
	enum admission admit = admission_check(fd, addr, peer);
	if (admit == ADMIT_REFUSE_FULL || admit == ADMIT_REFUSE_ADDR) {
		/* admission_check told the client why in one line; now the door closes. */
		evutil_closesocket(fd);
		return;
	}
	if (sa->sa_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	struct conn *c = conn_create(fd, peer);
	if (c && admit == ADMIT_PROBATION)
		conn_hold_reserved(c);
}

/* Logs an accept error (out of descriptors, say) and keeps listening. */
static void listener_error(struct evconnlistener *l, void *arg)
{
	(void)l, (void)arg;
	log_warn("accept failed: %s", strerror(errno));
}

/* Parses HOST:PORT (IPv4, [IPv6] or localhost) into a socket address. */
static int listener_parse(const char *addr, struct sockaddr_storage *ss, int *sslen)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host)
		return -1;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	memset(ss, 0, sizeof *ss);
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = '\0';
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -1;
		*sslen = sizeof *in6;
		return 0;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return -1;
	*sslen = sizeof *in;
	return 0;
}

/* Starts listening on --listen and, if given, --unix; returns -1 with a logged reason. */
int listener_start(void)
{
	struct sockaddr_storage ss;
	int sslen;
	if (listener_parse(server.opt.listen, &ss, &sslen) < 0) {
		log_error("--listen %s: expected HOST:PORT with an IP address, e.g. 127.0.0.1:7420", server.opt.listen);
		return -1;
	}
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
	tcp_listener = evconnlistener_new_bind(server.base, listener_accept, NULL, flags, 512, (struct sockaddr *)&ss, sslen);
	if (!tcp_listener) {
		log_error("cannot listen on %s: %s", server.opt.listen, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(tcp_listener, listener_error);
	if (server.opt.unix_path) {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		if (strlen(server.opt.unix_path) >= sizeof un.sun_path) {
			log_error("--unix %s: the path is too long", server.opt.unix_path);
			return -1;
		}
		strcpy(un.sun_path, server.opt.unix_path);
		unlink(un.sun_path);
		unix_listener = evconnlistener_new_bind(server.base, listener_accept, NULL, flags, 512, (struct sockaddr *)&un, sizeof un);
		if (!unix_listener) {
			log_error("cannot listen on %s: %s", server.opt.unix_path, strerror(errno));
			return -1;
		}
		evconnlistener_set_error_cb(unix_listener, listener_error);
	}
	log_info("listening on %s%s%s", server.opt.listen, server.opt.unix_path ? " and " : "",
		 server.opt.unix_path ? server.opt.unix_path : "");
	return 0;
}

/* Stops accepting connections; the open ones stay until they are closed. */
void listener_stop(void)
{
	if (tcp_listener)
		evconnlistener_free(tcp_listener);
	tcp_listener = NULL;
	if (unix_listener) {
		evconnlistener_free(unix_listener);
		if (server.opt.unix_path)
			unlink(server.opt.unix_path);
	}
	unix_listener = NULL;
}
