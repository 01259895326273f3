// The Confluent wire format (magic byte, schema id, Protobuf message indexes) and the
// schema-registry Protobuf and JSON Schema serdes over an in-memory registry. The first byte
// picks the path; the registry knows schema 1 (Protobuf) and 2 (JSON), so the seeds reach the
// payload parsers.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include "fuzz_check.h"
#include "sluice/schema_registry/client.h"
#include "sluice/schema_registry/serdes.h"
#include "sluice/schema_registry/wire_format.h"

using namespace sluice;
namespace sr = sluice::schema_registry;

namespace {

struct Registry {
  std::shared_ptr<sr::MockClient> client = std::make_shared<sr::MockClient>();
  sr::RegistryConfig config;
  SerdePtr<google::protobuf::Type> protobuf;
  SerdePtr<nlohmann::json> json;
  Registry() {
    config.auto_register = true;
    FUZZ_CHECK(client->register_schema("seed-protobuf", {"syntax = \"proto3\";", "PROTOBUF", {}})
                   .value() == 1);
    FUZZ_CHECK(
        client->register_schema("seed-json", {"{\"type\":\"object\"}", "JSON", {}}).value() == 2);
    protobuf = sr::protobuf<google::protobuf::Type>(client, config, sr::SerdeTarget::kValue);
    json = sr::json<nlohmann::json>(client, config, sr::SerdeTarget::kValue,
                                    "{\"title\":\"Doc\",\"type\":\"object\"}")
               .value();
  }
};

void framing(std::string_view in) {
  auto header = sr::read_header(in);
  if (!header.ok()) {
    FUZZ_CHECK(in.size() < sr::kHeaderSize || in[0] != 0);
    return;
  }
  std::string out;
  sr::write_header(header->schema_id, out);
  out.append(header->payload);
  FUZZ_CHECK(out == in);
  std::string_view rest = header->payload;
  auto indexes = sr::read_message_indexes(rest);
  if (!indexes.ok()) return;
  FUZZ_CHECK(rest.size() <= header->payload.size());
  std::string written;
  sr::write_message_indexes(*indexes, written);
  std::string_view again = written;
  auto reread = sr::read_message_indexes(again);
  FUZZ_CHECK(reread.ok() && *reread == *indexes && again.empty());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // libprotobuf logs every string field with invalid UTF-8 to stderr; the status says it.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static Registry registry;
  const std::string_view in = fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      framing(in);
      break;
    case 1:
      fuzz::check_serde(*registry.protobuf, in, [](const auto& a, const auto& b) {
        return google::protobuf::util::MessageDifferencer::Equals(a, b);
      });
      break;
    default:
      fuzz::check_serde(*registry.json, in, std::equal_to<>());
      break;
  }
  return 0;
}
