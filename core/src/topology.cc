// Topology graph building, sub-topology grouping, describe() and to_dot().
#include "sluice/core/topology.h"

#include <algorithm>
#include <functional>
#include <numeric>

#include "fmt/format.h"
#include "sluice/core/status_macros.h"

namespace sluice {

std::string Topology::new_node_name(std::string_view prefix) {
  return fmt::format("{}{:010d}", prefix, next_index_++);
}

absl::Status Topology::missing_serde(const std::string& node) {
  return absl::InvalidArgumentError(
      fmt::format("node '{}' needs a key and a value serde, and one of them is missing", node));
}

absl::Status Topology::check_new_name(const std::string& name) const {
  if (name.empty()) return absl::InvalidArgumentError("a node name must not be empty");
  if (index_.count(name) != 0) {
    return absl::InvalidArgumentError(fmt::format("node name '{}' is already used", name));
  }
  return absl::OkStatus();
}

TopologyNode* Topology::mutable_node(std::string_view name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &nodes_[it->second];
}

const TopologyNode* Topology::node(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &nodes_[it->second];
}

absl::Status Topology::link_parents(const std::string& name,
                                    const std::vector<std::string>& parents) {
  if (parents.empty()) {
    return absl::InvalidArgumentError(fmt::format("node '{}' needs at least one parent", name));
  }
  for (const auto& p : parents) {
    const TopologyNode* parent = node(p);
    if (parent == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("parent '{}' of node '{}' does not exist", p, name));
    }
    if (parent->kind == NodeKind::kSink) {
      return absl::InvalidArgumentError(
          fmt::format("sink '{}' cannot be the parent of node '{}'", p, name));
    }
  }
  for (const auto& p : parents) mutable_node(p)->children.push_back(name);
  return absl::OkStatus();
}

absl::Status Topology::add_source_node(std::string name, std::vector<std::string> topics,
                                       NodeFactory factory) {
  SLUICE_RETURN_IF_ERROR(check_new_name(name));
  if (topics.empty()) {
    return absl::InvalidArgumentError(fmt::format("source '{}' needs at least one topic", name));
  }
  for (const auto& n : nodes_) {
    if (n.kind != NodeKind::kSource) continue;
    for (const auto& t : topics) {
      if (std::find(n.topics.begin(), n.topics.end(), t) != n.topics.end()) {
        return absl::InvalidArgumentError(fmt::format(
            "topic '{}' is already read by source '{}' (source '{}')", t, n.name, name));
      }
    }
  }
  TopologyNode node;
  node.name = name;
  node.kind = NodeKind::kSource;
  node.topics = std::move(topics);
  node.factory = std::move(factory);
  index_.emplace(name, nodes_.size());
  nodes_.push_back(std::move(node));
  return absl::OkStatus();
}

absl::Status Topology::add_processor_node(std::string name, std::vector<std::string> parents,
                                          NodeFactory factory) {
  SLUICE_RETURN_IF_ERROR(check_new_name(name));
  SLUICE_RETURN_IF_ERROR(link_parents(name, parents));
  TopologyNode node;
  node.name = name;
  node.kind = NodeKind::kProcessor;
  node.parents = std::move(parents);
  node.factory = std::move(factory);
  index_.emplace(name, nodes_.size());
  nodes_.push_back(std::move(node));
  return absl::OkStatus();
}

absl::Status Topology::add_sink_node(std::string name, std::string topic,
                                     std::string extractor_description,
                                     std::vector<std::string> parents, NodeFactory factory) {
  SLUICE_RETURN_IF_ERROR(check_new_name(name));
  if (topic.empty() && extractor_description.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("sink '{}' needs a topic or a topic name extractor", name));
  }
  SLUICE_RETURN_IF_ERROR(link_parents(name, parents));
  TopologyNode node;
  node.name = name;
  node.kind = NodeKind::kSink;
  if (!topic.empty()) node.topics.push_back(std::move(topic));
  node.topic_extractor = std::move(extractor_description);
  node.parents = std::move(parents);
  node.factory = std::move(factory);
  index_.emplace(name, nodes_.size());
  nodes_.push_back(std::move(node));
  return absl::OkStatus();
}

void Topology::add_internal_topic(std::string topic, std::optional<int32_t> partitions) {
  internal_topics_[std::move(topic)] = partitions;
}

bool Topology::is_internal_topic(std::string_view topic) const {
  return internal_topics_.find(topic) != internal_topics_.end();
}

std::string Topology::resolve_topic(std::string_view application_id, std::string_view topic) const {
  if (is_internal_topic(topic)) return fmt::format("{}-{}", application_id, topic);
  return std::string(topic);
}

