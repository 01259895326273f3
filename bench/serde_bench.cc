// Serde micro benchmarks: records/s for serialize and deserialize of every built-in serde, and
// heap allocations per record (the `allocs_per_record` counter, counted by the replaced global
// operator new below; the steady state of the plain serdes should be 0).
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "sluice/core/json_reader.h"
#include "sluice/core/json_serde.h"
#include "sluice/core/protobuf_serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"

// Counting allocator for this binary only: benchmarks are single-threaded per run, a relaxed
// atomic keeps it correct if the library starts threads anyway.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

// GCC 12 flags free() inside a replaced operator delete as mismatched once it inlines both
// sides; the pairing is correct by construction (every new here is malloc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace sluice {
namespace {

void report(benchmark::State& state, int64_t allocations_before) {
  const auto records = static_cast<int64_t>(state.iterations());
  state.SetItemsProcessed(records);
  state.counters["allocs_per_record"] = benchmark::Counter(
      static_cast<double>(g_allocations.load(std::memory_order_relaxed) - allocations_before) /
      static_cast<double>(records > 0 ? records : 1));
}

template <typename T>
void run_serialize(benchmark::State& state, const Serde<T>& serde, const T& value) {
  std::string buf;
  serde.serialize("bench", value, buf);  // warm-up: grow the buffer once
  const int64_t before = g_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    serde.serialize("bench", value, buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
  report(state, before);
}

template <typename T>
void run_deserialize(benchmark::State& state, const Serde<T>& serde, const T& value) {
  std::string buf;
  serde.serialize("bench", value, buf);
  T out{};
  if (!serde.deserialize("bench", buf, out).ok()) {  // warm-up: grow `out` once
    state.SkipWithError("deserialize failed");
    return;
  }
  const int64_t before = g_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    absl::Status s = serde.deserialize("bench", buf, out);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
  report(state, before);
}

std::string sample_string() { return "sensor-0042-building-7-floor-3"; }

// A sensor reading as a user type with nlohmann to_json/from_json (the JSON serde's general
// path: a document tree per record).
struct TreeReading {
  int32_t sensor_id = 0;
  double temperature = 0;
  double humidity = 0;
  int64_t timestamp_ms = 0;
};
void to_json(nlohmann::json& j, const TreeReading& r) {
  j = nlohmann::json{{"sensor_id", r.sensor_id},
                     {"temperature", r.temperature},
                     {"humidity", r.humidity},
                     {"timestamp_ms", r.timestamp_ms}};
}
void from_json(const nlohmann::json& j, TreeReading& r) {
  j.at("sensor_id").get_to(r.sensor_id);
  j.at("temperature").get_to(r.temperature);
  j.at("humidity").get_to(r.humidity);
  j.at("timestamp_ms").get_to(r.timestamp_ms);
}
const TreeReading kTreeReading{42, 21.37, 40.25, 1764087601123};

// The same reading with the fast path: read_json (simdjson On-Demand) and write_json.
struct FastReading {
  int32_t sensor_id = 0;
  double temperature = 0;
  double humidity = 0;
  int64_t timestamp_ms = 0;
};
void write_json(JsonWriter& w, const FastReading& r) {
  w.begin_object()
      .member("sensor_id", r.sensor_id)
      .member("temperature", r.temperature)
      .member("humidity", r.humidity)
      .member("timestamp_ms", r.timestamp_ms)
      .end_object();
}
absl::Status read_json(JsonObject& json, FastReading& r) {
  for (auto field : json.object()) {
    const std::string_view key = field.unescaped_key();
    if (key == "sensor_id") {
      r.sensor_id = static_cast<int32_t>(int64_t(field.value()));
    } else if (key == "temperature") {
      r.temperature = double(field.value());
    } else if (key == "humidity") {
      r.humidity = double(field.value());
    } else if (key == "timestamp_ms") {
      r.timestamp_ms = int64_t(field.value());
    }
  }
  return absl::OkStatus();
}
const FastReading kFastReading{42, 21.37, 40.25, 1764087601123};

// The JSON serde as it was before simdjson (nlohmann's parser), kept as the baseline.
template <typename T>
class NlohmannOnlyJsonSerde final : public Serde<T> {
 public:
  void serialize(std::string_view, const T& value, std::string& out) const override {
    out = nlohmann::json(value).dump();
  }
  absl::Status deserialize(std::string_view, std::string_view data, T& out) const override {
    try {
      if constexpr (std::is_same_v<T, nlohmann::json>) {
        out = nlohmann::json::parse(data.data(), data.data() + data.size());
      } else {
        nlohmann::json::parse(data.data(), data.data() + data.size()).get_to(out);
      }
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
  }
};

nlohmann::json sample_json() {
  return {{"sensor_id", "sensor-0042"},
          {"temperature", 21.375},
          {"timestamp_ms", 1700000000000},
          {"tags", {"roof", "north"}}};
}

google::protobuf::Struct sample_struct() {
  google::protobuf::Struct s;
  auto& fields = *s.mutable_fields();
  fields["sensor_id"].set_string_value("sensor-0042");
  fields["temperature"].set_number_value(21.375);
  fields["timestamp_ms"].set_number_value(1700000000000.0);
  return s;
}

google::protobuf::Timestamp sample_timestamp() {
  google::protobuf::Timestamp t;
  t.set_seconds(1700000000);
  t.set_nanos(123456789);
  return t;
}

void BM_StringSerialize(benchmark::State& s) {
  run_serialize(s, *serdes::string(), sample_string());
}
void BM_StringDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::string(), sample_string());
}
void BM_Int32Serialize(benchmark::State& s) { run_serialize(s, *serdes::int32(), int32_t{-42}); }
void BM_Int32Deserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::int32(), int32_t{-42});
}
void BM_Int64Serialize(benchmark::State& s) {
  run_serialize(s, *serdes::int64(), int64_t{1700000000000});
}
void BM_Int64Deserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::int64(), int64_t{1700000000000});
}
void BM_DoubleSerialize(benchmark::State& s) { run_serialize(s, *serdes::float64(), 21.375); }
void BM_DoubleDeserialize(benchmark::State& s) { run_deserialize(s, *serdes::float64(), 21.375); }
void BM_BytesSerialize(benchmark::State& s) {
  run_serialize(s, *serdes::bytes(), std::vector<uint8_t>(256, 0xab));
}
void BM_BytesDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::bytes(), std::vector<uint8_t>(256, 0xab));
}
void BM_JsonSerialize(benchmark::State& s) { run_serialize(s, *serdes::json(), sample_json()); }
void BM_JsonDeserialize(benchmark::State& s) { run_deserialize(s, *serdes::json(), sample_json()); }
void BM_JsonDeserializeBaselineNlohmann(benchmark::State& s) {
  run_deserialize(s, NlohmannOnlyJsonSerde<nlohmann::json>(), sample_json());
}
void BM_JsonTreeReadingDeserializeBaselineNlohmann(benchmark::State& s) {
  run_deserialize(s, NlohmannOnlyJsonSerde<TreeReading>(), kTreeReading);
}
void BM_JsonFastReadingSerialize(benchmark::State& s) {
  run_serialize(s, *serdes::json<FastReading>(), kFastReading);
}
void BM_JsonFastReadingDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::json<FastReading>(), kFastReading);
}
void BM_JsonTreeReadingSerialize(benchmark::State& s) {
  run_serialize(s, *serdes::json<TreeReading>(), kTreeReading);
}
void BM_JsonTreeReadingDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::json<TreeReading>(), kTreeReading);
}
void BM_ProtobufTimestampSerialize(benchmark::State& s) {
  run_serialize(s, *serdes::protobuf<google::protobuf::Timestamp>(), sample_timestamp());
}
void BM_ProtobufTimestampDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::protobuf<google::protobuf::Timestamp>(), sample_timestamp());
}
void BM_ProtobufStructSerialize(benchmark::State& s) {
  run_serialize(s, *serdes::protobuf<google::protobuf::Struct>(), sample_struct());
}
void BM_ProtobufStructDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::protobuf<google::protobuf::Struct>(), sample_struct());
}
void BM_WindowedStringSerialize(benchmark::State& s) {
  run_serialize(s, *serdes::windowed(serdes::string(), 60000),
                Windowed<std::string>{sample_string(), {1700000000000, 1700000060000}});
}
void BM_WindowedStringDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::windowed(serdes::string(), 60000),
                  Windowed<std::string>{sample_string(), {1700000000000, 1700000060000}});
}
void BM_SessionWindowedStringDeserialize(benchmark::State& s) {
  run_deserialize(s, *serdes::session_windowed(serdes::string()),
                  Windowed<std::string>{sample_string(), {1700000000000, 1700000005000}});
}

