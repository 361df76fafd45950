/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod's DNS settings for CreateSandboxRequest.dns, as Kata's runtime
 * takes them (getDNS): the lines of the file the spec mounts on
 * /etc/resolv.conf (containerd's CRI plugin writes one per pod).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "lib/util.h"

#define DNS_FILE "/etc/resolv.conf"
#define DNS_MAX_BYTES 65536
#define DNS_MAX_LINES 256

int kc_podnet_dns_from_spec(const json_t *spec, char ***lines, kc_error_t *err)
{
	const json_t *mounts = json_object_get(spec, "mounts");
	const char *source = NULL;
	cleanup_free char *buf = NULL;
	char **v = NULL, *save = NULL;
	struct stat st;
	size_t n = 0, i;
	const json_t *m;
	int ret;

	*lines = NULL;
	if (mounts && !json_is_array(mounts))
		return kc_error_set(err, EINVAL, "oci spec: mounts is not an array");
	json_array_foreach(mounts, i, m)
	{
		const json_t *d = json_object_get(m, "destination");

		if (json_is_string(d) && strcmp(json_string_value(d), DNS_FILE) == 0) {
			const json_t *s = json_object_get(m, "source");

			if (!json_is_string(s) || json_string_value(s)[0] != '/')
				return kc_error_set(err, EINVAL,
						    "oci spec: mounts[%zu] (on " DNS_FILE
						    "): source is not an absolute path",
						    i);
			source = json_string_value(s);
		}
	}
	if (!source)
		return 0;
	/* A FIFO or a device there would block or feed us forever. */
	if (stat(source, &st) < 0)
		return kc_error_set(err, errno, "stat `%s` (the pod's " DNS_FILE ")", source);
	if (!S_ISREG(st.st_mode))
		return kc_error_set(err, EINVAL, "`%s` (the pod's " DNS_FILE ") is not a file",
				    source);
	ret = kc_read_file(source, DNS_MAX_BYTES, &buf, NULL, err);
	if (ret < 0)
		return ret;
	v = kc_xzalloc(sizeof(*v));
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(l);

		while (len && (l[len - 1] == '\r' || l[len - 1] == ' ' || l[len - 1] == '\t'))
			l[--len] = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		/* Comments and blank lines mean nothing to the guest. */
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (n == DNS_MAX_LINES) {
			kc_free_strv(v);
			return kc_error_set(err, E2BIG, "`%s` has more than %d lines", source,
					    DNS_MAX_LINES);
		}
		v = kc_xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = kc_xstrdup(l);
		v[n] = NULL;
	}
	*lines = v;
	return 0;
}
