// Mapping librdkafka errors to absl::Status with a queryable KafkaErrorKind payload.
#include "runtime/kafka/error.h"

#include <charconv>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/strings/cord.h"
#include "fmt/format.h"

namespace sluice::kafka {
namespace {

// The payload is "<kind digit>:<error code>"; the URL keeps it apart from other payloads.
constexpr char kPayloadUrl[] = "type.sluice.dev/kafka.error";

bool is_fatal_code(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
      return true;
    default:
      return false;
  }
}

bool is_retriable_code(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
      return true;
    default:
      return false;
  }
}

absl::StatusCode status_code(KafkaErrorKind kind, rd_kafka_resp_err_t code) {
  if (kind == KafkaErrorKind::kFatal) {
    return absl::StatusCode::kFailedPrecondition;
  }
  if (kind == KafkaErrorKind::kAbortTransaction) {
    return absl::StatusCode::kAborted;
  }
  switch (code) {
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return absl::StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::StatusCode::kDeadlineExceeded;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return absl::StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return absl::StatusCode::kPermissionDenied;
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__NOT_CONFIGURED:
      return absl::StatusCode::kFailedPrecondition;
    default:
      break;
  }
  if (kind == KafkaErrorKind::kRetriable) {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kUnknown;
}

}  // namespace

absl::Status kafka_error(KafkaErrorKind kind, rd_kafka_resp_err_t code, std::string_view context,
                         std::string_view text) {
  std::string message = fmt::format("{} failed: {}: {}", context, rd_kafka_err2name(code), text);
  if (kind != KafkaErrorKind::kOther) {
    message += fmt::format(" [{}]", to_string(kind));
  }
  absl::Status status(status_code(kind, code), message);
  status.SetPayload(kPayloadUrl, absl::Cord(fmt::format("{}:{}", static_cast<int>(kind),
                                                        static_cast<int>(code))));
  return status;
}

