// Kafka record headers: an ordered list of (key, nullable value) pairs, shared between copies.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

struct Header {
  std::string key;
  // Kafka allows a header with a null value.
  std::optional<std::string> value;

  bool operator==(const Header&) const = default;
};

// Headers is a handle, as in Kafka Streams where `record.withValue(v)` keeps the same Headers
// object: copies of a Record share one header list, and a change through one copy is seen by
// the others. Call clone() for an independent list. An empty Headers holds no allocation, so
// records without headers cost nothing to copy or forward.
//
// Concurrency: a handle is not thread-safe; a record and its headers belong to one task.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<Header> headers) {
    for (const auto& h : headers) add(h.key, h.value);
  }

  // Appends a header; keys may repeat, as in Kafka.
  Headers& add(std::string key, std::optional<std::string> value) {
    if (!list_) list_ = std::make_shared<std::vector<Header>>();
    list_->push_back(Header{std::move(key), std::move(value)});
    return *this;
  }
  // Removes every header with this key.
  Headers& remove(std::string_view key) {
    if (!list_) return *this;
    std::erase_if(*list_, [&](const Header& h) { return h.key == key; });
    return *this;
  }
  // The last header with this key (Kafka's lastHeader), or nullptr.
  const Header* last_header(std::string_view key) const {
    if (!list_) return nullptr;
    for (auto it = list_->rbegin(); it != list_->rend(); ++it) {
      if (it->key == key) return &*it;
    }
    return nullptr;
  }
  // Value of the last header with this key; nullopt when absent or null.
  std::optional<std::string> last_value(std::string_view key) const {
    const Header* h = last_header(key);
    return h ? h->value : std::nullopt;
  }

  size_t size() const { return list_ ? list_->size() : 0; }
  bool empty() const { return size() == 0; }
  const Header* begin() const { return list_ ? list_->data() : nullptr; }
  const Header* end() const { return list_ ? list_->data() + list_->size() : nullptr; }

  Headers clone() const {
    Headers copy;
    if (list_ && !list_->empty()) copy.list_ = std::make_shared<std::vector<Header>>(*list_);
    return copy;
  }

  // Compares contents, not identity.
  friend bool operator==(const Headers& a, const Headers& b) {
    if (a.size() != b.size()) return false;
    return a.empty() || *a.list_ == *b.list_;
  }

 private:
  std::shared_ptr<std::vector<Header>> list_;
};

}  // namespace sluice
