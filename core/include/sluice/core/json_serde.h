// JSON serde: json<nlohmann::json>() for documents, json<T>() for any T with nlohmann
// to_json/from_json (found by ADL or an adl_serializer specialization), and a fast path for
// types that opt in with read_json (simdjson On-Demand, see json_reader.h) and write_json
// (JsonWriter, see json_writer.h), both found by ADL.
#pragma once

#include <concepts>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "sluice/core/json_writer.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/status_macros.h"

namespace sluice {

class JsonObject;  // json_reader.h

// T is read with `absl::Status read_json(JsonObject&, T&)` (simdjson On-Demand, no tree).
template <typename T>
concept JsonReadable = requires(JsonObject& json, T& out) {
  { read_json(json, out) } -> std::same_as<absl::Status>;
};
// T is written with `void write_json(JsonWriter&, const T&)` (no tree).
template <typename T>
concept JsonWritable = requires(JsonWriter& writer, const T& value) {
  write_json(writer, value);
};

namespace serdes {
namespace json_internal {

// Parses `data` into a document: simdjson builds the tree when the text is valid; otherwise
// nlohmann parses it, so errors (and nlohmann's acceptance of integers beyond 64 bits) are
// exactly nlohmann's. Returns "malformed JSON at byte N: ..." on errors.
absl::Status parse_document(std::string_view data, nlohmann::json& out);

// Runs `read(out, object)` on the root object of `data` with simdjson On-Demand (a
// thread-local parser and padded copy of the bytes), then checks the rest of the document is
// well formed. simdjson errors and exceptions from `read` become InvalidArgument statuses.
// (A plain function pointer: JsonObject is incomplete here, so no std::function/FunctionRef.)
using ReadObjectFn = absl::Status (*)(void* out, JsonObject& object);
absl::Status read_object(std::string_view data, ReadObjectFn read, void* out);

}  // namespace json_internal

// JsonSerde<T>: compact JSON text (no whitespace), UTF-8.
//
// Operation: serialize writes with write_json when T has one, else converts T to
// nlohmann::json (unless it already is one) and dumps it straight into the caller's buffer.
// deserialize reads with read_json when T has one (simdjson On-Demand straight into `out`),
// else parses a document (simdjson, see json_internal::parse_document) and, for T other than
// nlohmann::json, converts with from_json into `out`.
// Concurrency: stateless; any number of threads may call it at once (the simdjson parsers are
// thread-local).
// Limitations: the nlohmann path allocates per record (the document tree), unlike the
// fixed-size serdes; the read_json/write_json path does not. Strings with invalid UTF-8 are
// written with U+FFFD in place of the bad bytes rather than failing, since serialize() cannot
// report errors. A user's to_json/write_json that throws propagates to the caller (the task's
// processor boundary); nothing escapes deserialize().
template <typename T>
class JsonSerde final : public Serde<T> {
 public:
  void serialize(std::string_view /*topic*/, const T& value, std::string& out) const override {
    out.clear();
    if constexpr (JsonWritable<T>) {
      JsonWriter writer(out);
      write_json(writer, value);
    } else if constexpr (std::is_same_v<T, nlohmann::json>) {
      dump(value, out);
    } else {
      const nlohmann::json doc = value;
      dump(doc, out);
    }
  }

  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           T& out) const override {
    if constexpr (JsonReadable<T>) {
      return json_internal::read_object(
          data,
          [](void* target, JsonObject& json) { return read_json(json, *static_cast<T*>(target)); },
          &out);
    } else if constexpr (std::is_same_v<T, nlohmann::json>) {
      return json_internal::parse_document(data, out);
    } else {
      nlohmann::json doc;
      SLUICE_RETURN_IF_ERROR(json_internal::parse_document(data, doc));
      return convert(doc, out);
    }
  }

 private:
  static absl::Status convert(const nlohmann::json& doc, T& out) {
    try {
      doc.get_to(out);
      return absl::OkStatus();
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(
          fmt::format("JSON does not convert to the expected type: {}", e.what()));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(fmt::format("JSON conversion failed: {}", e.what()));
    } catch (...) {
      return absl::InvalidArgumentError("JSON conversion failed with a non-standard exception");
    }
  }

  static void dump(const nlohmann::json& doc, std::string& out) {
    // nlohmann's own dump() returns a fresh string; its serializer writing through a string
    // output adapter appends to ours instead, so the buffer's capacity is reused.
    nlohmann::detail::serializer<nlohmann::json> writer(
        nlohmann::detail::output_adapter<char, std::string>(out), ' ',
        nlohmann::json::error_handler_t::replace);
    writer.dump(doc, /*pretty_print=*/false, /*ensure_ascii=*/false, /*indent_step=*/0);
  }
};

// A JSON serde for T (nlohmann::json itself by default).
template <typename T = nlohmann::json>
SerdePtr<T> json() {
  return std::make_shared<const JsonSerde<T>>();
}

}  // namespace serdes

template <>
struct DefaultSerde<nlohmann::json> {
  static SerdePtr<nlohmann::json> make() { return serdes::json<nlohmann::json>(); }
};

}  // namespace sluice
