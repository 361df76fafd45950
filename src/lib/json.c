/* SPDX-License-Identifier: Apache-2.0 */
#include "json.h"
#include "util.h"

#include <errno.h>

/* Documents we read (OCI specs, state files) are small; refuse monsters. */
#define KC_JSON_MAX_FILE (16u << 20)

int kc_json_parse(const char *buf, size_t len, const char *what, json_t **out, kc_error_t *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (j == NULL)
		return kc_error_set(err, 0, "%s:%d:%d: invalid JSON: %s", what, jerr.line,
				    jerr.column, jerr.text);
	*out = j;
	return 0;
}

int kc_json_load_file(const char *path, json_t **out, kc_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int ret = kc_read_file(path, KC_JSON_MAX_FILE, &buf, &len, err);

	if (ret < 0)
		return ret;
	return kc_json_parse(buf, len, path, out, err);
}

char *kc_json_dump(const json_t *j, int compact)
{
	size_t flags = JSON_SORT_KEYS | (compact ? JSON_COMPACT : JSON_INDENT(2));
	char *s = json_dumps(j, flags);

	if (s == NULL)
		return kc_xstrdup("null");
	return s;
}
