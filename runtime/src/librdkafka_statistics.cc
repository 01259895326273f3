// parse_librdkafka_statistics: the few numbers of librdkafka's statistics JSON that /metrics
// exports (STATISTICS.md: top-level queue sizes and message totals, per-broker RTT and buffers).
#include <simdjson.h>

#include "sluice/runtime/metrics.h"

namespace sluice {
namespace {

int64_t int_field(simdjson::dom::object object, std::string_view key) {
  int64_t value = 0;
  if (object[key].get_int64().get(value) != simdjson::SUCCESS) return 0;
  return value;
}

std::string string_field(simdjson::dom::object object, std::string_view key) {
  std::string_view value;
  if (object[key].get_string().get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

}  // namespace

std::optional<LibrdkafkaClientStats> parse_librdkafka_statistics(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) return std::nullopt;
  LibrdkafkaClientStats out;
  out.name = string_field(top, "name");
  out.type = string_field(top, "type");
  if (out.name.empty() || out.type.empty()) return std::nullopt;  // not librdkafka's statistics
  out.replyq = int_field(top, "replyq");
  out.msg_cnt = int_field(top, "msg_cnt");
  out.msg_size = int_field(top, "msg_size");
  out.txmsgs = int_field(top, "txmsgs");
  out.rxmsgs = int_field(top, "rxmsgs");
  simdjson::dom::object brokers;
  if (top["brokers"].get_object().get(brokers) == simdjson::SUCCESS) {
    for (auto [key, value] : brokers) {
      simdjson::dom::object b;
      if (value.get_object().get(b) != simdjson::SUCCESS) continue;
      LibrdkafkaBrokerStats broker;
      broker.node_id = static_cast<int32_t>(int_field(b, "nodeid"));
      // Bootstrap and logical brokers (nodeid -1) duplicate the real ones' connections.
      if (broker.node_id < 0) continue;
      broker.name = string_field(b, "name");
      if (broker.name.empty()) broker.name = std::string(key);
      broker.state = string_field(b, "state");
      broker.outbuf_requests = int_field(b, "outbuf_cnt");
      broker.outbuf_messages = int_field(b, "outbuf_msg_cnt");
      broker.waitresp_requests = int_field(b, "waitresp_cnt");
      simdjson::dom::object rtt;
      if (b["rtt"].get_object().get(rtt) == simdjson::SUCCESS) {
        broker.rtt_avg_us = int_field(rtt, "avg");
        broker.rtt_p99_us = int_field(rtt, "p99");
      }
      out.brokers.push_back(std::move(broker));
    }
  }
  return out;
}

}  // namespace sluice
