// The sensor pipeline against a secured broker (issue #17): a SASL_SSL listener with a CA the
// broker instance generated (scripts/kafka.sh with SLUICE_KAFKA_SECURITY=sasl_ssl, the ctest
// fixture secure_kafka), ACLs enforced. The simulator and the pipeline connect through
// configuration alone (a properties file or environment variables), process under
// exactly_once_v2, and the output read back read_committed is exactly the reference. A wrong
// password and a missing ACL end the app with a clear error; no secret appears in a log line,
// /metrics or /topology.
//
// Users (created by kafka.sh): admin (super user; the test's ACLs and read-backs), sluice and
// limited (ACLs set per test). They authenticate with SCRAM-SHA-512, which Debian 12's
// librdkafka 2.0.2 cannot do against Kafka 4.x (librdkafka #4895): every child process (the
// pipeline, the simulator, the Python read-backs) runs the same binaries on librdkafka 2.12.1
// (scripts/librdkafka-fixed.sh) through LD_LIBRARY_PATH, and each test checks which librdkafka
// its processes loaded. Two tests run on Debian's own librdkafka: SCRAM ends with an
// authentication error, PLAIN over TLS still works.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "e2e_harness.h"
#include "test_support.h"

namespace sluice::examples::sensor::e2e {
namespace {

// The librdkafka of the SCRAM clients: scripts/librdkafka-fixed.sh's build (the ctest fixture
// fixed_librdkafka makes it), or SLUICE_LIBRDKAFKA_FIXED_DIR.
constexpr char kFixedVersion[] = "2.12.1";
std::string fixed_librdkafka_dir() {
  const char* dir = std::getenv("SLUICE_LIBRDKAFKA_FIXED_DIR");
  return dir != nullptr && *dir != '\0' ? dir : SLUICE_LIBRDKAFKA_FIXED_DIR;
}
// Debian's librdkafka, which the binaries are built against: the version its header names.
std::string debian_version() {
  return fmt::format("{}.{}.{}", (RD_KAFKA_VERSION >> 24) & 0xff, (RD_KAFKA_VERSION >> 16) & 0xff,
                     (RD_KAFKA_VERSION >> 8) & 0xff);
}
// A child's environment entry that makes it load Debian's librdkafka again.
const std::string kDebianLibrdkafka = "LD_LIBRARY_PATH=";

// The librdkafka version a pipeline or simulator loaded, from its start-up line
// ("starting (librdkafka X)"); empty when the log has none.
std::string loaded_librdkafka(const std::string& log) {
  const std::string marker = "starting (librdkafka ";
  const size_t at = log.find(marker);
  if (at == std::string::npos) return "";
  const size_t from = at + marker.size();
  return log.substr(from, log.find(')', from) - from);
}

struct SecureBroker {
  std::string home, bootstrap, security_dir;
  std::string password(const std::string& user) const {
    std::ifstream in(security_dir + "/" + user + ".password");
    std::string p;
    std::getline(in, p);
    return p;
  }
  // librdkafka properties of `user` (kafka.sh writes them).
  std::string properties(const std::string& user) const {
    return security_dir + "/" + user + ".properties";
  }
  // The environment a container gets from a ConfigMap and a Secret.
  std::vector<std::string> environment(const std::string& user, const std::string& password,
                                       const std::string& mechanism = "SCRAM-SHA-512") const {
    return {"SECURITY_PROTOCOL=SASL_SSL", "SASL_MECHANISM=" + mechanism, "SASL_USERNAME=" + user,
            "SASL_PASSWORD=" + password, "SSL_CA_LOCATION=" + security_dir + "/ca.pem"};
  }
  // Kafka's AclCommand as admin: `args` after --add.
  void allow(const std::string& args) const {
    const std::string out = run(fmt::format(
        "SLUICE_KAFKA_HOME={} {}/scripts/kafka.sh java-tool org.apache.kafka.tools.AclCommand "
        "--bootstrap-server {} --command-config {}/admin-client.properties --add {} 2>&1",
        home, SLUICE_SOURCE_DIR, bootstrap, security_dir, args));
    note("ACL {}: {}", args, out.substr(0, 200));
  }
  // What an operator grants the application of `o` as user sluice (Kafka Streams' documented
  // ACLs): its topics (`prefix`), its group, its transactional ids (prefixed by the application
  // id), idempotent writes.
  void allow_application(const std::string& prefix, const PipelineOptions& o) const {
    allow(fmt::format(
        "--allow-principal User:sluice --operation All --topic {} --group {} --transactional-id "
        "{} --resource-pattern-type prefixed",
        prefix, o.application_id, o.application_id));
    allow("--allow-principal User:sluice --operation IdempotentWrite --cluster");
  }
};

const SecureBroker& broker() {
  static const SecureBroker b = [] {
    SecureBroker s;
    const char* home = std::getenv("SLUICE_KAFKA_HOME");
    s.home = home != nullptr ? home : "";
    s.security_dir = s.home + "/security";
    s.bootstrap = run(fmt::format("SLUICE_KAFKA_HOME={} {}/scripts/kafka.sh bootstrap 2>/dev/null",
                                  s.home, SLUICE_SOURCE_DIR));
    s.bootstrap = s.bootstrap.substr(0, s.bootstrap.find_first_of("\r\n"));
    // kafka_tool.py and read_topic.py read the topics back as admin.
    ::setenv("KAFKA_TOOL_CONFIG", s.properties("admin").c_str(), 1);
    // Every child loads librdkafka 2.12.1 (SCRAM) unless a test gives it kDebianLibrdkafka.
    ::setenv("LD_LIBRARY_PATH", fixed_librdkafka_dir().c_str(), 1);
    return s;
  }();
  return b;
}

class SecuredPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    if (broker().home.empty() || broker().bootstrap.empty() ||
        !std::filesystem::exists(broker().security_dir + "/ca.pem")) {
      GTEST_FAIL()
          << "no secured broker: run through ctest (fixture secure_kafka) or set "
             "SLUICE_KAFKA_HOME to an instance started with SLUICE_KAFKA_SECURITY=sasl_ssl";
    }
    if (!std::filesystem::exists(fixed_librdkafka_dir() + "/librdkafka.so.1")) {
      GTEST_FAIL() << "no librdkafka " << kFixedVersion << " in " << fixed_librdkafka_dir()
                   << ": run scripts/librdkafka-fixed.sh (ctest fixture fixed_librdkafka)";
    }
    dir_ = testing::unique_name("/tmp/sluice-security");
    std::filesystem::create_directories(dir_);
  }
  std::string dir_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool contains_ci(std::string text, std::string needle) {
  for (auto* s : {&text, &needle}) {
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text.find(needle) != std::string::npos;
}

// Waits up to `bound` for `p` to end by itself; its wait status, or nullopt (then killed).
std::optional<int> wait_for_exit(ChildProcess& p, std::chrono::seconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!p.running()) return p.wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  p.kill_now();
  return std::nullopt;
}

// A pipeline alone, keyed input, topics under `prefix`, configured by `args` and `env`.
std::unique_ptr<ChildProcess> start_pipeline(const std::string& prefix, const std::string& dir,
                                             std::vector<std::string> args,
                                             const std::vector<std::string>& env,
                                             const std::string& log) {
  const PipelineOptions o =
      PipelineOptions::for_prefix(broker().bootstrap, prefix, "exactly_once_v2", dir);
  std::vector<std::string> argv = pipeline_command(o, dir + "/state");
  argv.push_back("--emit");  // updates: the first records already write to the output
  argv.push_back("updates");
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<ChildProcess>(argv, log, environment_with(env));
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

TEST_F(SecuredPipeline, ScramSha512ExactlyOnceThroughConfigurationAloneAndNoSecretShows) {
  const SecureBroker& b = broker();
  // kafka.sh wrote SCRAM-SHA-512 into the user's properties: the fixed librdkafka is there.
  EXPECT_NE(slurp(b.properties("sluice")).find("\nsasl.mechanism=SCRAM-SHA-512\n"),
            std::string::npos)
      << slurp(b.properties("sluice")).substr(0, 200);
  const std::string prefix = testing::unique_name("sec");
  PipelineOptions o = PipelineOptions::for_prefix(b.bootstrap, prefix, "exactly_once_v2", dir_);
  b.allow_application(prefix, o);
  const std::string password = b.password("sluice");
  ASSERT_FALSE(password.empty());

  // Instance "file" reads a properties file (--config), instance "env" the environment only:
  // both serve the same application.
  PipelineOptions file_options = o;
  const int metrics_port = 18000 + static_cast<int>(::getpid() % 1000);
  file_options.extra_args = {"--config",       b.properties("sluice"),
                             "--metrics-port", std::to_string(metrics_port),
                             "--metrics-host", "127.0.0.1"};
  PipelineFleet by_file(file_options);
  PipelineOptions env_options = o;
  env_options.extra_env = b.environment("sluice", password);
  PipelineFleet by_env(env_options);
  by_file.restart_on_exit = false;
  by_env.restart_on_exit = false;

  SimulatorOptions so =
      SimulatorOptions::for_pipeline(o, 17, event_time_start_s(2), dir_ + "/simulator.log");
  so.rate = 200;
  so.extra_env = b.environment("sluice", password);
  Simulator simulator(so);
  // One instance at a time: instances starting together race to create the topics.
  sleep_polling({}, 3);
  by_env.start("env", true);
  ASSERT_TRUE(wait_for_output({&by_env}, b.bootstrap, o.stats_topic, 120))
      << by_env.grep_logs({"ERROR", "WARN"});
  by_file.start("file", true);
  sleep_polling({&by_file, &by_env}, 15);

  // The HTTP endpoints while it runs.
  const std::string metrics =
      run(fmt::format("curl -s --max-time 10 http://127.0.0.1:{}/metrics", metrics_port));
  const std::string topology =
      run(fmt::format("curl -s --max-time 10 http://127.0.0.1:{}/topology", metrics_port));
  EXPECT_NE(metrics.find("sluice_"), std::string::npos) << metrics.substr(0, 300);
  EXPECT_NE(metrics.find(fmt::format("librdkafka=\"{}\"", kFixedVersion)), std::string::npos)
      << "the running instance reports the librdkafka it loaded";
  EXPECT_FALSE(topology.empty());

  const std::string summary = simulator.stop();
  note("simulator: {}", summary);
  EXPECT_TRUE(simulator.exited_cleanly()) << summary;
  EXPECT_TRUE(wait_caught_up(by_file, {o.input_topic}, 180, {&by_env}));
  EXPECT_EQ(exit_code(by_env.stop("env")), 0);
  EXPECT_EQ(exit_code(by_file.stop("file")), 0);

  const Outcome outcome = judge(by_file, {}, "secured", 60);
  note("{}", outcome.summary);
  expect_exact(outcome);
  EXPECT_GT(outcome.reference.closed.size(), 0u);
  expect_processes_clean(by_file);
  expect_processes_clean(by_env);

  // Every process ran on librdkafka 2.12.1, so SCRAM-SHA-512 was what authenticated them.
  std::string logs = slurp(dir_ + "/simulator.log");
  EXPECT_EQ(loaded_librdkafka(logs), kFixedVersion) << logs.substr(0, 500);
  for (const auto* fleet : {&by_file, &by_env}) {
    for (const auto& log : fleet->logs()) {
      const std::string text = slurp(log);
      EXPECT_EQ(loaded_librdkafka(text), kFixedVersion) << log;
      EXPECT_NE(text.find("sasl.mechanism=SCRAM-SHA-512"), std::string::npos) << log;
      logs += text;
    }
  }
  // No secret anywhere: logs of both instances and the simulator, /metrics, /topology.
  EXPECT_NE(logs.find("sasl.password=[redacted]"), std::string::npos)
      << "the start-up line names the key, not the value";
  for (const std::string& secret : {password, b.password("admin"), b.password("store")}) {
    EXPECT_EQ(logs.find(secret), std::string::npos);
    EXPECT_EQ(metrics.find(secret), std::string::npos);
    EXPECT_EQ(topology.find(secret), std::string::npos);
  }
}

// A wrong SCRAM-SHA-512 password, on librdkafka 2.12.1.
TEST_F(SecuredPipeline, WrongPasswordEndsPipelineAndSimulatorWithAnAuthenticationError) {
  const SecureBroker& b = broker();
  const std::string prefix = testing::unique_name("secpw");
  const std::string wrong = "wrong-" + testing::unique_name("pw");
  const auto env = b.environment("sluice", wrong);

  auto pipeline = start_pipeline(prefix, dir_, {}, env, dir_ + "/pipeline.log");
  const auto status = wait_for_exit(*pipeline, std::chrono::seconds(180));
  const std::string log = slurp(dir_ + "/pipeline.log");
  ASSERT_TRUE(status.has_value()) << "the pipeline still ran after 180 s:\n" << log;
  EXPECT_EQ(loaded_librdkafka(log), kFixedVersion) << log;
  EXPECT_NE(exit_code(*status), 0) << log;
  EXPECT_TRUE(contains_ci(log, "authentication with the broker")) << log;
  EXPECT_TRUE(contains_ci(log, "sasl.password")) << log;
  EXPECT_EQ(log.find("librdkafka #4895"), std::string::npos) << "2.12.1 has the fix:\n" << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << log;

  ChildProcess simulator({SENSOR_SIMULATOR_PATH, "--bootstrap-servers", b.bootstrap, "--topic",
                          prefix + "-data", "--metadata-topic", prefix + "-meta", "--count", "10"},
                         dir_ + "/simulator.log", environment_with(env));
  const auto sim_status = wait_for_exit(simulator, std::chrono::seconds(180));
  const std::string sim_log = slurp(dir_ + "/simulator.log");
  ASSERT_TRUE(sim_status.has_value()) << "the simulator still ran after 180 s:\n" << sim_log;
  EXPECT_EQ(loaded_librdkafka(sim_log), kFixedVersion) << sim_log;
  EXPECT_NE(exit_code(*sim_status), 0) << sim_log;
  EXPECT_TRUE(contains_ci(sim_log, "authentication with the broker")) << sim_log;
  EXPECT_EQ(sim_log.find(wrong), std::string::npos) << sim_log;
}

// The user may use its topics and group but holds no transactional-id ACL: exactly-once
// cannot start, and the error names the transactional id.
TEST_F(SecuredPipeline, MissingTransactionalIdAclEndsTheAppNamingIt) {
  const SecureBroker& b = broker();
  const std::string prefix = testing::unique_name("sectx");
  const std::string app = prefix + "-app";
  b.allow(
      fmt::format("--allow-principal User:limited --operation All --topic {} --group {} "
                  "--resource-pattern-type prefixed",
                  prefix, app));
  b.allow("--allow-principal User:limited --operation IdempotentWrite --cluster");

  auto pipeline = start_pipeline(prefix, dir_, {"--config", b.properties("limited")}, {},
                                 dir_ + "/pipeline.log");
  const auto status = wait_for_exit(*pipeline, std::chrono::seconds(180));
  const std::string log = slurp(dir_ + "/pipeline.log");
  ASSERT_TRUE(status.has_value()) << "the pipeline still ran after 180 s:\n" << log;
  EXPECT_NE(exit_code(*status), 0) << log;
  EXPECT_NE(log.find("TRANSACTIONAL_ID_AUTHORIZATION_FAILED"), std::string::npos) << log;
  EXPECT_NE(log.find("transactional.id '" + app), std::string::npos) << log;
  EXPECT_EQ(log.find(b.password("limited")), std::string::npos);
}

// No WRITE on the output topic: the first transaction that writes there fails, and the app
// ends with the authorization error (librdkafka's log line names the topic).
TEST_F(SecuredPipeline, MissingWriteAclOnTheOutputEndsTheApp) {
  const SecureBroker& b = broker();
  const std::string prefix = testing::unique_name("secwr");
  const std::string app = prefix + "-app";
  const std::string denied = "denied-" + prefix + "-stats";
  b.allow(fmt::format(
      "--allow-principal User:limited --operation All --topic {} --group {} --transactional-id "
      "{} --resource-pattern-type prefixed",
      prefix, app, app));
  b.allow(fmt::format(
      "--allow-principal User:limited --operation Describe --operation Read --operation Create "
      "--topic {}",
      denied));
  b.allow("--allow-principal User:limited --operation IdempotentWrite --cluster");

  // librdkafka fails the transaction when it cannot add the denied partition and purges its
  // records; the commit must report that authorization error (fatal), not the purged records'
  // abortable _PURGE_QUEUE, which would be retried until task.timeout.ms (300 s).
  auto pipeline =
      start_pipeline(prefix, dir_, {"--config", b.properties("limited"), "--stats-topic", denied},
                     {}, dir_ + "/pipeline.log");
  // Input, written as admin.
  ChildProcess simulator({SENSOR_SIMULATOR_PATH, "--bootstrap-servers", b.bootstrap, "--topic",
                          prefix + "-data", "--metadata-topic", prefix + "-meta", "--keyed",
                          "--count", "200", "--rate", "0", "--config", b.properties("admin")},
                         dir_ + "/simulator.log");
  const auto sim_status = wait_for_exit(simulator, std::chrono::seconds(120));
  ASSERT_TRUE(sim_status.has_value());
  EXPECT_EQ(exit_code(*sim_status), 0) << slurp(dir_ + "/simulator.log");

  const auto status = wait_for_exit(*pipeline, std::chrono::seconds(180));
  const std::string log = slurp(dir_ + "/pipeline.log");
  ASSERT_TRUE(status.has_value()) << "the pipeline still ran after 180 s:\n" << log;
  EXPECT_NE(exit_code(*status), 0) << log;
  EXPECT_NE(log.find("TOPIC_AUTHORIZATION_FAILED"), std::string::npos) << log;
  EXPECT_NE(log.find("\"" + denied + "\""), std::string::npos) << log;
  // Ended by the authorization error itself: the purged records' error was never taken for
  // the cause and retried.
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_FALSE(line.find("[retriable]") != std::string::npos &&
                 line.find("Purged") != std::string::npos)
        << line;
  }
  EXPECT_EQ(log.find("giving up"), std::string::npos) << log;
}

// Debian 12's own librdkafka (2.0.2) with the right SCRAM-SHA-512 password: its client-final
// message carries a wrong nonce (librdkafka #4895), Kafka 4.x refuses it, and the app ends
// with the authentication error instead of hanging.
TEST_F(SecuredPipeline, DebiansLibrdkafkaFailsScramWithAnAuthenticationError) {
  const SecureBroker& b = broker();
  ASSERT_NE(debian_version(), kFixedVersion) << "built against the fixed librdkafka's header";
  const std::string prefix = testing::unique_name("secdeb");
  const std::string password = b.password("sluice");
  auto env = b.environment("sluice", password);
  env.push_back(kDebianLibrdkafka);

  auto pipeline = start_pipeline(prefix, dir_, {}, env, dir_ + "/pipeline.log");
  const auto status = wait_for_exit(*pipeline, std::chrono::seconds(180));
  const std::string log = slurp(dir_ + "/pipeline.log");
  ASSERT_TRUE(status.has_value()) << "the pipeline still ran after 180 s:\n" << log;
  EXPECT_EQ(loaded_librdkafka(log), debian_version()) << log;
  EXPECT_NE(log.find("sasl.mechanism=SCRAM-SHA-512"), std::string::npos) << log;
  EXPECT_NE(exit_code(*status), 0) << log;
  EXPECT_TRUE(contains_ci(log, "authentication with the broker")) << log;
  EXPECT_TRUE(contains_ci(log, "invalid credentials with SASL mechanism SCRAM-SHA-512")) << log;
  // The error says why the right password failed.
  EXPECT_NE(log.find(fmt::format("librdkafka {} sends a wrong nonce", debian_version())),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(password), std::string::npos) << log;
}

// Debian's own librdkafka still authenticates with PLAIN inside TLS: the simulator writes the
// input and the pipeline processes it, both on 2.0.2.
TEST_F(SecuredPipeline, DebiansLibrdkafkaStillWorksWithPlainOverTls) {
  const SecureBroker& b = broker();
  const std::string prefix = testing::unique_name("secplain");
  const PipelineOptions o =
      PipelineOptions::for_prefix(b.bootstrap, prefix, "exactly_once_v2", dir_);
  b.allow_application(prefix, o);
  const std::string password = b.password("sluice");
  auto env = b.environment("sluice", password, "PLAIN");
  env.push_back(kDebianLibrdkafka);

  ChildProcess simulator(
      {SENSOR_SIMULATOR_PATH, "--bootstrap-servers", b.bootstrap, "--topic", o.input_topic,
       "--metadata-topic", o.metadata_topic, "--keyed", "--count", "200", "--rate", "0"},
      dir_ + "/simulator.log", environment_with(env));
  const auto sim_status = wait_for_exit(simulator, std::chrono::seconds(120));
  const std::string sim_log = slurp(dir_ + "/simulator.log");
  ASSERT_TRUE(sim_status.has_value()) << "the simulator still ran after 120 s:\n" << sim_log;
  EXPECT_EQ(loaded_librdkafka(sim_log), debian_version()) << sim_log;
  EXPECT_EQ(exit_code(*sim_status), 0) << sim_log;

  auto pipeline = start_pipeline(prefix, dir_, {}, env, dir_ + "/pipeline.log");
  EXPECT_TRUE(wait_for_output({}, b.bootstrap, o.stats_topic, 120))
      << slurp(dir_ + "/pipeline.log");
  const int status = pipeline->stop();
  const std::string log = slurp(dir_ + "/pipeline.log");
  EXPECT_EQ(loaded_librdkafka(log), debian_version()) << log;
  EXPECT_NE(log.find("sasl.mechanism=PLAIN"), std::string::npos) << log;
  EXPECT_EQ(exit_code(status), 0) << log;
  EXPECT_EQ(log.find(password), std::string::npos) << log;
  EXPECT_EQ(sim_log.find(password), std::string::npos) << sim_log;
}

}  // namespace
}  // namespace sluice::examples::sensor::e2e
