// sluice::testing: what most tests need and nothing more.
#pragma once

#include <string>
#include <string_view>

namespace sluice::testing {

// host:port of the broker the integration tests share. BOOTSTRAP_SERVERS wins when set (to
// run against another broker); otherwise the instance under $SLUICE_KAFKA_HOME that the
// ctest `kafka` fixture started. Fails the calling test when neither is there.
std::string bootstrap_servers();

// Base URL of the schema registry the schema-registry tests share (Confluent REST API, e.g.
// http://127.0.0.1:18081/apis/ccompat/v7). SCHEMA_REGISTRY_URL wins when set; otherwise the
// instance under $SLUICE_REGISTRY_HOME that the ctest `schema_registry` fixture started.
std::string schema_registry_url();

// A name no other test in this run or an earlier run against the same broker has used:
// "<prefix>-<pid>-<counter>-<random>", so tests that share one broker never collide.
std::string unique_name(std::string_view prefix);

// A fresh empty directory under the system temp dir, for state stores and checkpoints.
std::string temp_dir(std::string_view prefix);

}  // namespace sluice::testing
