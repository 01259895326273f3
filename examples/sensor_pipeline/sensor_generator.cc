// Reproducible sensor readings and metadata for the simulator (see sensor_generator.h).
#include "examples/sensor_pipeline/sensor_generator.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"
#include "reading.pb.h"

namespace sluice::examples::sensor {
namespace {

double round2(double v) { return std::round(v * 100.0) / 100.0; }

// Shortest round-trip text, always with a decimal point so readers see a float ("21.0").
std::string json_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

const char* const kLocations[] = {"greenhouse-north", "greenhouse-south", "server-room",
                                  "warehouse-a",      "warehouse-b",      "office-1",
                                  "office-2",         "cold-storage"};
const char* const kOwners[] = {"alice", "bob", "carol", "dave", "erin"};

}  // namespace

const char* to_string(RecordKind kind) {
  switch (kind) {
    case RecordKind::kValid:
      return "valid";
    case RecordKind::kLate:
      return "late";
    case RecordKind::kOutOfOrder:
      return "out_of_order";
    case RecordKind::kMalformed:
      return "malformed";
  }
  return "?";
}

std::string reading_json(int sensor_id, double temperature, double humidity, int64_t timestamp_ms) {
  // Seconds with 3 decimals, written from the integer milliseconds so no float error creeps
  // into the text; the pipeline rounds seconds*1000 back to the same milliseconds.
  const int64_t secs = timestamp_ms / 1000;
  const int64_t millis = timestamp_ms % 1000;
  return fmt::format(
      R"({{"sensor_id": {}, "temperature": {}, "humidity": {}, "timestamp": {}.{:03}}})", sensor_id,
      json_float(temperature), json_float(humidity), secs, millis);
}

std::string reading_protobuf(int sensor_id, double temperature, double humidity,
                             int64_t timestamp_ms) {
  proto::Reading reading;
  reading.set_sensor_id(sensor_id);
  reading.set_temperature(temperature);
  reading.set_humidity(humidity);
  reading.set_timestamp(static_cast<double>(timestamp_ms) / 1000.0);
  reading.set_timestamp_ms(timestamp_ms);
  return reading.SerializeAsString();
}

std::vector<MetadataRecord> metadata_records(int sensors, double fraction) {
  std::vector<MetadataRecord> out;
  const int n = static_cast<int>(std::ceil(std::clamp(fraction, 0.0, 1.0) * sensors));
  for (int id = 1; id <= n; ++id) {
    out.push_back({std::to_string(id), fmt::format(R"({{"location": "{}", "owner": "{}"}})",
                                                   kLocations[(id - 1) % std::size(kLocations)],
                                                   kOwners[(id - 1) % std::size(kOwners)])});
  }
  return out;
}

ReadingGenerator::ReadingGenerator(GeneratorOptions options)
    : options_(options), rng_(options.seed) {
  if (options_.sensors < 1) options_.sensors = 1;
  for (int i = 0; i < options_.sensors; ++i) {
    // Bases between 18 and 32 °C: a few sensors run hot enough for alerts at 28.
    base_temperature_.push_back(18.0 + 14.0 * uniform());
    base_humidity_.push_back(30.0 + 40.0 * uniform());
  }
}

double ReadingGenerator::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

std::string ReadingGenerator::malformed_value(int sensor_id, const std::string& good) {
  if (options_.format == Format::kProtobuf) {
    // 0xff: field 31 with wire type 7, which does not exist: no parser accepts it.
    return std::string("\xff\xff\xff\xff\x0f", 5) + good.substr(0, good.size() / 2);
  }
  switch (static_cast<int>(uniform() * 5)) {
    case 0:
      return fmt::format("not json: sensor {} says hello", sensor_id);
    case 1:
      return good.substr(0, good.size() / 2);  // truncated
    case 2:
      return fmt::format(R"({{"sensor_id": {}, "humidity": 40.0, "timestamp": 1700000000}})",
                         sensor_id);  // no temperature
    case 3:
      return R"({"sensor_id": "abc", "temperature": 20.0, "humidity": 40.0, "timestamp": 1700000000})";
    default:
      return std::string("\xfe\xff\x00\x01 binary", 11);
  }
}

GeneratedRecord ReadingGenerator::next() {
  GeneratedRecord r;
  const int64_t now = options_.start_time_ms + index_ * options_.step_ms;
  ++index_;
  const int idx = static_cast<int>(uniform() * options_.sensors) % options_.sensors;
  r.sensor_id = idx + 1;
  // Slow drift per sensor plus noise.
  const double drift = 1.5 * std::sin(static_cast<double>(now) / 600000.0 + idx);
  r.temperature = round2(base_temperature_[idx] + drift + (uniform() - 0.5) * 3.0);
  r.humidity = round2(std::clamp(base_humidity_[idx] + (uniform() - 0.5) * 6.0, 0.0, 100.0));
  r.timestamp_ms = now;
  const double u = uniform();
  const double m = options_.malformed_fraction;
  const double l = m + options_.late_fraction;
  const double o = l + options_.out_of_order_fraction;
  if (u < m) {
    r.kind = RecordKind::kMalformed;
  } else if (u < l) {
    r.kind = RecordKind::kLate;
    r.timestamp_ms = now - options_.late_by_ms;
  } else if (u < o) {
    r.kind = RecordKind::kOutOfOrder;
    r.timestamp_ms =
        now - 1 -
        static_cast<int64_t>(uniform() * static_cast<double>(options_.out_of_order_max_ms));
  }
  if (options_.keyed) r.key = std::to_string(r.sensor_id);
  const std::string good =
      options_.format == Format::kJson
          ? reading_json(r.sensor_id, r.temperature, r.humidity, r.timestamp_ms)
          : reading_protobuf(r.sensor_id, r.temperature, r.humidity, r.timestamp_ms);
  if (r.kind == RecordKind::kMalformed) {
    r.value = malformed_value(r.sensor_id, good);
    r.temperature = 0;
    r.humidity = 0;
  } else {
    r.value = good;
  }
  return r;
}

}  // namespace sluice::examples::sensor
