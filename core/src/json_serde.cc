// The JSON serde's parsing on simdjson (see json_serde.h and json_reader.h) and JsonWriter's
// string escaping.
#include "sluice/core/json_serde.h"

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "sluice/core/json_reader.h"
#include "sluice/core/json_writer.h"
#include "sluice/core/status_macros.h"

namespace sluice {
namespace {

// A thread's simdjson state. simdjson reads up to SIMDJSON_PADDING bytes past the text, so the
// record's bytes are copied into a padded buffer first (a memcpy of a record, no allocation
// once the buffer has grown). `busy` catches a read_json that deserializes another JSON record
// from inside itself: that call gets a fresh state instead of clobbering this one.
struct ThreadParser {
  simdjson::ondemand::parser ondemand;
  simdjson::dom::parser dom;
  std::string buffer;
  bool busy = false;

  const char* pad(std::string_view data) {
    if (buffer.size() < data.size() + simdjson::SIMDJSON_PADDING) {
      buffer.resize(data.size() + simdjson::SIMDJSON_PADDING);
    }
    if (!data.empty()) std::memcpy(buffer.data(), data.data(), data.size());
    std::memset(buffer.data() + data.size(), 0, simdjson::SIMDJSON_PADDING);
    return buffer.data();
  }
};

ThreadParser& thread_parser() {
  thread_local ThreadParser parser;
  return parser;
}

// Marks the thread's parser busy for one call, or hands out a private one when it already is.
class ParserLease {
 public:
  ParserLease() : shared_(thread_parser()) {
    if (shared_.busy) {
      own_ = std::make_unique<ThreadParser>();
    } else {
      shared_.busy = true;
    }
  }
  ~ParserLease() {
    if (!own_) shared_.busy = false;
  }
  ParserLease(const ParserLease&) = delete;
  ParserLease& operator=(const ParserLease&) = delete;
  ThreadParser& get() { return own_ ? *own_ : shared_; }

 private:
  ThreadParser& shared_;
  std::unique_ptr<ThreadParser> own_;
};

absl::Status nlohmann_parse(std::string_view data, nlohmann::json& out) {
  try {
    out = nlohmann::json::parse(data.data(), data.data() + data.size());
    return absl::OkStatus();
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(
        fmt::format("malformed JSON at byte {}: {}", e.byte, e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("malformed JSON: {}", e.what()));
  }
}

// simdjson's tree to nlohmann's, with nlohmann's number kinds: integers without a sign are
// unsigned, negative ones signed, everything else a double; duplicate keys: the last wins.
void to_nlohmann(simdjson::dom::element e, nlohmann::json& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      out = nlohmann::json::object();
      for (simdjson::dom::key_value_pair kv : simdjson::dom::object(e)) {
        to_nlohmann(kv.value, out[std::string(kv.key)]);
      }
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out = nlohmann::json::array();
      for (simdjson::dom::element v : simdjson::dom::array(e)) {
        out.push_back(nullptr);
        to_nlohmann(v, out.back());
      }
      return;
    }
    case simdjson::dom::element_type::INT64: {
      const int64_t v = int64_t(e);
      if (v >= 0) {
        out = static_cast<uint64_t>(v);
      } else {
        out = v;
      }
      return;
    }
    case simdjson::dom::element_type::UINT64:
      out = uint64_t(e);
      return;
    case simdjson::dom::element_type::DOUBLE:
      out = double(e);
      return;
    case simdjson::dom::element_type::STRING:
      out = std::string(std::string_view(e));
      return;
    case simdjson::dom::element_type::BOOL:
      out = bool(e);
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      out = nullptr;
      return;
  }
}

std::string where(const char* base, simdjson::simdjson_result<const char*> location) {
  if (location.error() != simdjson::SUCCESS) return "";
  return fmt::format(" at byte {}", location.value_unsafe() - base + 1);
}

// The message for a record the fast path refused (a rare path, so it may parse again):
// nlohmann's verdict names the byte and the reason when the text is not JSON ("malformed JSON
// at byte N: ..."); valid JSON that is no object is "not a JSON object"; otherwise the object
// did not read as read_json expected, and simdjson's reason says why.
absl::Status explain(std::string_view data, std::string_view simdjson_reason,
                     const std::string& location) {
  nlohmann::json doc;
  SLUICE_RETURN_IF_ERROR(nlohmann_parse(data, doc));
  if (!doc.is_object()) return absl::InvalidArgumentError("not a JSON object");
  return absl::InvalidArgumentError(
      fmt::format("JSON object does not read as expected{}: {}", location, simdjson_reason));
}

}  // namespace

