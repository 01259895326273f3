// StreamsConfig from the environment: the input is NUL-separated NAME=VALUE entries, given to
// properties_from_environment as the process environment (and its getenv), then to
// StreamsConfig::create.
#include <cstring>
#include <vector>

#include "fuzz_check.h"
#include "sluice/core/log.h"
#include "sluice/core/streams_config.h"

using namespace sluice;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_default_level(log::Level::kOff);  // stray SLUICE_* variables are warned about
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> entries;
  std::string_view rest = fuzz::as_view(data, size);
  while (!rest.empty()) {
    const size_t nul = rest.find('\0');
    entries.emplace_back(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  }
  std::vector<const char*> environ_list;
  for (const auto& e : entries) environ_list.push_back(e.c_str());
  environ_list.push_back(nullptr);
  auto getenv = [&](const char* name) -> const char* {
    const size_t n = std::strlen(name);
    for (const auto& e : entries) {
      if (e.size() > n && e.compare(0, n, name) == 0 && e[n] == '=') return e.c_str() + n + 1;
    }
    return nullptr;
  };
  const Properties props = properties_from_environment(getenv, environ_list.data());
  for (const auto& [key, value] : props) FUZZ_CHECK(!key.empty());
  auto config = StreamsConfig::create(props);
  if (!config.ok()) FUZZ_CHECK(!config.status().message().empty());
  return 0;
}
