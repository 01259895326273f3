// serdes::protobuf<M>: the plain Protobuf serde, for a proto3 message with nested and
// repeated messages, enums and Any (google.protobuf.Type) and a proto2 message with required
// fields deep inside (google.protobuf.FileDescriptorProto). The first byte picks one.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include "fuzz_check.h"
#include "sluice/core/protobuf_serde.h"

using namespace sluice;

namespace {
bool same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // libprotobuf logs every string field with invalid UTF-8 to stderr; the status says it.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const auto types = serdes::protobuf<google::protobuf::Type>();
  static const auto files = serdes::protobuf<google::protobuf::FileDescriptorProto>();
  const std::string_view in = fuzz::as_view(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    fuzz::check_serde(*types, in, [](const auto& a, const auto& b) { return same(a, b); });
  } else {
    fuzz::check_serde(*files, in, [](const auto& a, const auto& b) { return same(a, b); });
  }
  return 0;
}
