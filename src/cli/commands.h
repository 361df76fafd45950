/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_CLI_COMMANDS_H
#define KC_CLI_COMMANDS_H

#include "lib/error.h"

/*
 * The verbs of kata-runtime.  Each takes the arguments after its own name
 * (argv[0] is the verb) and the configuration path given with --config
 * (NULL: the usual lookup order).  Returns the process exit status:
 * 0 success, 1 failure, 2 usage error.
 */
/*
 * Loads the configuration for a verb (see kc_config_load()) and applies its
 * logging settings: [runtime] enable_debug turns on debug records unless
 * --log-level or --debug chose a level.
 */
struct kc_config;
struct kc_config_warnings;
int kc_cli_load_config(const char *config_path, struct kc_config *cfg,
		       struct kc_config_warnings *warnings, kc_error_t *err);

int kc_cmd_check(int argc, char **argv, const char *config_path);
int kc_cmd_env(int argc, char **argv, const char *config_path);
int kc_cmd_metrics(int argc, char **argv, const char *config_path);
int kc_cmd_version(int argc, char **argv, const char *config_path);

#endif
