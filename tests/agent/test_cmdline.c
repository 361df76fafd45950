// SPDX-License-Identifier: Apache-2.0
/* The agent's kernel command line parser (the rest of init needs a VM). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "agent/init.h"

static void test_defaults(void **state)
{
	struct kc_agent_cmdline c;

	(void)state;
	assert_int_equal(kc_agent_cmdline_parse("console=hvc0 quiet root=/dev/vda1", &c, NULL), 0);
	assert_false(c.log_level_set);
	assert_false(c.debug_console);
	assert_null(c.listen);
	assert_int_equal(kc_agent_cmdline_parse("", &c, NULL), 0);
	assert_null(c.listen);
}

static void test_agent_keys(void **state)
{
	struct kc_agent_cmdline c;

	(void)state;
	assert_int_equal(kc_agent_cmdline_parse("  console=hvc0 agent.log=debug\tagent.debug_console "
						"agent.listen=unix:///run/a.sock systemd.x=1\n",
						&c, NULL),
			 0);
	assert_true(c.log_level_set);
	assert_int_equal(c.log_level, KC_LOG_DEBUG);
	assert_true(c.debug_console);
	assert_string_equal(c.listen, "unix:///run/a.sock");
	kc_agent_cmdline_free(&c);
}

static void test_quotes_and_last_wins(void **state)
{
	struct kc_agent_cmdline c;

	(void)state;
	assert_int_equal(kc_agent_cmdline_parse("agent.listen=vsock://-1:1024 "
						"agent.listen=\"unix:///a b\" agent.log=warn",
						&c, NULL),
			 0);
	assert_string_equal(c.listen, "unix:///a b");
	assert_int_equal(c.log_level, KC_LOG_WARNING);
	kc_agent_cmdline_free(&c);
	/* Not an agent key, though it starts alike. */
	assert_int_equal(kc_agent_cmdline_parse("agent.logfile=x agent.debug_console=0", &c, NULL),
			 0);
	assert_false(c.log_level_set);
	assert_false(c.debug_console);
}

static void test_errors(void **state)
{
	struct kc_agent_cmdline c;
	kc_error_t err = NULL;

	(void)state;
	assert_true(kc_agent_cmdline_parse("agent.log=loud", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "agent.log"));
	assert_non_null(strstr(err->msg, "loud"));
	kc_error_free(&err);
	assert_true(kc_agent_cmdline_parse("agent.listen=", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "agent.listen"));
	kc_error_free(&err);
	assert_true(kc_agent_cmdline_parse("agent.listen=\"unix:///x", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "quote"));
	kc_error_free(&err);
	assert_true(kc_agent_cmdline_parse("agent.log", &c, &err) < 0);
	kc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_agent_keys),
		cmocka_unit_test(test_quotes_and_last_wins),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
