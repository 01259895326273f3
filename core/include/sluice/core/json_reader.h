// The JSON serde's fast read path: a type with
//
//   absl::Status read_json(sluice::JsonObject& json, T& out);   // found by ADL
//
// is read by serdes::json<T>() straight from the record's bytes with simdjson's On-Demand API:
// no document tree, no copies of keys, numbers parsed in place, strings unescaped only when
// asked for (and as std::string_view into the parser's buffer, valid during read_json). Include
// this header only where read_json is defined: it brings simdjson.h, which is large. The
// declaration of read_json can live in a light header next to T, since JsonObject is only
// forward-declared in json_serde.h.
//
//   absl::Status read_json(sluice::JsonObject& json, Reading& r) {
//     for (auto field : json.object()) {
//       std::string_view key = field.unescaped_key();
//       if (key == "temperature") r.temperature = field.value().get_double();
//       ...
//     }
//     return absl::OkStatus();
//   }
//
// Errors: return a non-OK status naming what is wrong; simdjson errors thrown from inside
// read_json (simdjson's exception API) become "malformed JSON at byte N: <simdjson's message>".
// After read_json returns OK, the serde checks that the rest of the object and the document are
// well formed and that nothing follows the object.
#pragma once

#include <simdjson.h>

#include <string_view>

#include "absl/status/status.h"

namespace sluice {

// The root object of one record, as read_json sees it.
// Operation: forward-only, as On-Demand is: read fields in one pass (iterate, or look them up
// with find_field_unordered); a value read twice must be re-found.
// Concurrency: belongs to the deserialize() call that made it.
class JsonObject {
 public:
  explicit JsonObject(simdjson::ondemand::object& object) noexcept : object_(object) {}
  simdjson::ondemand::object& object() noexcept { return object_; }

 private:
  simdjson::ondemand::object& object_;
};

// An InvalidArgument status for a field: "JSON field '<name>': <what>".
absl::Status json_field_error(std::string_view name, std::string_view what);

}  // namespace sluice
