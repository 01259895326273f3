// Helpers for tests that use the Helm chart as rendered: render it with helm, read its objects
// (validated by deploy-validate), and the environment a pod of the StatefulSet would get,
// turned into the sensor pipeline's configuration exactly as the pod's process parses it.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "examples/sensor_pipeline/pipeline_lib.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace sluice::deploy_testing {

// The command's stdout, or an error naming the command, its status and its output.
inline absl::StatusOr<std::string> run_checked(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("popen failed: " + command);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(fmt::format("`{}` failed ({}):\n{}", command, status, out));
  }
  return out;
}

inline std::string tool(const std::string& name) {
  return std::string(SLUICE_DEPLOY_TOOLS) + "/" + name;
}

// Renders the chart (release "sensors", namespace "sensors") with extra helm arguments into
// `path`, validates it strictly, and returns its objects.
inline absl::StatusOr<nlohmann::json> render_chart(const std::string& helm_args,
                                                   const std::string& path) {
  auto rendered = run_checked(fmt::format("{} template sensors {} --namespace sensors {} > {}",
                                          tool("helm"), SLUICE_CHART, helm_args, path));
  if (!rendered.ok()) return rendered.status();
  auto dumped = run_checked(fmt::format("{} -dump {}", tool("deploy-validate"), path));
  if (!dumped.ok()) return dumped.status();
  return nlohmann::json::parse(*dumped);
}

// The environment the kubelet gives the pipeline container of pod <statefulset>-<ordinal>.
inline absl::StatusOr<std::map<std::string, std::string>> pod_environment(
    const std::string& manifest, const std::string& statefulset, int ordinal) {
  auto out = run_checked(fmt::format("{} -pod-env {} -ordinal {} -namespace sensors {}",
                                     tool("deploy-validate"), statefulset, ordinal, manifest));
  if (!out.ok()) return out.status();
  return nlohmann::json::parse(*out).get<std::map<std::string, std::string>>();
}

// The first object of `kind` in `objects` (null when there is none).
inline nlohmann::json find_object(const nlohmann::json& objects, const std::string& kind) {
  for (const auto& o : objects) {
    if (o["kind"] == kind) return o;
  }
  return nullptr;
}

// The pipeline's configuration from exactly `env` (no flags, nothing from this process's own
// environment), through the same parser the pod's process uses.
inline absl::StatusOr<examples::sensor::PipelineConfig> config_from_environment(
    const std::map<std::string, std::string>& env) {
  std::vector<std::string> entries;
  for (const auto& [k, v] : env) entries.push_back(k + "=" + v);
  std::vector<const char*> environ_list;
  for (const auto& e : entries) environ_list.push_back(e.c_str());
  environ_list.push_back(nullptr);
  auto getenv = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  return examples::sensor::parse_pipeline_config({}, getenv, environ_list.data());
}

}  // namespace sluice::deploy_testing
