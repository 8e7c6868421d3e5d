/* reload.c: SIGHUP reloads the hall configs without dropping connections. */
#ifndef RELOAD_H
#define RELOAD_H

void reload_start(const char *path);

#endif
