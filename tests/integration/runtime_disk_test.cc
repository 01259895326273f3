// Disk faults (issue #17, docs/error-handling.md): an unwritable state directory fails start()
// naming the path; a state directory locked by another live instance fails start() naming that
// instance; a store RocksDB finds corrupt at open (garbled MANIFEST, truncated table file,
// malformed offset metadata) is wiped and rebuilt from its changelog, and the counts go on
// exactly; a full disk ends the instance in ERROR naming the cause, and a restart after space
// is freed goes on exactly. The read-only and full-disk cases mount a tmpfs (root) or use
// chmod (not root); they skip when neither can be done here.
#include <fcntl.h>
#include <rocksdb/db.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"
#include "wordcount_topology.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

StreamsConfig disk_config(const std::string& app, const std::string& state_dir,
                          const Properties& extra = {}) {
  Properties props = {{"bootstrap.servers", bootstrap_servers()},
                      {"application.id", app},
                      {"state.dir", state_dir},
                      {"processing.guarantee", "exactly_once_v2"},
                      {"commit.interval.ms", "100"},
                      {"consumer.session.timeout.ms", "10000"}};
  for (const auto& [k, v] : extra) props[k] = v;
  auto config = StreamsConfig::create(props);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Counts the words of `lines_total` lines (all produced already) and stops cleanly; the output
// of every word reads 1, 2, 3, ... across runs (exactly once, state kept or restored).
void count_to_the_end(const std::string& app, const std::string& input, const std::string& output,
                      const std::string& state_dir, int lines_total) {
  auto topology = word_count_topology(input, output, "counts");
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), disk_config(app, state_dir));
  ASSERT_TRUE(streams.start().ok());
  const auto expected = expected_counts(lines_total);
  auto got =
      read_counts(output, 1, [&](const auto& g) { return final_counts_reached(g, expected); });
  expect_exact_sequences(got, expected);
  EXPECT_NE(streams.state(), StreamsState::kError) << streams.error();
  ASSERT_TRUE(streams.close(30s).ok());
}

// A tmpfs mounted at `dir` for the test's lifetime (root only).
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& options, unsigned long flags = 0)
      : dir_(dir) {
    fs::create_directories(dir);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", flags, options.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool remount(const std::string& options) {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, options.c_str()) == 0;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST(RuntimeDisk, UnwritableStateDirectoryFailsStartNamingThePath) {
  const std::string state = temp_dir("disk-ro");
  std::optional<TmpfsMount> ro;
  if (::geteuid() == 0) {
    // chmod does not stop root: a read-only mount does.
    ro.emplace(state, "size=1m", MS_RDONLY);
    if (!ro->mounted()) GTEST_SKIP() << "running as root and cannot mount a read-only tmpfs";
  } else {
    ASSERT_EQ(::chmod(state.c_str(), 0500), 0);
  }
  const std::string app = unique_name("disk-ro");
  auto topology = word_count_topology(unique_name("disk-ro-in"), unique_name("disk-ro-out"), "c");
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), disk_config(app, state));
  absl::Status st = streams.start();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(state + "/" + app));
  EXPECT_THAT(std::string(st.message()), HasSubstr("is not writable"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("state.dir"));
  EXPECT_EQ(streams.state(), StreamsState::kError);
  if (::geteuid() != 0) ::chmod(state.c_str(), 0700);
}

TEST(RuntimeDisk, StateDirectoryLockedByAnotherLiveInstanceIsNamed) {
  const std::string state = temp_dir("disk-lock");
  const auto [app, input, output] = app_and_topics("disk-lock", "disk-lock", 1);
  auto first_topology = word_count_topology(input, output, "counts");
  ASSERT_TRUE(first_topology.ok());
  auto first = std::make_unique<KafkaStreams>(std::move(*first_topology), disk_config(app, state));
  std::string first_id;
  std::ifstream(fs::path(state) / app / "sluice-process-id") >> first_id;
  ASSERT_EQ(first_id.size(), 16u);

  auto second_topology = word_count_topology(input, output, "counts");
  ASSERT_TRUE(second_topology.ok());
  KafkaStreams second(std::move(*second_topology), disk_config(app, state));
  absl::Status st = second.start();
  ASSERT_FALSE(st.ok());
  const std::string message(st.message());
  EXPECT_THAT(message, HasSubstr("is locked by another live instance"));
  EXPECT_THAT(message, HasSubstr(fs::path(state) / app));
  EXPECT_THAT(message, HasSubstr("process id " + first_id));
  EXPECT_THAT(message, HasSubstr(fmt::format("pid {}", ::getpid())));

  // Once the first is gone, the directory is free again.
  first.reset();
  auto third_topology = word_count_topology(input, output, "counts");
  ASSERT_TRUE(third_topology.ok());
  KafkaStreams third(std::move(*third_topology), disk_config(app, state));
  ASSERT_TRUE(third.start().ok());
  ASSERT_TRUE(third.close(30s).ok());
}

