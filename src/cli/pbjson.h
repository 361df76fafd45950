/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_CLI_PBJSON_H
#define KC_CLI_PBJSON_H

/*
 * Any protobuf-c message to and from JSON, driven by its descriptor, for
 * kata-agent-ctl.  The mapping is protobuf's JSON mapping, simplified:
 *
 *   fields       by their .proto names ("container_id"); unknown names are
 *                errors that list the known ones
 *   integers     JSON numbers, or decimal strings (64-bit values past
 *                2^53); out-of-range values are errors
 *   enums        the value's name ("V6") or its number
 *   bytes        a JSON string taken as its UTF-8 bytes, or "base64:..."
 *   repeated     arrays; map fields are objects
 *   messages     objects; null leaves a field unset
 *
 * Output omits fields at their default value, writes bytes as a string
 * when they are printable UTF-8 text and as "base64:..." otherwise.
 */

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "lib/error.h"

/* *out: free with protobuf_c_message_free_unpacked(*out, NULL).  Errors
 * name the field's path ("interface.ip_addresses[0].family"). */
int kc_pbjson_to_msg(const ProtobufCMessageDescriptor *desc, json_t *j, ProtobufCMessage **out,
		     kc_error_t *err);
json_t *kc_pbjson_from_msg(const ProtobufCMessage *m);

#endif
