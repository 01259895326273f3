// JsonWriter: compact JSON text appended straight to a caller's buffer, no document tree. The
// JSON serde uses it for a type with a write_json(JsonWriter&, const T&) function (found by
// ADL), the fast path next to nlohmann's to_json (see json_serde.h).
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "fmt/format.h"

namespace sluice {

// Operation: every call appends to `out` (never cleared here); commas between members and
// elements are placed by the writer. Numbers: integers as decimal, doubles as the shortest text
// that reads back to the same double, with ".0" added to integral values ("26.0", as nlohmann
// writes them); NaN and infinities as null (JSON has no spelling for them).
// Strings are escaped as JSON requires; invalid UTF-8 bytes become U+FFFD, as the nlohmann path
// writes them, so the output is always valid JSON.
// Concurrency: one writer per buffer and thread.
// Limitations: the caller keeps begin/end calls balanced and writes a key before each member's
// value; the writer does not check the shape.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  // A member's name; its value comes next.
  JsonWriter& key(std::string_view name) {
    separate();
    append_string(name);
    out_.push_back(':');
    need_comma_ = false;
    return *this;
  }

  JsonWriter& value(std::string_view s) {
    separate();
    append_string(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) {
    separate();
    out_.append(b ? "true" : "false");
    return *this;
  }
  JsonWriter& value(std::nullptr_t) {
    separate();
    out_.append("null");
    return *this;
  }
  template <std::integral I>
  requires(!std::same_as<I, bool> && !std::same_as<I, char>) JsonWriter& value(I i) {
    separate();
    fmt::format_to(std::back_inserter(out_), "{}", i);
    return *this;
  }
  JsonWriter& value(double d) {
    separate();
    if (!std::isfinite(d)) {
      out_.append("null");
      return *this;
    }
    const size_t start = out_.size();
    fmt::format_to(std::back_inserter(out_), "{}", d);
    if (out_.find_first_of(".e", start) == std::string::npos) out_.append(".0");
    return *this;
  }
  template <typename V>
  JsonWriter& value(const std::optional<V>& v) {
    return v ? value(*v) : value(nullptr);
  }

  // key(name).value(v) in one call.
  template <typename V>
  JsonWriter& member(std::string_view name, const V& v) {
    key(name);
    return value(v);
  }

 private:
  JsonWriter& open(char c) {
    separate();
    out_.push_back(c);
    need_comma_ = false;
    return *this;
  }
  JsonWriter& close(char c) {
    out_.push_back(c);
    need_comma_ = true;
    return *this;
  }
  void separate() {
    if (need_comma_) out_.push_back(',');
    need_comma_ = true;
  }
  void append_string(std::string_view s);

  std::string& out_;
  bool need_comma_ = false;
};

}  // namespace sluice