absl::Status Topology::add_state_store(std::string name, StoreFactory factory,
                                       std::vector<std::string> processors) {
  StoreSpec spec;
  spec.logging = true;
  spec.logging_by_default = true;
  return add_state_store(std::move(name), std::move(factory), std::move(spec),
                         std::move(processors));
}

absl::Status Topology::add_state_store(std::string name, StoreFactory factory, StoreSpec spec,
                                       std::vector<std::string> processors) {
  if (name.empty()) return absl::InvalidArgumentError("a store name must not be empty");
  if (stores_.count(name) != 0) {
    return absl::InvalidArgumentError(fmt::format("store '{}' is already added", name));
  }
  stores_.emplace(name, std::move(factory));
  store_specs_.emplace(name, std::move(spec));
  for (const auto& p : processors) {
    SLUICE_RETURN_IF_ERROR(connect_processor_and_state_stores(p, {name}));
  }
  return absl::OkStatus();
}

const StoreSpec* Topology::store_spec(std::string_view store) const {
  auto it = store_specs_.find(store);
  return it == store_specs_.end() ? nullptr : &it->second;
}

std::map<std::string, StoreFactory> Topology::stores_logged_by_default() const {
  std::map<std::string, StoreFactory> out;
  for (const auto& [name, spec] : store_specs_) {
    if (spec.logging_by_default) out.emplace(name, stores_.at(name));
  }
  return out;
}

absl::Status Topology::replace_state_store(const std::string& name, StoreFactory factory,
                                           StoreSpec spec) {
  auto it = stores_.find(name);
  if (it == stores_.end()) {
    return absl::NotFoundError(fmt::format("store '{}' is not part of the topology", name));
  }
  it->second = std::move(factory);
  store_specs_[name] = std::move(spec);
  return absl::OkStatus();
}

std::string Topology::changelog_topic_name(std::string_view application_id,
                                           std::string_view store) {
  return fmt::format("{}-{}-changelog", application_id, store);
}

std::map<std::string, std::string> Topology::changelog_topics(std::string_view application_id,
                                                              int32_t subtopology) const {
  std::map<std::string, std::string> out;
  for (const auto& sub : subtopologies()) {
    if (sub.id != subtopology) continue;
    for (const auto& s : sub.stores) {
      const StoreSpec* spec = store_spec(s);
      if (spec != nullptr && spec->logging) out.emplace(s, changelog_topic_name(application_id, s));
    }
  }
  return out;
}

absl::Status Topology::connect_processor_and_state_stores(const std::string& processor,
                                                          const std::vector<std::string>& stores) {
  TopologyNode* n = mutable_node(processor);
  if (n == nullptr || n->kind != NodeKind::kProcessor) {
    return absl::InvalidArgumentError(
        fmt::format("cannot connect stores to '{}': no processor node of that name", processor));
  }
  for (const auto& s : stores) {
    if (std::find(n->stores.begin(), n->stores.end(), s) == n->stores.end()) {
      n->stores.push_back(s);
    }
  }
  return absl::OkStatus();
}

