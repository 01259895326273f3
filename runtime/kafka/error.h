// Turning librdkafka errors (rd_kafka_error_t, rd_kafka_resp_err_t) into absl::Status while
// keeping the three classes a caller must tell apart: fatal, retriable, abort-the-transaction.
#pragma once

#include <librdkafka/rdkafka.h>

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace sluice::kafka {

// What a caller must do about a failed Kafka operation.
//   kFatal            the client instance is unusable (e.g. the producer was fenced by a newer
//                     instance with the same transactional.id): close it, and for EOS close
//                     the tasks it served as "migrated" and rejoin.
//   kAbortTransaction the current transaction must be aborted, then the client can go on.
//   kRetriable        the same call may succeed when repeated (timeouts, coordinator moves).
//   kOther            anything else (bad arguments, unknown topic, authorization...).
// A status carries exactly one kind; when librdkafka flags several, fatal wins over abort,
// abort over retriable.
enum class KafkaErrorKind { kFatal, kRetriable, kAbortTransaction, kOther };

std::string_view to_string(KafkaErrorKind kind);

// Builds a status from an rd_kafka_error_t (not consumed; the caller still destroys it).
// `context` names the operation and the object, e.g.
// "commit_transaction for transactional.id 'app-0_1'"; the message reads
// "<context> failed: <librdkafka error name>: <error string>".
absl::Status error_status(const rd_kafka_error_t* error, std::string_view context);

// Same, and destroys `error`. Returns OK for a null error, so it can wrap any call returning
// rd_kafka_error_t* directly.
absl::Status take_error(rd_kafka_error_t* error, std::string_view context);

// Builds a status from a bare error code. `detail` (an errstr from librdkafka) replaces the
// generic error text when given. Fatal codes (fencing) are classified fatal even without
// librdkafka's fatal flag; well-known transient codes are classified retriable.
absl::Status code_status(rd_kafka_resp_err_t code, std::string_view context,
                         std::string_view detail = {});

// A status of an explicit kind, for errors this layer detects itself (a record of the
// transaction failed delivery: abort). Same message format as above.
absl::Status kafka_error(KafkaErrorKind kind, rd_kafka_resp_err_t code, std::string_view context,
                         std::string_view text);

// The kind a status carries; kOther for statuses that did not come from this file, and for
// OK (callers test ok() first).
KafkaErrorKind error_kind(const absl::Status& status);
bool is_fatal(const absl::Status& status);
bool is_retriable(const absl::Status& status);
bool requires_abort(const absl::Status& status);

// The librdkafka error code a status came from, if it came from this file.
std::optional<rd_kafka_resp_err_t> error_code(const absl::Status& status);

// Classification of a bare code as code_status applies it (exposed for tests and callers that
// want to decide before building a status).
KafkaErrorKind classify_code(rd_kafka_resp_err_t code);

// ---- authentication failures of a client ----
// librdkafka retries a connection whose SASL or TLS handshake failed (wrong password,
// untrusted certificate) and says so only in a log line; every request then ends in a generic
// transport error or a timeout. make_conf's log callback records such a failure per client,
// so a failed call can say why (Java's clients throw an AuthenticationException).

// Records a connection failure of `rk` (from librdkafka's log callback); only _AUTHENTICATION
// and _SSL are kept, the first one wins.
void record_client_error(const rd_kafka_t* rk, rd_kafka_resp_err_t code, std::string_view reason);
// The authentication failure recorded for `rk` as a fatal status ("authentication with the
// broker failed: ..."); OK when none was.
absl::Status authentication_failure(const rd_kafka_t* rk);
// `status`, or the client's authentication failure instead when `status` is a retriable or
// timeout error (what a request of a client that cannot authenticate ends in).
absl::Status explain_failure(const rd_kafka_t* rk, absl::Status status);
// Forgets `rk` (its handle is being destroyed).
void forget_client(const rd_kafka_t* rk);

}  // namespace sluice::kafka
