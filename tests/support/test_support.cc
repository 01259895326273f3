// Shared helpers for tests: the shared broker's address and collision-free names.
#include "test_support.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace sluice::testing {

std::string bootstrap_servers() {
  if (const char* env = std::getenv("BOOTSTRAP_SERVERS"); env != nullptr && *env != '\0') {
    return env;
  }
  const char* home = std::getenv("SLUICE_KAFKA_HOME");
  if (home == nullptr) {
    ADD_FAILURE() << "neither BOOTSTRAP_SERVERS nor SLUICE_KAFKA_HOME is set; run integration "
                     "tests through ctest (which starts the broker) or point BOOTSTRAP_SERVERS "
                     "at a broker";
    return "127.0.0.1:1";
  }
  std::ifstream port_file(std::filesystem::path(home) / "port");
  std::string port;
  if (!(port_file >> port)) {
    ADD_FAILURE() << "no broker port in " << home << "/port; is scripts/kafka.sh start done?";
    return "127.0.0.1:1";
  }
  return "127.0.0.1:" + port;
}

std::string schema_registry_url() {
  if (const char* env = std::getenv("SCHEMA_REGISTRY_URL"); env != nullptr && *env != '\0') {
    return env;
  }
  const char* home = std::getenv("SLUICE_REGISTRY_HOME");
  std::ifstream port_file(std::filesystem::path(home != nullptr ? home : "") / "port");
  std::string port;
  if (home == nullptr || !(port_file >> port)) {
    ADD_FAILURE() << "no schema registry: set SCHEMA_REGISTRY_URL or run through ctest (fixture "
                     "schema_registry starts scripts/schema-registry.sh)";
    return "http://127.0.0.1:1";
  }
  return "http://127.0.0.1:" + port + "/apis/ccompat/v7";
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  return fmt::format("{}-{}-{}-{}", prefix, getpid(), counter.fetch_add(1), salt % 100000);
}

std::string temp_dir(std::string_view prefix) {
  auto dir = std::filesystem::temp_directory_path() / unique_name(prefix);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace sluice::testing
