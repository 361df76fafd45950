/* SPDX-License-Identifier: Apache-2.0 */
#include "path.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

char *kc_path_clean(const char *path)
{
	size_t n = strlen(path);
	bool absolute = path[0] == '/';
	/* Components kept so far, as (offset, length) into path. */
	cleanup_free size_t *off = kc_xmalloc((n / 2 + 1) * sizeof(*off));
	cleanup_free size_t *lens = kc_xmalloc((n / 2 + 1) * sizeof(*lens));
	size_t count = 0, leading_dotdot = 0, len = 0;
	char *out = kc_xmalloc(n + 2);

	for (size_t i = 0; i < n;) {
		size_t start, clen;

		while (i < n && path[i] == '/')
			i++;
		start = i;
		while (i < n && path[i] != '/')
			i++;
		clen = i - start;
		if (clen == 0 || (clen == 1 && path[start] == '.'))
			continue;
		if (clen == 2 && path[start] == '.' && path[start + 1] == '.') {
			if (count > leading_dotdot) {
				count--;
				continue;
			}
			/* "/.." is "/"; a relative path keeps climbing. */
			if (absolute)
				continue;
			leading_dotdot++;
		}
		off[count] = start;
		lens[count] = clen;
		count++;
	}
	if (absolute)
		out[len++] = '/';
	for (size_t c = 0; c < count; c++) {
		if (c > 0)
			out[len++] = '/';
		memcpy(out + len, path + off[c], lens[c]);
		len += lens[c];
	}
	if (len == 0)
		out[len++] = '.';
	out[len] = '\0';
	return out;
}

int kc_path_join_in_root(const char *root, const char *path, char **out, kc_error_t *err)
{
	cleanup_free char *clean_root = NULL;
	cleanup_free char *rel = NULL;
	const char *p = path;

	if (root == NULL || root[0] != '/')
		return kc_error_set(err, 0, "join `%s` under `%s`: root is not an absolute path",
				    path, root ? root : "(null)");
	while (*p == '/')
		p++;
	rel = kc_path_clean(p);
	if (strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0)
		return kc_error_set(err, 0, "path `%s` escapes its root `%s`", path, root);
	clean_root = kc_path_clean(root);
	if (strcmp(rel, ".") == 0)
		*out = kc_steal_ptr(&clean_root);
	else if (strcmp(clean_root, "/") == 0)
		*out = kc_xasprintf("/%s", rel);
	else
		*out = kc_xasprintf("%s/%s", clean_root, rel);
	return 0;
}

int kc_open_in_root(int root_fd, const char *path, int flags, mode_t mode, kc_error_t *err)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s` inside its root", path);
	return (int)fd;
}

bool kc_kubelet_version_name_valid(const char *name)
{
	/* ..2006_01_02_15_04_05.N: Go's time format, then os.MkdirTemp's
	 * random decimal. */
	static const char form[] = "..dddd_dd_dd_dd_dd_dd.";
	size_t i, digits = 0;

	for (i = 0; form[i]; i++) {
		char c = name[i];

		if (form[i] == 'd' ? (c < '0' || c > '9') : c != form[i])
			return false;
	}
	for (; name[i]; i++, digits++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return digits >= 1 && digits <= 20;
}