std::vector<SubtopologyInfo> Topology::subtopologies() const {
  // Union-find over parent edges and shared stores.
  std::vector<size_t> root(nodes_.size());
  std::iota(root.begin(), root.end(), 0);
  std::function<size_t(size_t)> find = [&](size_t i) {
    while (root[i] != i) i = root[i] = root[root[i]];
    return i;
  };
  auto unite = [&](size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) root[std::max(a, b)] = std::min(a, b);
  };
  std::map<std::string, size_t> store_owner;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const auto& p : nodes_[i].parents) unite(i, index_.at(p));
    for (const auto& s : nodes_[i].stores) {
      auto [it, inserted] = store_owner.emplace(s, i);
      if (!inserted) unite(i, it->second);
    }
  }
  // Ids in order of each group's first node, as Kafka Streams numbers them in creation order.
  std::map<size_t, int32_t> ids;
  std::vector<SubtopologyInfo> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const size_t r = find(i);
    auto it = ids.find(r);
    if (it == ids.end()) {
      it = ids.emplace(r, static_cast<int32_t>(out.size())).first;
      out.emplace_back();
      out.back().id = it->second;
    }
    SubtopologyInfo& info = out[static_cast<size_t>(it->second)];
    const TopologyNode& n = nodes_[i];
    info.nodes.push_back(n.name);
    for (const auto& t : n.topics) {
      if (n.kind == NodeKind::kSource) {
        info.source_topics.push_back(t);
        if (is_internal_topic(t)) info.repartition_source_topics.push_back(t);
      } else {
        info.sink_topics.push_back(t);
      }
    }
    for (const auto& s : n.stores) {
      if (std::find(info.stores.begin(), info.stores.end(), s) == info.stores.end()) {
        info.stores.push_back(s);
      }
    }
  }
  return out;
}

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string dot_id(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string Topology::describe() const {
  // Kafka Streams' order: nodes by descending size of the sub-graph they root (counted along
  // every path), then by name; the same order for the --> and <-- lists.
  std::map<std::string, int64_t, std::less<>> size;
  std::function<int64_t(const TopologyNode&)> size_of = [&](const TopologyNode& n) -> int64_t {
    auto it = size.find(n.name);
    if (it != size.end()) return it->second;
    int64_t s = 1;
    for (const auto& c : n.children) s += size_of(*node(c));
    size.emplace(n.name, s);
    return s;
  };
  auto ordered = [&](std::vector<std::string> names) {
    std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
      const int64_t sa = size_of(*node(a));
      const int64_t sb = size_of(*node(b));
      return sa != sb ? sa > sb : a < b;
    });
    return names;
  };
  auto names_or_none = [&](const std::vector<std::string>& names) {
    return names.empty() ? std::string("none") : join(ordered(names));
  };

  std::string out = "Topologies:\n ";
  for (const auto& sub : subtopologies()) {
    out += fmt::format("  Sub-topology: {}\n", sub.id);
    for (const auto& name : ordered(sub.nodes)) {
      const TopologyNode& n = *node(name);
      out += "    ";
      switch (n.kind) {
        case NodeKind::kSource:
          out += fmt::format("Source: {} (topics: [{}])\n      --> {}", n.name, join(n.topics),
                             names_or_none(n.children));
          break;
        case NodeKind::kProcessor: {
          std::vector<std::string> stores = n.stores;
          std::sort(stores.begin(), stores.end());
          out += fmt::format("Processor: {} (stores: [{}])\n      --> {}\n      <-- {}", n.name,
                             join(stores), names_or_none(n.children), names_or_none(n.parents));
          break;
        }
        case NodeKind::kSink:
          if (!n.topics.empty()) {
            out += fmt::format("Sink: {} (topic: {})\n      <-- {}", n.name, n.topics.front(),
                               names_or_none(n.parents));
          } else {
            out += fmt::format("Sink: {} (extractor class: {})\n      <-- {}", n.name,
                               n.topic_extractor, names_or_none(n.parents));
          }
          break;
      }
      out += "\n";
    }
    out += "\n";
  }
  // Global stores last, numbered after the sub-topologies (Kafka Streams' wording).
  int32_t global_id = static_cast<int32_t>(subtopologies().size());
  for (const auto& g : global_stores_) {
    out += fmt::format(
        "  Sub-topology: {} for global store (will not generate tasks)\n"
        "    Source: {} (topics: [{}])\n      --> {}\n"
        "    Processor: {} (stores: [{}])\n      --> none\n      <-- {}\n\n",
        global_id++, g.source_node, g.topic, g.processor_node, g.processor_node, g.store,
        g.source_node);
  }
  return out;
}

std::string Topology::to_dot() const {
  std::string out = "digraph topology {\n  rankdir=LR;\n";
  std::set<std::string> topics;
  std::set<std::string> stores;
  for (const auto& sub : subtopologies()) {
    out += fmt::format("  subgraph cluster_{} {{\n    label={};\n", sub.id,
                       dot_id(fmt::format("Sub-topology: {}", sub.id)));
    for (const auto& name : sub.nodes) {
      const TopologyNode& n = *node(name);
      const char* shape = n.kind == NodeKind::kProcessor ? "box" : "box, style=rounded";
      out += fmt::format("    {} [shape={}];\n", dot_id(n.name), shape);
    }
    out += "  }\n";
  }
  for (const auto& n : nodes_) {
    for (const auto& t : n.topics) topics.insert(t);
    for (const auto& s : n.stores) stores.insert(s);
  }
  for (const auto& t : topics) {
    out += fmt::format("  {} [shape=ellipse, label={}];\n", dot_id("topic:" + t), dot_id(t));
  }
  for (const auto& s : stores) {
    out += fmt::format("  {} [shape=cylinder, label={}];\n", dot_id("store:" + s), dot_id(s));
  }
  for (const auto& n : nodes_) {
    if (n.kind == NodeKind::kSource) {
      for (const auto& t : n.topics) {
        out += fmt::format("  {} -> {};\n", dot_id("topic:" + t), dot_id(n.name));
      }
    } else if (n.kind == NodeKind::kSink && !n.topics.empty()) {
      out += fmt::format("  {} -> {};\n", dot_id(n.name), dot_id("topic:" + n.topics.front()));
    }
    for (const auto& c : n.children) {
      out += fmt::format("  {} -> {};\n", dot_id(n.name), dot_id(c));
    }
    for (const auto& s : n.stores) {
      out += fmt::format("  {} -> {} [style=dashed, dir=both];\n", dot_id(n.name),
                         dot_id("store:" + s));
    }
  }
  out += "}\n";
  return out;
}

}  // namespace sluice
