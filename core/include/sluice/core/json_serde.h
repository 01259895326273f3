// JSON serde over nlohmann::json: json<nlohmann::json>() for documents, json<T>() for any T
// with nlohmann to_json/from_json (found by ADL or an adl_serializer specialization).
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"

namespace sluice {
namespace serdes {

// JsonSerde<T>: compact JSON text (no whitespace), UTF-8.
//
// Operation: serialize converts T to nlohmann::json (unless it already is one) and dumps it
// straight into the caller's buffer; deserialize parses and, for T other than nlohmann::json,
// converts with from_json into `out`.
// Concurrency: stateless; any number of threads may call it at once.
// Limitations: JSON allocates per record (the nlohmann::json tree), unlike the fixed-size
// serdes. Strings with invalid UTF-8 are written with U+FFFD in place of the bad bytes rather
// than failing, since serialize() cannot report errors. A user's to_json that throws
// propagates to the caller (the task's processor boundary); nothing escapes deserialize().
template <typename T>
class JsonSerde final : public Serde<T> {
 public:
  void serialize(std::string_view /*topic*/, const T& value, std::string& out) const override {
    out.clear();
    if constexpr (std::is_same_v<T, nlohmann::json>) {
      dump(value, out);
    } else {
      const nlohmann::json doc = value;
      dump(doc, out);
    }
  }

  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           T& out) const override {
    try {
      if constexpr (std::is_same_v<T, nlohmann::json>) {
        out = nlohmann::json::parse(data.data(), data.data() + data.size());
      } else {
        nlohmann::json::parse(data.data(), data.data() + data.size()).get_to(out);
      }
      return absl::OkStatus();
    } catch (const nlohmann::json::parse_error& e) {
      return absl::InvalidArgumentError(
          fmt::format("malformed JSON at byte {}: {}", e.byte, e.what()));
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(
          fmt::format("JSON does not convert to the expected type: {}", e.what()));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(fmt::format("JSON conversion failed: {}", e.what()));
    } catch (...) {
      return absl::InvalidArgumentError("JSON conversion failed with a non-standard exception");
    }
  }

 private:
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
