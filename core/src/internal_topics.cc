// plan_internal_topics: the topics a topology needs (see internal_topics.h).
#include "sluice/core/internal_topics.h"

#include <algorithm>
#include <utility>

#include "fmt/format.h"
#include "sluice/core/copartitioning.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/time_math.h"

namespace sluice {

std::map<std::string, std::string> changelog_topic_configs(StoreSpec::Kind kind,
                                                           int64_t retention_ms,
                                                           int64_t additional_retention_ms) {
  if (kind == StoreSpec::Kind::kKeyValue || kind == StoreSpec::Kind::kOther) {
    return {{"cleanup.policy", "compact"}};
  }
  return {{"cleanup.policy", "compact,delete"},
          {"retention.ms", std::to_string(saturating_add(retention_ms, additional_retention_ms))}};
}

std::map<std::string, std::string> repartition_topic_configs() {
  return {{"cleanup.policy", "delete"}, {"retention.ms", "-1"}, {"segment.bytes", "52428800"}};
}

bool uses_dead_letter_queue(const StreamsConfig& config) {
  constexpr std::string_view kDlq = "dead_letter_queue";
  return config.deserialization_exception_handler() == kDlq ||
         config.processing_exception_handler() == kDlq ||
         config.production_exception_handler() == kDlq;
}

namespace {

// external_topics over sub-topologies the caller already has (Topology::subtopologies() walks
// the whole graph).
std::set<std::string> external_topics_of(const Topology& topology,
                                         const std::vector<SubtopologyInfo>& subtopologies,
                                         const StreamsConfig& config) {
  std::set<std::string> out;
  for (const auto& sub : subtopologies) {
    for (const auto* topics : {&sub.source_topics, &sub.sink_topics}) {
      for (const auto& t : *topics) {
        if (!topology.is_internal_topic(t)) out.insert(t);
      }
    }
  }
  if (uses_dead_letter_queue(config)) out.insert(config.dead_letter_queue_topic().value_or(""));
  return out;
}

// Fills `counts` (unresolved name -> partitions) for the internal topics: declared counts,
// co-partitioning groups, then the sub-topologies writing them, and returns each
// sub-topology's count.
absl::StatusOr<std::map<int32_t, int32_t>> subtopology_partitions(
    const Topology& topology, const std::vector<SubtopologyInfo>& subtopologies,
    std::map<std::string, int32_t>& counts) {
  for (const auto& [t, declared] : topology.internal_topics()) {
    if (declared) counts[t] = *declared;
  }
  // Joins: inputs of one join must have equal counts; their repartition topics take it.
  std::map<std::string, int32_t> user_counts;
  for (const auto& [t, n] : counts) {
    if (!topology.is_internal_topic(t)) user_counts[t] = n;
  }
  auto grouped =
      check_copartitioning(topology.copartition_groups(), user_counts, topology.internal_topics());
  if (!grouped.ok()) {
    return absl::FailedPreconditionError(
        fmt::format("co-partitioning: {}", std::string(grouped.status().message())));
  }
  for (const auto& [t, n] : *grouped) counts.emplace(t, n);

  // A sub-topology reading a repartition topic learns its count once the writer's is known:
  // as many rounds as there are sub-topologies settle every chain.
  std::map<int32_t, int32_t> out;
  for (size_t round = 0; round <= subtopologies.size(); ++round) {
    for (const auto& sub : subtopologies) {
      int32_t n = 0;
      bool known = true;
      for (const auto& t : sub.source_topics) {
        auto it = counts.find(t);
        if (it == counts.end()) {
          known = false;
          break;
        }
        n = std::max(n, it->second);
      }
      if (!known) continue;
      out[sub.id] = n;
      for (const auto& t : sub.sink_topics) {
        if (topology.is_internal_topic(t) && !counts.count(t)) counts[t] = n;
      }
    }
  }
  for (const auto& sub : subtopologies) {
    if (!out.count(sub.id)) {
      return absl::FailedPreconditionError(fmt::format(
          "cannot determine the partition count of sub-topology {} (its repartition topics are "
          "written by no sub-topology with known partitions)",
          sub.id));
    }
  }
  return out;
}

// Co-partitioning within a sub-topology: a task reads partition p of every source topic.
absl::Status check_sources_copartitioned(const Topology& topology, std::string_view app,
                                         const SubtopologyInfo& sub,
                                         const std::map<std::string, int32_t>& counts) {
  std::set<int32_t> distinct;
  std::string listing;
  for (const auto& t : sub.source_topics) {
    const int32_t n = counts.at(t);
    distinct.insert(n);
    listing +=
        fmt::format("{}{}={}", listing.empty() ? "" : ", ", topology.resolve_topic(app, t), n);
  }
  if (distinct.size() <= 1) return absl::OkStatus();
  return absl::FailedPreconditionError(
      fmt::format("co-partitioning: the source topics of sub-topology {} must have the same "
                  "number of partitions, but they have {}",
                  sub.id, listing));
}

// The fixed sink topics and the dead-letter topic missing from `counts` (see
// InternalTopicsPlan::sink_topics_to_create). Without this check a missing output topic shows
// only at run time: every record waits for the topic's metadata until the first flush times
// out, without naming the topic.
absl::StatusOr<std::vector<PlannedTopic>> missing_sink_topics(
    const Topology& topology, const StreamsConfig& config,
    const std::vector<SubtopologyInfo>& subtopologies, const std::map<std::string, int32_t>& counts,
    const std::map<int32_t, int32_t>& partitions) {
  std::map<std::string, std::pair<std::string, int32_t>> missing;  // topic -> (writer, count)
  int32_t widest = 1;
  for (const auto& sub : subtopologies) {
    const int32_t n = partitions.at(sub.id);
    widest = std::max(widest, n);
    for (const auto& t : sub.sink_topics) {
      if (topology.is_internal_topic(t) || counts.count(t) || missing.count(t)) continue;
      missing[t] = {fmt::format("written by sub-topology {}", sub.id), n};
    }
  }
  const std::string dlq = config.dead_letter_queue_topic().value_or("");
  if (uses_dead_letter_queue(config) && !counts.count(dlq) && !missing.count(dlq)) {
    missing[dlq] = {fmt::format("the dead-letter queue, {}", StreamsConfig::kDeadLetterQueueTopic),
                    widest};
  }
  std::vector<PlannedTopic> out;
  if (missing.empty()) return out;
  if (!config.sink_topics_auto_create()) {
    std::string listing;
    for (const auto& [topic, why] : missing) {
      listing += fmt::format("{}{} ({})", listing.empty() ? "" : ", ", topic, why.first);
    }
    const bool one = missing.size() == 1;
    return absl::NotFoundError(fmt::format(
        "{} {} {} not exist; create {} before starting, or set {}=true to have start() create {} "
        "(broker-side topic auto-creation is not relied on)",
        one ? "sink topic" : "sink topics", listing, one ? "does" : "do", one ? "it" : "them",
        StreamsConfig::kSinkTopicsAutoCreate, one ? "it" : "them"));
  }
  for (const auto& [topic, why] : missing) out.push_back(PlannedTopic{topic, why.second, {}});
  return out;
}

}  // namespace

std::set<std::string> external_topics(const Topology& topology, const StreamsConfig& config) {
  return external_topics_of(topology, topology.subtopologies(), config);
}

absl::StatusOr<InternalTopicsPlan> plan_internal_topics(
    const Topology& topology, const StreamsConfig& config,
    const std::map<std::string, int32_t>& existing) {
  const std::string& app = config.application_id();
  const std::vector<SubtopologyInfo> subtopologies = topology.subtopologies();
  if (subtopologies.empty()) {
    return absl::InvalidArgumentError("the topology has no sub-topology (no source node)");
  }
  std::map<std::string, int32_t> counts;  // unresolved name -> partitions
  for (const auto& t : external_topics_of(topology, subtopologies, config)) {
    if (auto it = existing.find(t); it != existing.end()) counts[t] = it->second;
  }
  for (const auto& sub : subtopologies) {
    for (const auto& t : sub.source_topics) {
      if (!topology.is_internal_topic(t) && !counts.count(t)) {
        return absl::NotFoundError(fmt::format(
            "source topic {} of sub-topology {} does not exist; create it before starting", t,
            sub.id));
      }
    }
  }
  InternalTopicsPlan plan;
  SLUICE_ASSIGN_OR_RETURN(auto partitions, subtopology_partitions(topology, subtopologies, counts));
  plan.subtopology_partitions = std::move(partitions);
  for (const auto& sub : subtopologies) {
    SLUICE_RETURN_IF_ERROR(check_sources_copartitioned(topology, app, sub, counts));
  }
  SLUICE_ASSIGN_OR_RETURN(auto sinks, missing_sink_topics(topology, config, subtopologies, counts,
                                                          plan.subtopology_partitions));
  plan.sink_topics_to_create = std::move(sinks);

  for (const auto& sub : subtopologies) {
    for (const auto& store : sub.stores) {
      const StoreSpec* spec = topology.store_spec(store);
      if (spec == nullptr || !spec->logging) continue;
      const std::string changelog = Topology::changelog_topic_name(app, store);
      plan.store_changelogs[store] = changelog;
      plan.changelog_topics.push_back(
          PlannedTopic{changelog, plan.subtopology_partitions.at(sub.id),
                       spec->changelog_config.empty() ? changelog_topic_configs(spec->kind)
                                                      : spec->changelog_config});
    }
  }
  for (const auto& [t, declared] : topology.internal_topics()) {
    auto count = counts.find(t);
    if (count == counts.end()) {
      return absl::FailedPreconditionError(fmt::format(
          "cannot determine the partition count of repartition topic {} (no sub-topology "
          "writes it)",
          topology.resolve_topic(app, t)));
    }
    plan.repartition_topics.push_back(
        PlannedTopic{topology.resolve_topic(app, t), count->second, repartition_topic_configs()});
  }
  for (const auto& [t, n] : counts) plan.partition_counts[topology.resolve_topic(app, t)] = n;
  for (const auto* planned :
       {&plan.changelog_topics, &plan.repartition_topics, &plan.sink_topics_to_create}) {
    for (const auto& p : *planned) plan.partition_counts[p.name] = p.partitions;
  }
  return plan;
}

}  // namespace sluice
