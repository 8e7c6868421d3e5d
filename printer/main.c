/* printer: the ticket kiosk of a service hall, and its ESC/POS ticket printer. Reads the
 * options, finds the kiosk token (never from the command line unless forced), then runs the
 * kiosk screen or the non-interactive mode. */
#include "printer.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Prints the usage text. */
static void usage(FILE *out)
{
	char codepages[256];
	escpos_codepage_list(codepages, sizeof codepages);
	fprintf(out,
		"usage: printer [--server HOST:PORT] [--token-file FILE] --out DEST [options]\n"
		"       printer ... --out DEST --take SERVICE [--class normal|priority]\n"
		"       printer ... --out DEST --reprint TICKET\n"
		"\n"
		"Without --take or --reprint, runs the kiosk screen: choose a service with the arrow or\n"
		"number keys, Enter for a ticket, P for a priority ticket (绿色通道), R to reprint the last.\n"
		"With --take, takes one ticket, prints it and exits 0, or exits non-zero saying why.\n"
		"\n"
		"DEST: a printer device (/dev/usb/lp0), tcp:HOST[:PORT] (raw port, 9100 by default),\n"
		"      file:PATH (the file holds the last ticket), or - (a text preview on stdout).\n"
		"\n"
		"options:\n"
		"  --server HOST:PORT    qserver (default $QHALL_SERVER or 127.0.0.1:7420)\n"
		"                        several, as A,B: the next is used when one fails\n"
		"  --token-file FILE     the kiosk token, first line of FILE (else $QHALL_TOKEN)\n"
		"  --token TOKEN         discouraged: other users can read it in the process list\n"
		"  --kiosk-id ID         this kiosk's id in the hall config (faster hello)\n"
		"  --site ID             the kiosk's site, when qserver serves a region (default $QHALL_SITE)\n"
		"  --codepage NAME       printer encoding: %s (default gb18030)\n"
		"  --width COLUMNS       characters per line at normal size: 48 (80 mm, default) or 32 (58 mm)\n"
		"  --print-timeout MS    for connecting to and writing to the printer (default %d)\n"
		"  --take SERVICE        non-interactive: take one ticket for SERVICE and print it\n"
		"  --class CLASS         with --take: normal (default) or priority\n"
		"  --reprint TICKET      non-interactive: print a ticket again (id or today's number)\n"
		"  --reprint-window S    the kiosk's R reprints the last ticket only S seconds after it\n"
		"                        printed (default %d; 0: never)\n"
		"  --log-level LEVEL     debug, info, warn (default) or error\n"
		"  --log-file FILE       the kiosk's log (the screen hides stderr; default: none)\n"
		"  --help, --version\n"
		"\n"
		"exit codes (non-interactive): 0 printed; 1 refused by or cannot reach qserver;\n"
		"2 usage; 3 the printer failed and no ticket is left waiting (none taken, or cancelled);\n"
		"4 the printer failed and the ticket could not be cancelled.\n",
		codepages, OUTPUT_DEFAULT_TIMEOUT_MS, KIOSK_DEFAULT_REPRINT_SECONDS);
}

/* Reads the first line of a token file, warning when others may read it. */
static int read_token_file(const char *path, char *token, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "printer: cannot read the token file %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
		log_warn("the token file %s can be read by other users; chmod 600 it", path);
	if (!fgets(token, (int)len, f))
		token[0] = '\0';
	fclose(f);
	size_t n = strlen(token);
	while (n > 0 && isspace((unsigned char)token[n - 1]))
		token[--n] = '\0';
	if (!n) {
		fprintf(stderr, "printer: the token file %s is empty\n", path);
		return -1;
	}
	return 0;
}

/* Parses a positive integer option within [min, max]; -1 when it is not one. */
static long parse_number(const char *text, long min, long max)
{
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	return (!*text || *end || errno || n < min || n > max) ? -1 : n;
}

