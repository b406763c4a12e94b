/* json.h: any whistle message as JSON (jansson), walking the protobuf-c descriptors, so every
 * message prints the same way: proto field names, enums by name, 64-bit integers as numbers,
 * only the set member of a oneof. For whistlectl --json and webhooks. */
#ifndef WHISTLE_JSON_H
#define WHISTLE_JSON_H
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* A new JSON object for `msg` (caller json_decref's); NULL on out of memory. */
json_t *wh_message_to_json(const ProtobufCMessage *msg);

#endif
