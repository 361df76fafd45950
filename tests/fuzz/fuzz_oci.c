/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the OCI spec parser: the same bytes are parsed as
 * a whole config.json, as an ExecProcess process object and as an
 * UpdateContainer resources object.  Any crash, leak or sanitizer report
 * is a bug; errors are expected and must carry a message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "oci/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_oci_spec *s = NULL;
	struct kc_oci_process *p = NULL;
	struct kc_oci_resources r;
	kc_error_t err = NULL;

	if (kc_oci_spec_parse((const char *)data, size, &s, &err) == 0)
		kc_oci_spec_free(s);
	else if (!err || !err->msg)
		abort();
	kc_error_free(&err);
	if (kc_oci_process_parse((const char *)data, size, &p, &err) == 0)
		kc_oci_process_free(p);
	else if (!err || !err->msg)
		abort();
	kc_error_free(&err);
	if (kc_oci_resources_parse((const char *)data, size, &r, &err) == 0)
		kc_oci_resources_clear(&r);
	else if (!err || !err->msg)
		abort();
	kc_error_free(&err);
	return 0;
}
