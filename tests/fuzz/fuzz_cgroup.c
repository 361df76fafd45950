/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what the agent takes from the host's spec for
 * cgroups: linux.cgroupsPath and linux.resources.  The input is JSON; when
 * it parses, its "cgroupsPath" (if a string) goes through
 * kc_cgroup_path_from_spec() and its "resources" through
 * kc_cgroup_resources_parse(), then the writes are applied to an empty
 * directory (each one a missing-controller error, or skipped).  Besides the
 * sanitizers' findings it checks the promises: an accepted path is
 * relative, non-empty and has no "." or ".." component; every error has a
 * message and the status its kind promises (EINVAL for bad input, EBUSY for
 * a missing file).  Built and run by tests/fuzz/run-fuzz.sh.
 */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cgroup/cgroup.h"
#include "lib/json.h"

static struct kc_cgroup empty = { .rel = (char *)"fuzz", .dirfd = -1 };

static void check_path(const char *p)
{
	kc_error_t err = NULL;
	char *rel = NULL;

	if (kc_cgroup_path_from_spec(p, "fuzz-id", &rel, &err) < 0) {
		assert(err && err->msg[0] && err->status == EINVAL && !rel);
		kc_error_free(&err);
		return;
	}
	assert(rel && rel[0] && rel[0] != '/');
	for (char *c = rel; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t n = strcspn(c, "/");

		assert(n > 0);
		assert(!(n == 1 && c[0] == '.'));
		assert(!(n == 2 && c[0] == '.' && c[1] == '.'));
	}
	free(rel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct kc_cgroup_resources *r = NULL;
	kc_error_t err = NULL;
	json_t *j = NULL;
	const json_t *p;

	if (empty.dirfd < 0) {
		char dir[] = "/tmp/kc-fuzz-cgroup-XXXXXX";

		assert(mkdtemp(dir));
		empty.path = strdup(dir);
		empty.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert(empty.dirfd >= 0);
		/* Empty from now on: nothing can be created through it. */
		rmdir(dir);
	}
	if (kc_json_parse((const char *)data, len, "fuzz", &j, &err) < 0) {
		kc_error_free(&err);
		return 0;
	}
	p = json_object_get(j, "cgroupsPath");
	if (json_is_string(p))
		check_path(json_string_value(p));
	if (kc_cgroup_resources_parse(json_object_get(j, "resources"), "linux.resources", &r,
				      &err) < 0) {
		assert(err && err->msg[0] && err->status == EINVAL && !r);
		kc_error_free(&err);
	} else {
		int ret = kc_cgroup_resources_apply(&empty, r, &err);

		assert(ret == 0 || (err && err->msg[0]));
		assert(ret == 0 || kc_cgroup_resources_empty(r) == false);
		kc_error_free(&err);
		kc_cgroup_resources_free(r);
	}
	json_decref(j);
	return 0;
}
