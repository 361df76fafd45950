/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_CLI_COMMANDS_H
#define KC_CLI_COMMANDS_H

/*
 * The verbs of kata-runtime.  Each takes the arguments after its own name
 * (argv[0] is the verb) and the configuration path given with --config
 * (NULL: the usual lookup order).  Returns the process exit status:
 * 0 success, 1 failure, 2 usage error.
 */
int kc_cmd_check(int argc, char **argv, const char *config_path);
int kc_cmd_env(int argc, char **argv, const char *config_path);
int kc_cmd_version(int argc, char **argv, const char *config_path);

#endif
