/* The manager's view of counter-client (--manager, --export), built in manager.c (issue 6). */
#ifndef QHALL_COUNTER_MANAGER_H
#define QHALL_COUNTER_MANAGER_H

/* Runs the manager view or export with the whole command line; returns the exit status. */
int manager_main(int argc, char **argv);

#endif
