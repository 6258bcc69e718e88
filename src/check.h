/* `stride-webhooks check` (DESIGN section 4): reads the configuration the
 * unit would give the daemon and says, one line per finding, what is
 * wrong and what to do about it. */
#pragma once

#include <stdio.h>

/* The unit's EnvironmentFile=. */
#define CHECK_CONFIG_FILE "/etc/stride-webhooks/stride-webhooks.conf"

/* Sets the variables of path, read as systemd reads an EnvironmentFile=
 * (KEY=VALUE lines, # and ; comments, single or double quotes), in the
 * environment; a variable already set wins, so that an operator can try
 * a value on the command line. Lines systemd would ignore are reported
 * on out. Returns 0, or a negative errno when path cannot be read. */
int check_load_environment_file(const char *path, FILE *out);

/* Counts the regular files in dir that are not hidden: what the spool
 * holds. 0 when dir does not exist; a negative errno when it cannot be
 * read. */
long check_count_files(const char *dir);

/* Runs every check and prints to out one line per finding, each starting
 * with "ok", "warning" or "error", then a summary line. config_file NULL
 * means CHECK_CONFIG_FILE, which may be missing; a file named explicitly
 * must exist. Returns the exit status: 0 only when the daemon would
 * serve, 1 otherwise. */
int check_run(const char *config_file, FILE *out);
