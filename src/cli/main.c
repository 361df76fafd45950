/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "lib/config.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "kc-build-config.h"
#include "kc-version.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: kata-runtime [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
		     "\n"
		     "kata-c: containers in lightweight virtual machines.\n"
		     "\n"
		     "Commands:\n"
		     "  check, kata-check   tell whether this host can run kata-c containers\n"
		     "  env, kata-env       show the resolved configuration and host facts\n"
		     "  metrics SANDBOX_ID  print a running sandbox's metrics (Prometheus text)\n"
		     "  exec ID [COMMAND]   a shell (or COMMAND) in sandbox ID's VM, through its\n"
		     "                      debug console ([agent.kata] debug_console_enabled)\n"
		     "  version             show the version\n"
		     "\n"
		     "Global options:\n"
		     "  --config PATH, --kata-config PATH\n"
		     "                      configuration file (default: $KATA_CONF_FILE, then\n"
		     "                      " KC_ETC_DIR "/configuration.toml, then\n"
		     "                      " KC_DEFAULTS_DIR "/configuration.toml)\n"
		     "  --log-level LEVEL   error, warning, info (default) or debug\n"
		     "  --debug             same as --log-level debug\n"
		     "  --log PATH          append log records to PATH instead of stderr\n"
		     "  -h, --help          this text\n"
		     "  -v, --version       same as the version command\n");
}

int kc_cmd_version(int argc, char **argv, const char *config_path)
{
	(void)config_path;
	if (argc > 1) {
		fprintf(stderr, "kata-runtime version: unexpected argument `%s`\n", argv[1]);
		return 2;
	}
	printf("kata-runtime  : %s\n"
	       "   commit   : %s\n"
	       "   OCI specs: 1.1.0\n",
	       KC_VERSION, KC_COMMIT);
	return 0;
}

/* Whether the command line chose a log level, which then wins over the
 * configuration's enable_debug. */
static bool log_level_from_flag;

int kc_cli_load_config(const char *config_path, struct kc_config *cfg,
		       struct kc_config_warnings *warnings, kc_error_t *err)
{
	int ret = kc_config_load(config_path, cfg, warnings, err);

	if (ret == 0 && cfg->runtime.enable_debug && !log_level_from_flag)
		kc_log_set_level(KC_LOG_DEBUG);
	if (ret == 0)
		kc_debug("loaded configuration %s", cfg->path);
	return ret;
}

struct command {
	const char *name;
	const char *alias;
	int (*run)(int argc, char **argv, const char *config_path);
};

static const struct command commands[] = {
	{ "check", "kata-check", kc_cmd_check }, { "env", "kata-env", kc_cmd_env },
	{ "metrics", NULL, kc_cmd_metrics },	 { "exec", NULL, kc_cmd_exec },
	{ "version", NULL, kc_cmd_version },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "kata-config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'L' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	cleanup_error kc_error_t err = NULL;
	const char *config_path = NULL;
	char *prog = basename(argv[0]);
	int c;

	kc_log_init("kata-runtime", "runtime");

	/* Installed as kata-check too, as Kata's alias. */
	if (strcmp(prog, "kata-check") == 0)
		return kc_cmd_check(argc, argv, NULL);

	/* '+': stop at the command; its own options are its own business. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
		enum kc_log_level level;

		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			if (kc_log_parse_level(optarg, &level, &err) < 0) {
				kc_error_report("kata-runtime", &err);
				return 2;
			}
			kc_log_set_level(level);
			log_level_from_flag = true;
			break;
		case 'L':
			if (kc_log_open_file(optarg, &err) < 0) {
				kc_error_report("kata-runtime", &err);
				return 1;
			}
			break;
		case 'd':
			kc_log_set_level(KC_LOG_DEBUG);
			log_level_from_flag = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			return kc_cmd_version(1, argv, NULL);
		default:
			if (optopt)
				fprintf(stderr, "kata-runtime: unknown or incomplete option `-%c`\n",
					optopt);
			else
				fprintf(stderr, "kata-runtime: unknown or incomplete option `%s`\n",
					argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kata-runtime: no command given\n");
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(commands); i++) {
		const struct command *cmd = &commands[i];
		if (strcmp(argv[optind], cmd->name) == 0 ||
		    (cmd->alias && strcmp(argv[optind], cmd->alias) == 0)) {
			/* Each verb parses its own options from a fresh getopt state. */
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0;
			return cmd->run(sub_argc, sub_argv, config_path);
		}
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "kata-runtime: unknown command `%s`\n", argv[optind]);
	usage(stderr);
	return 2;
}