// Writes `dir`/`name` until the file system says it is full, down to the last byte; returns
// the bytes written.
uintmax_t fill(const fs::path& dir, const std::string& name) {
  const int fd = ::open((dir / name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  const std::string block(64 * 1024, 'f');
  uintmax_t written = 0;
  for (size_t chunk = block.size(); chunk > 0; chunk /= 4) {
    ssize_t n = 0;
    while ((n = ::write(fd, block.data(), chunk)) > 0) written += static_cast<uintmax_t>(n);
  }
  ::close(fd);
  return written;
}

TEST(RuntimeDisk, FullDiskEndsTheInstanceNamingTheCauseAndARestartGoesOnExactly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  const std::string state = temp_dir("disk-full");
  TmpfsMount tmpfs(state, "size=32m");
  if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here";
  const auto [app, input, output] = app_and_topics("disk-full", "disk-full", 1);
  produce_lines(input, 0, 40);
  count_to_the_end(app, input, output, state, 40);
  {
    auto topology = word_count_topology(input, output, "counts");
    ASSERT_TRUE(topology.ok()) << topology.status();
    KafkaStreams streams(std::move(*topology), disk_config(app, state));
    ASSERT_TRUE(streams.start().ok());
    ASSERT_TRUE(streams.wait_until_running(60s)) << streams.error();
    // The disk fills up while the instance runs; the next records need space for the store.
    ASSERT_GT(fill(state, "filler"), 0u);
    produce_lines(input, 40, 400);
    ASSERT_EQ(streams.wait_until_stopped(120s), StreamsState::kError);
    const std::string error(streams.error().message());
    EXPECT_THAT(error, HasSubstr("No space left on device"));
    EXPECT_THAT(error, HasSubstr("counts"));
  }
  // A full disk at start-up is refused before any store opens (closing freed some space).
  (void)fill(state, "filler2");
  {
    auto topology = word_count_topology(input, output, "counts");
    ASSERT_TRUE(topology.ok()) << topology.status();
    KafkaStreams streams(std::move(*topology), disk_config(app, state));
    absl::Status st = streams.start();
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(std::string(st.message()), HasSubstr("No space left on device"));
    EXPECT_THAT(std::string(st.message()), HasSubstr(state));
  }
  // Space is freed: the counts go on exactly where the last committed transaction left them.
  fs::remove(fs::path(state) / "filler");
  fs::remove(fs::path(state) / "filler2");
  count_to_the_end(app, input, output, state, 400);
}

// Ways to damage the "counts" store of the counting task (1_0) of a cleanly stopped instance.
enum class Damage { kManifest, kTableFile, kOffsetMetadata };

std::string damage_name(const ::testing::TestParamInfo<Damage>& info) {
  switch (info.param) {
    case Damage::kManifest:
      return "GarbledManifest";
    case Damage::kTableFile:
      return "TruncatedTableFile";
    case Damage::kOffsetMetadata:
      return "MalformedOffsetMetadata";
  }
  return "Unknown";
}

void garble(const fs::path& file) {
  const auto size = fs::file_size(file);
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << file;
  f.seekp(static_cast<std::streamoff>(size / 3));
  const std::string junk(std::min<uintmax_t>(64, size / 3 + 1), '\x5a');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

// Opens the store's RocksDB database with all its column families and calls `fn` on it.
template <typename F>
void with_database(const fs::path& store_dir, F fn) {
  rocksdb::Options options;
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, store_dir.string(), &families).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& f : families) descriptors.emplace_back(f, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, store_dir.string(), descriptors, &handles, &db).ok());
  fn(*db, handles);
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  delete db;
}

void damage(const fs::path& store_dir, Damage how) {
  ASSERT_TRUE(fs::is_directory(store_dir)) << store_dir;
  if (how == Damage::kOffsetMetadata) {
    // Sluice's own checkpoint: the changelog offset kept inside the store.
    with_database(store_dir, [](rocksdb::DB& db, const auto& handles) {
      for (auto* h : handles) {
        if (h->GetName() == "sluice.meta") {
          EXPECT_TRUE(db.Put(rocksdb::WriteOptions(), h, "changelog.offset", "garbage").ok());
        }
      }
    });
    return;
  }
  if (how == Damage::kTableFile) {
    // The counts may still sit in the write-ahead log only: flush them into table files.
    with_database(store_dir, [](rocksdb::DB& db, const auto& handles) {
      EXPECT_TRUE(db.Flush(rocksdb::FlushOptions(), handles).ok());
    });
  }
  std::vector<fs::path> manifests;
  std::vector<fs::path> tables;
  for (const auto& e : fs::directory_iterator(store_dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("MANIFEST-")) manifests.push_back(e.path());
    if (e.path().extension() == ".sst") tables.push_back(e.path());
  }
  if (how == Damage::kManifest) {
    ASSERT_FALSE(manifests.empty()) << "no MANIFEST in " << store_dir;
    for (const auto& m : manifests) garble(m);
    return;
  }
  ASSERT_FALSE(tables.empty()) << "no table file in " << store_dir;
  for (const auto& t : tables) fs::resize_file(t, fs::file_size(t) / 2);
}

class CorruptStore : public ::testing::TestWithParam<Damage> {};

TEST_P(CorruptStore, IsRebuiltFromItsChangelogAndCountsGoOnExactly) {
  const std::string app = unique_name("disk-corrupt");
  const std::string input = unique_name("disk-corrupt-in");
  const std::string output = unique_name("disk-corrupt-out");
  const std::string state = temp_dir("disk-corrupt-state");
  create_topic(input, 1);
  create_topic(output, 1);
  produce_lines(input, 0, 40);
  count_to_the_end(app, input, output, state, 40);
  const fs::path task_dir = fs::path(state) / app / "1_0";
  damage(task_dir / "rocksdb" / "counts", GetParam());
  // The .checkpoint file is written for tools and never read (the offset lives in the store):
  // garbling it changes nothing.
  if (fs::exists(task_dir / ".checkpoint")) std::ofstream(task_dir / ".checkpoint") << "x\ny\n";
  produce_lines(input, 40, 60);
  // The counts go on from the restored values: 41st line's words continue their sequences.
  count_to_the_end(app, input, output, state, 60);
}

INSTANTIATE_TEST_SUITE_P(Damages, CorruptStore,
                         ::testing::Values(Damage::kManifest, Damage::kTableFile,
                                           Damage::kOffsetMetadata),
                         damage_name);

}  // namespace
}  // namespace sluice::testing