absl::Status json_field_error(std::string_view name, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("JSON field '{}': {}", name, what));
}

namespace serdes::json_internal {

absl::Status parse_document(std::string_view data, nlohmann::json& out) {
  ParserLease lease;
  ThreadParser& p = lease.get();
  const char* text = p.pad(data);
  simdjson::dom::element root;
  if (p.dom.parse(text, data.size(), /*realloc_if_needed=*/false).get(root) != simdjson::SUCCESS) {
    // The slow path gives nlohmann's verdict and message (and accepts what nlohmann accepts
    // beyond simdjson, such as integers wider than 64 bits).
    return nlohmann_parse(data, out);
  }
  try {
    to_nlohmann(root, out);
  } catch (const simdjson::simdjson_error&) {
    return nlohmann_parse(data, out);
  }
  return absl::OkStatus();
}

absl::Status read_object(std::string_view data, ReadObjectFn read, void* out) {
  ParserLease lease;
  ThreadParser& p = lease.get();
  const char* text = p.pad(data);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  simdjson::error_code error = p.ondemand.iterate(text, data.size(), p.buffer.size()).get(doc);
  if (error != simdjson::SUCCESS) return explain(data, simdjson::error_message(error), "");
  if (error = doc.get_object().get(object); error != simdjson::SUCCESS) {
    return explain(data, simdjson::error_message(error), where(text, doc.current_location()));
  }
  try {
    JsonObject json(object);
    SLUICE_RETURN_IF_ERROR(read(out, json));
    // read() may have stopped early: walk the rest of the object (skipping values checks
    // their brackets), then nothing may follow it.
    if (doc.current_location().error() == simdjson::SUCCESS) {
      object.reset();
      for (auto field : object) {
        simdjson::ondemand::value v = field.value();
        (void)v;
      }
      if (auto rest = doc.current_location(); rest.error() == simdjson::SUCCESS) {
        return explain(data, "trailing content after the object", where(text, rest));
      }
    }
  } catch (const simdjson::simdjson_error& e) {
    return explain(data, e.what(), where(text, doc.current_location()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("JSON conversion failed: {}", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace serdes::json_internal

void JsonWriter::append_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out_.push_back('"');
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Runs of plain ASCII in one append.
    size_t run = i;
    while (run < n) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out_.append(s.data() + i, run - i);
    i = run;
    if (i >= n) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out_.append("\\\"");
          break;
        case '\\':
          out_.append("\\\\");
          break;
        case '\n':
          out_.append("\\n");
          break;
        case '\r':
          out_.append("\\r");
          break;
        case '\t':
          out_.append("\\t");
          break;
        case '\b':
          out_.append("\\b");
          break;
        case '\f':
          out_.append("\\f");
          break;
        default:
          out_.append("\\u00");
          out_.push_back(kHex[c >> 4]);
          out_.push_back(kHex[c & 0xf]);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: copied when well formed (no overlongs, surrogates or values past
    // U+10FFFF), else one U+FFFD for the bad byte.
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok) {
      ok = !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
           !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
    }
    if (ok) {
      out_.append(s.data() + i, len);
      i += len;
    } else {
      out_.append("\xef\xbf\xbd");
      ++i;
    }
  }
  out_.push_back('"');
}

}  // namespace sluice
