// The task checkpoint file (OffsetCheckpoint::read, Kafka Streams' text format): the input is
// the file's content. A read gives offsets or an error naming the file; offsets read back
// are written and read again unchanged.
#include <unistd.h>

#include <filesystem>

#include "fuzz_check.h"
#include "sluice/state/checkpoint.h"

using namespace sluice;

namespace {
std::filesystem::path scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("sluice-fuzz-checkpoint-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = scratch_dir();
  const state::OffsetCheckpoint input(dir / "input.checkpoint");
  {
    FILE* f = std::fopen(input.file().c_str(), "wb");
    FUZZ_CHECK(f != nullptr);
    FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
    std::fclose(f);
  }
  auto offsets = input.read();
  if (!offsets.ok()) {
    FUZZ_CHECK(std::string(offsets.status().message()).find(input.file().string()) !=
               std::string::npos);
    return 0;
  }
  const state::OffsetCheckpoint output(dir / "output.checkpoint");
  FUZZ_CHECK(output.write(*offsets).ok());
  auto again = output.read();
  FUZZ_CHECK(again.ok() && *again == *offsets);
  return 0;
}