BENCHMARK(BM_StringSerialize);
BENCHMARK(BM_StringDeserialize);
BENCHMARK(BM_Int32Serialize);
BENCHMARK(BM_Int32Deserialize);
BENCHMARK(BM_Int64Serialize);
BENCHMARK(BM_Int64Deserialize);
BENCHMARK(BM_DoubleSerialize);
BENCHMARK(BM_DoubleDeserialize);
BENCHMARK(BM_BytesSerialize);
BENCHMARK(BM_BytesDeserialize);
BENCHMARK(BM_JsonSerialize);
BENCHMARK(BM_JsonDeserialize);
BENCHMARK(BM_JsonTreeReadingSerialize);
BENCHMARK(BM_JsonTreeReadingDeserialize);
BENCHMARK(BM_JsonDeserializeBaselineNlohmann);
BENCHMARK(BM_JsonTreeReadingDeserializeBaselineNlohmann);
BENCHMARK(BM_JsonFastReadingSerialize);
BENCHMARK(BM_JsonFastReadingDeserialize);
BENCHMARK(BM_ProtobufTimestampSerialize);
BENCHMARK(BM_ProtobufTimestampDeserialize);
BENCHMARK(BM_ProtobufStructSerialize);
BENCHMARK(BM_ProtobufStructDeserialize);
BENCHMARK(BM_WindowedStringSerialize);
BENCHMARK(BM_WindowedStringDeserialize);
BENCHMARK(BM_SessionWindowedStringDeserialize);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
