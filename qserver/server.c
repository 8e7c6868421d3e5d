/* The server's one global, apart from main.c so the unit tests can link every other file. */
#include "qserver.h"

struct server server;
