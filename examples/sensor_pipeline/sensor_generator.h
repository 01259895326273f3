// The simulator's record generator, apart from Kafka so it can be tested: a reproducible
// stream of sensor readings (JSON as the classic Python producers write them, or Protobuf),
// with optional late, out-of-order and malformed records, and the sensor-metadata records.
//
// Reproducible: the same options (seed and start time included) give the same records byte
// for byte. Randomness comes from std::mt19937_64, whose output the standard fixes, mapped to
// doubles by hand (std distributions differ between library versions).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sluice::examples::sensor {

enum class Format { kJson, kProtobuf };

enum class RecordKind { kValid, kLate, kOutOfOrder, kMalformed };
const char* to_string(RecordKind kind);

struct GeneratorOptions {
  int sensors = 10;  // sensor ids 1..sensors
  uint64_t seed = 1;
  bool keyed = false;  // key = sensor id as a string; else no key
  Format format = Format::kJson;
  double late_fraction = 0;          // timestamp pushed back by late_by_ms (past window + grace)
  double out_of_order_fraction = 0;  // timestamp pushed back by 1..out_of_order_max_ms
  double malformed_fraction = 0;     // a value the pipeline cannot parse
  int64_t start_time_ms = 0;         // event time of the first record
  int64_t step_ms = 100;             // event time advance per record
  int64_t late_by_ms = 120000;
  int64_t out_of_order_max_ms = 5000;
};

struct GeneratedRecord {
  std::optional<std::string> key;
  std::string value;
  int64_t timestamp_ms = 0;  // event time; also the Kafka record timestamp
  RecordKind kind = RecordKind::kValid;
  int sensor_id = 0;
  double temperature = 0;  // as written (rounded to 2 decimals); 0 for malformed
  double humidity = 0;
};

class ReadingGenerator {
 public:
  explicit ReadingGenerator(GeneratorOptions options);
  GeneratedRecord next();
  const GeneratorOptions& options() const { return options_; }

 private:
  double uniform();  // [0, 1)
  std::string malformed_value(int sensor_id, const std::string& good);

  GeneratorOptions options_;
  std::mt19937_64 rng_;
  std::vector<double> base_temperature_;
  std::vector<double> base_humidity_;
  int64_t index_ = 0;
};

// {"sensor_id": 3, "temperature": 21.5, "humidity": 40.25, "timestamp": 1764087601.123}
std::string reading_json(int sensor_id, double temperature, double humidity, int64_t timestamp_ms);
// The Protobuf Reading (reading.proto) with timestamp (seconds) and timestamp_ms set.
std::string reading_protobuf(int sensor_id, double temperature, double humidity,
                             int64_t timestamp_ms);

struct MetadataRecord {
  std::string key;    // sensor id as a string
  std::string value;  // {"location": ..., "owner": ...}
};
// Metadata for the first ceil(fraction * sensors) sensors (the rest stay unknown, so alerts
// for them carry null location/owner).
std::vector<MetadataRecord> metadata_records(int sensors, double fraction = 1.0);

}  // namespace sluice::examples::sensor
