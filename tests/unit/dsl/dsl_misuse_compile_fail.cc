// Compiled by the dsl_misuse_* tests, which expect compilation to FAIL with a readable
// static_assert message. One misuse per SLUICE_MISUSE value.
#include <memory>
#include <string>

#include "sluice/dsl/streams_builder.h"

namespace {
class Strings final : public sluice::Serde<std::string> {
 public:
  void serialize(std::string_view, const std::string& v, std::string& out) const override {
    out = v;
  }
  absl::Status deserialize(std::string_view, std::string_view d, std::string& out) const override {
    out = std::string(d);
    return absl::OkStatus();
  }
};
}  // namespace

int main() {
  auto s = std::make_shared<Strings>();
  sluice::StreamsBuilder builder;
  auto stream = builder.stream("in", sluice::Consumed::with(s, s));
#if SLUICE_MISUSE == 1
  stream.filter([](int, int, int) { return true; });
#elif SLUICE_MISUSE == 2
  stream.map([](const std::string& v) { return v; });
#elif SLUICE_MISUSE == 3
  stream.flat_map_values([](const std::string& v) { return v.size(); });
#elif SLUICE_MISUSE == 41
  builder.table("t", sluice::Consumed::with(s, s)).group_by([](const std::string& v) { return v; });
#elif SLUICE_MISUSE == 42
  builder.table("t", sluice::Consumed::with(s, s))
      .group_by([](const std::string& k, const std::string& v) {
        return std::pair{v, k};
      })
      .reduce([](const std::string& a, const std::string&) { return a; }, [](int) { return 0; });
#elif SLUICE_MISUSE == 43
  // Compiles: the table half of the DSL needs only core and dsl headers (no static_assert);
  // the test expects the marker below in the compiler output via #warning.
  builder.table("t", sluice::Consumed::with(s, s), sluice::Materialized::as("store"))
      .filter([](const std::string& v) { return !v.empty(); },
              sluice::Materialized::as("f").with_caching_disabled().with_logging_disabled())
      .group_by([](const std::string& k, const std::string& v) {
        return std::pair{v, k};
      })
      .count()
      .to_stream();
#warning "sluice-table-headers-compile"
#endif
  return 0;
}
