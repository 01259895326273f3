// Java .properties text (parse_properties, as load_properties_file reads a file), then
// StreamsConfig::create over what it parsed: either a config or an error status, never a crash.
#include "fuzz_check.h"
#include "sluice/core/log.h"
#include "sluice/core/streams_config.h"

using namespace sluice;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_default_level(log::Level::kOff);  // create() warns about Java-only keys
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_view(data, size);
  auto props = parse_properties(text, "fuzz.properties");
  if (!props.ok()) {
    FUZZ_CHECK(std::string(props.status().message()).starts_with("fuzz.properties:"));
    return 0;
  }
  for (const auto& [key, value] : *props) {
    FUZZ_CHECK(!key.empty());
    FUZZ_CHECK(key.find('\n') == std::string::npos && value.find('\n') == std::string::npos);
  }
  // Written back as key=value lines, the keys without '=' ':' or surrounding blanks (all
  // parse_properties can give) parse to the same properties.
  std::string again;
  bool plain = true;
  for (const auto& [key, value] : *props) {
    plain = plain && key.find_first_of("=:\\\r") == std::string::npos &&
            value.find_first_of("\\\r") == std::string::npos && !key.starts_with('#') &&
            !key.starts_with('!');
    again += key + "=" + value + "\n";
  }
  if (plain) {
    auto reparsed = parse_properties(again, "again");
    FUZZ_CHECK(reparsed.ok() && *reparsed == *props);
  }
  auto config = StreamsConfig::create(*props);
  if (!config.ok()) FUZZ_CHECK(!config.status().message().empty());
  return 0;
}