/* Reads the options and the token, then runs the kiosk or the non-interactive mode. */
int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"token-file", required_argument, NULL, 'f'},
		{"token", required_argument, NULL, 'T'},
		{"kiosk-id", required_argument, NULL, 'k'},
		{"site", required_argument, NULL, 'S'},
		{"out", required_argument, NULL, 'o'},
		{"codepage", required_argument, NULL, 'c'},
		{"encoding", required_argument, NULL, 'c'},
		{"width", required_argument, NULL, 'w'},
		{"print-timeout", required_argument, NULL, 'p'},
		{"take", required_argument, NULL, 't'},
		{"class", required_argument, NULL, 'C'},
		{"reprint", required_argument, NULL, 'r'},
		{"reprint-window", required_argument, NULL, 'R'},
		{"log-level", required_argument, NULL, 'l'},
		{"log-file", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct printer_options opt = {
		.server = getenv("QHALL_SERVER"),
		.site = getenv("QHALL_SITE"),
		.codepage = escpos_codepage_default(),
		.columns = 48,
		.print_timeout_ms = OUTPUT_DEFAULT_TIMEOUT_MS,
		.reprint_seconds = KIOSK_DEFAULT_REPRINT_SECONDS,
	};
	const char *token_file = NULL, *token_arg = NULL;
	log_set_name("printer");
	log_set_level(LOG_WARN);
	int ch;
	long n;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': opt.server = optarg; break;
		case 'f': token_file = optarg; break;
		case 'T': token_arg = optarg; break;
		case 'k': opt.kiosk_id = optarg; break;
		case 'S': opt.site = optarg; break;
		case 'o': opt.dest = optarg; break;
		case 'c':
			if (!(opt.codepage = escpos_codepage_find(optarg))) {
				char names[256];
				escpos_codepage_list(names, sizeof names);
				fprintf(stderr, "printer: unknown code page %s; known: %s\n", optarg, names);
				return ONESHOT_USAGE;
			}
			break;
		case 'w':
			if ((n = parse_number(optarg, 16, 64)) < 0) {
				fprintf(stderr, "printer: --width must be 16 to 64 characters\n");
				return ONESHOT_USAGE;
			}
			opt.columns = (int)n;
			break;
		case 'p':
			if ((n = parse_number(optarg, 100, 120000)) < 0) {
				fprintf(stderr, "printer: --print-timeout must be 100 to 120000 ms\n");
				return ONESHOT_USAGE;
			}
			opt.print_timeout_ms = (int)n;
			break;
		case 't': opt.take_service = optarg; break;
		case 'C': opt.take_class = optarg; break;
		case 'r': opt.reprint = optarg; break;
		case 'R':
			if ((n = parse_number(optarg, 0, 3600)) < 0) {
				fprintf(stderr, "printer: --reprint-window must be 0 to 3600 seconds\n");
				return ONESHOT_USAGE;
			}
			opt.reprint_seconds = (int)n;
			break;
		case 'l':
			if (log_level_parse(optarg) < 0) {
				fprintf(stderr, "printer: --log-level is debug, info, warn or error\n");
				return ONESHOT_USAGE;
			}
			log_set_level((enum log_level)log_level_parse(optarg));
			break;
		case 'L': opt.log_file = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("printer %s (protocol 2)\n", PRINTER_VERSION); return 0;
		default: usage(stderr); return ONESHOT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "printer: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return ONESHOT_USAGE;
	}
	if (!opt.dest) {
		fprintf(stderr, "printer: name where tickets go with --out DEST\n");
		usage(stderr);
		return ONESHOT_USAGE;
	}
	if (opt.take_service && opt.reprint) {
		fprintf(stderr, "printer: --take and --reprint do not go together\n");
		return ONESHOT_USAGE;
	}
	if (opt.take_class && (!opt.take_service || (strcmp(opt.take_class, "normal") != 0 &&
						     strcmp(opt.take_class, "priority") != 0))) {
		fprintf(stderr, "printer: --class is normal or priority, with --take\n");
		return ONESHOT_USAGE;
	}

	/* The token: a file or the environment keep it out of `ps`; --token is a last resort.
	 * QHALL_TOKEN is the name qcli reads too; QHALL_KIOSK_TOKEN, the printer's old name, still
	 * works for now, with a note. */
	const char *env_token = getenv("QHALL_TOKEN");
	if (!token_file && !(env_token && *env_token) && (env_token = getenv("QHALL_KIOSK_TOKEN")) && *env_token)
		fprintf(stderr, "printer: QHALL_KIOSK_TOKEN is deprecated; set QHALL_TOKEN instead "
				"(the same name qcli reads)\n");
	if (token_file) {
		if (read_token_file(token_file, opt.token, sizeof opt.token) < 0)
			return ONESHOT_USAGE;
	} else if (env_token && *env_token) {
		snprintf(opt.token, sizeof opt.token, "%s", env_token);
	} else if (token_arg) {
		log_warn("--token shows the kiosk token to every user of this machine; use --token-file");
		snprintf(opt.token, sizeof opt.token, "%s", token_arg);
	} else {
		fprintf(stderr, "printer: no kiosk token: give --token-file FILE or set QHALL_TOKEN\n");
		return ONESHOT_USAGE;
	}
	if (token_arg) /* hide it from later readers of /proc/PID/cmdline, as far as we can */
		memset((char *)token_arg, 'x', strlen(token_arg));

	signal(SIGPIPE, SIG_IGN);
	int rc = (opt.take_service || opt.reprint) ? oneshot_run(&opt) : kiosk_run(&opt);
	memset(opt.token, 0, sizeof opt.token);
	return rc;
}
