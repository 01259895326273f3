// serdes::json<T>: a document (nlohmann::json), a struct through nlohmann's from_json/to_json,
// and a struct through the simdjson read_json/write_json fast path. The first byte picks one.
#include <optional>
#include <vector>

#include "fuzz_check.h"
#include "sluice/core/json_reader.h"
#include "sluice/core/json_serde.h"

using namespace sluice;

namespace shop {

// A representative record for the nlohmann path: strings, numbers, an array, an optional.
struct Order {
  std::string id;
  int64_t quantity = 0;
  double price = 0;
  std::vector<std::string> tags;
  std::optional<std::string> note;
  bool operator==(const Order&) const = default;
};

void to_json(nlohmann::json& j, const Order& o) {
  j = nlohmann::json{{"id", o.id}, {"quantity", o.quantity}, {"price", o.price}, {"tags", o.tags}};
  if (o.note) j["note"] = *o.note;
}

void from_json(const nlohmann::json& j, Order& o) {
  j.at("id").get_to(o.id);
  j.at("quantity").get_to(o.quantity);
  j.at("price").get_to(o.price);
  j.at("tags").get_to(o.tags);
  o.note.reset();
  if (auto it = j.find("note"); it != j.end() && !it->is_null()) o.note = it->get<std::string>();
}

// A representative record for the fast path, read as the sensor pipeline reads its readings.
struct Reading {
  int64_t sensor_id = 0;
  double temperature = 0;
  std::string unit;
  bool operator==(const Reading&) const = default;
};

absl::Status read_json(JsonObject& json, Reading& out) {
  bool has_id = false;
  for (auto field : json.object()) {
    const std::string_view key = field.unescaped_key();
    if (key == "sensor_id") {
      out.sensor_id = field.value().get_int64();
      has_id = true;
    } else if (key == "temperature") {
      out.temperature = field.value().get_double();
    } else if (key == "unit") {
      out.unit = std::string(std::string_view(field.value().get_string()));
    }
  }
  if (!has_id) return json_field_error("sensor_id", "missing");
  return absl::OkStatus();
}

void write_json(JsonWriter& w, const Reading& r) {
  w.begin_object()
      .member("sensor_id", r.sensor_id)
      .member("temperature", r.temperature)
      .member("unit", r.unit)
      .end_object();
}

}  // namespace shop

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const auto documents = serdes::json<nlohmann::json>();
  static const auto orders = serdes::json<shop::Order>();
  static const auto readings = serdes::json<shop::Reading>();
  const std::string_view in = fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz::check_serde(*documents, in, std::equal_to<>());
      break;
    case 1:
      fuzz::check_serde(*orders, in, std::equal_to<>());
      break;
    default: {
      // Strings with invalid UTF-8 are written with U+FFFD (the serde's documented limit), so
      // only the re-read value must be stable, not equal to the first.
      fuzz::check_serde(*readings, in, [](const shop::Reading& a, const shop::Reading& b) {
        return a.sensor_id == b.sensor_id && a.temperature == b.temperature;
      });
      break;
    }
  }
  return 0;
}