namespace {

// Parses the payload back; nullopt when the status did not come from here.
std::optional<std::pair<KafkaErrorKind, rd_kafka_resp_err_t>> payload(const absl::Status& status) {
  auto cord = status.GetPayload(kPayloadUrl);
  if (!cord) {
    return std::nullopt;
  }
  std::string text(*cord);
  auto colon = text.find(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  int kind = 0;
  int code = 0;
  if (std::from_chars(text.data(), text.data() + colon, kind).ec != std::errc{} ||
      std::from_chars(text.data() + colon + 1, text.data() + text.size(), code).ec != std::errc{}) {
    return std::nullopt;
  }
  return std::pair{static_cast<KafkaErrorKind>(kind), static_cast<rd_kafka_resp_err_t>(code)};
}

}  // namespace

std::string_view to_string(KafkaErrorKind kind) {
  switch (kind) {
    case KafkaErrorKind::kFatal:
      return "fatal";
    case KafkaErrorKind::kRetriable:
      return "retriable";
    case KafkaErrorKind::kAbortTransaction:
      return "transaction must be aborted";
    case KafkaErrorKind::kOther:
      break;
  }
  return "other";
}

KafkaErrorKind classify_code(rd_kafka_resp_err_t code) {
  if (is_fatal_code(code)) {
    return KafkaErrorKind::kFatal;
  }
  if (is_retriable_code(code)) {
    return KafkaErrorKind::kRetriable;
  }
  return KafkaErrorKind::kOther;
}

absl::Status error_status(const rd_kafka_error_t* error, std::string_view context) {
  if (error == nullptr) {
    return absl::OkStatus();
  }
  rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  KafkaErrorKind kind = KafkaErrorKind::kOther;
  if (rd_kafka_error_is_fatal(error) || is_fatal_code(code)) {
    kind = KafkaErrorKind::kFatal;
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    kind = KafkaErrorKind::kAbortTransaction;
  } else if (rd_kafka_error_is_retriable(error) || is_retriable_code(code)) {
    kind = KafkaErrorKind::kRetriable;
  }
  const char* text = rd_kafka_error_string(error);
  return kafka_error(kind, code, context, text != nullptr ? text : rd_kafka_err2str(code));
}

absl::Status take_error(rd_kafka_error_t* error, std::string_view context) {
  absl::Status status = error_status(error, context);
  if (error != nullptr) {
    rd_kafka_error_destroy(error);
  }
  return status;
}

absl::Status code_status(rd_kafka_resp_err_t code, std::string_view context,
                         std::string_view detail) {
  if (code == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::OkStatus();
  }
  return kafka_error(classify_code(code), code, context,
                     detail.empty() ? std::string_view(rd_kafka_err2str(code)) : detail);
}

KafkaErrorKind error_kind(const absl::Status& status) {
  if (status.ok()) {
    return KafkaErrorKind::kOther;
  }
  auto p = payload(status);
  return p ? p->first : KafkaErrorKind::kOther;
}

bool is_fatal(const absl::Status& status) { return error_kind(status) == KafkaErrorKind::kFatal; }
bool is_retriable(const absl::Status& status) {
  return error_kind(status) == KafkaErrorKind::kRetriable;
}
bool requires_abort(const absl::Status& status) {
  return error_kind(status) == KafkaErrorKind::kAbortTransaction;
}

std::optional<rd_kafka_resp_err_t> error_code(const absl::Status& status) {
  if (status.ok()) {
    return std::nullopt;
  }
  auto p = payload(status);
  if (!p) {
    return std::nullopt;
  }
  return p->second;
}

namespace {

struct ClientErrors {
  std::mutex mu;
  std::unordered_map<const rd_kafka_t*, std::pair<rd_kafka_resp_err_t, std::string>> failures;
};
ClientErrors& client_errors() {
  static auto* errors = new ClientErrors();  // never destroyed: librdkafka threads may outlive
  return *errors;
}

}  // namespace

void record_client_error(const rd_kafka_t* rk, rd_kafka_resp_err_t code, std::string_view reason) {
  if (code != RD_KAFKA_RESP_ERR__AUTHENTICATION && code != RD_KAFKA_RESP_ERR__SSL) return;
  ClientErrors& e = client_errors();
  std::lock_guard lock(e.mu);
  e.failures.try_emplace(rk, code, std::string(reason));
}

// The recorded failure of `rk` as a fatal status, `after` appended; OK when none.
absl::Status auth_status(const rd_kafka_t* rk, std::string_view after) {
  std::pair<rd_kafka_resp_err_t, std::string> failure;
  {
    ClientErrors& e = client_errors();
    std::lock_guard lock(e.mu);
    auto it = e.failures.find(rk);
    if (it == e.failures.end()) return absl::OkStatus();
    failure = it->second;
  }
  const auto& [code, reason] = failure;
  return kafka_error(
      KafkaErrorKind::kFatal, code,
      code == RD_KAFKA_RESP_ERR__SSL
          ? "the TLS handshake with the broker (check ssl.ca.location and the broker's certificate)"
          : "authentication with the broker (check sasl.mechanism, sasl.username and "
            "sasl.password)",
      after.empty() ? reason : fmt::format("{}; the request then ended in: {}", reason, after));
}

absl::Status authentication_failure(const rd_kafka_t* rk) { return auth_status(rk, {}); }

absl::Status explain_failure(const rd_kafka_t* rk, absl::Status status) {
  if (status.ok()) return status;
  const auto code = error_code(status);
  const bool generic = status.code() == absl::StatusCode::kDeadlineExceeded ||
                       status.code() == absl::StatusCode::kUnavailable ||
                       (code && (*code == RD_KAFKA_RESP_ERR__TRANSPORT ||
                                 *code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN));
  if (!generic) return status;
  absl::Status auth = auth_status(rk, std::string(status.message()));
  return auth.ok() ? status : auth;
}

void forget_client(const rd_kafka_t* rk) {
  ClientErrors& e = client_errors();
  std::lock_guard lock(e.mu);
  e.failures.erase(rk);
}

}  // namespace sluice::kafka
