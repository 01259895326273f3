/* raw-relay: the ceiling of `make bench`. A minimal librdkafka consume -> produce loop that copies
 * every record of the input topic to the output topic (same partition, key, value and timestamp),
 * with no parsing and no state: what one thread moves through this broker when nothing else is
 * done. Batched fetches (rd_kafka_consume_batch_queue, large fetch queues) and batched produces
 * (linger, large batches); at_least_once commits offsets after a flush every commit interval
 * (30 s), exactly_once_v2 wraps each commit interval (100 ms) in a transaction and commits the
 * consumer's positions inside it (KIP-447 group metadata), as Kafka Streams does.
 *
 *   raw-relay --bootstrap-servers H:P --input T --output T --group-id G
 *             --guarantee at_least_once|exactly_once_v2 [--expect N] [--commit-interval-ms MS]
 *
 * Progress lines on stdout, as the other peers print them: "BENCH ready" once partitions are
 * assigned, "BENCH first" at the first record, "BENCH done" at the N'th. SIGTERM/SIGINT: commit
 * what was relayed (flush; commit offsets or the transaction), close, exit 0. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "raw-relay: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void say(const char *what) {
  printf("BENCH %s\n", what);
  fflush(stdout);
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    die("config %s=%s: %s", key, value, err);
  }
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int g_delivery_errors = 0;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) {
    if (g_delivery_errors++ < 5) fprintf(stderr, "raw-relay: delivery: %s\n", rd_kafka_err2str(m->err));
  }
}

static int g_assigned = 0;
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  (void)opaque;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(rk, parts);
    if (!g_assigned && parts->cnt > 0) {
      g_assigned = 1;
      say("ready");
    }
  } else {
    rd_kafka_assign(rk, NULL);
  }
}

static void check_error(rd_kafka_error_t *error, const char *what) {
  if (error) {
    die("%s: %s", what, rd_kafka_error_string(error));
  }
}

/* The consumer's positions (next offsets to read) of its assigned partitions. */
static rd_kafka_topic_partition_list_t *positions(rd_kafka_t *consumer) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (rd_kafka_assignment(consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR) die("assignment");
  rd_kafka_position(consumer, parts);
  return parts;
}

static void commit(rd_kafka_t *consumer, rd_kafka_t *producer, int eos, int *in_txn) {
  rd_kafka_topic_partition_list_t *offsets = positions(consumer);
  int any = 0;
  for (int i = 0; i < offsets->cnt; ++i) any |= offsets->elems[i].offset >= 0;
  if (eos) {
    if (*in_txn) {
      if (any) {
        rd_kafka_consumer_group_metadata_t *meta = rd_kafka_consumer_group_metadata(consumer);
        check_error(rd_kafka_send_offsets_to_transaction(producer, offsets, meta, 30000),
                    "send_offsets_to_transaction");
        rd_kafka_consumer_group_metadata_destroy(meta);
      }
      check_error(rd_kafka_commit_transaction(producer, 30000), "commit_transaction");
      *in_txn = 0;
    }
  } else {
    if (rd_kafka_flush(producer, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("flush timed out");
    if (g_delivery_errors) die("%d records were not delivered", g_delivery_errors);
    if (any) rd_kafka_commit(consumer, offsets, 0);
  }
  rd_kafka_topic_partition_list_destroy(offsets);
}

int main(int argc, char **argv) {
  const char *bootstrap = "127.0.0.1:9092", *input = NULL, *output = NULL, *group = "raw-relay";
  const char *guarantee = "at_least_once";
  long long expect = -1, commit_interval = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *f = argv[i], *v = argv[i + 1];
    if (!strcmp(f, "--bootstrap-servers")) bootstrap = v;
    else if (!strcmp(f, "--input")) input = v;
    else if (!strcmp(f, "--output")) output = v;
    else if (!strcmp(f, "--group-id")) group = v;
    else if (!strcmp(f, "--guarantee")) guarantee = v;
    else if (!strcmp(f, "--expect")) expect = atoll(v);
    else if (!strcmp(f, "--commit-interval-ms")) commit_interval = atoll(v);
    else die("unknown flag %s", f);
  }
  if (!input || !output) die("--input and --output are required");
  const int eos = !strcmp(guarantee, "exactly_once_v2");
  if (!eos && strcmp(guarantee, "at_least_once")) die("unknown guarantee %s", guarantee);
  if (commit_interval < 0) commit_interval = eos ? 100 : 30000;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  char err[512];
  rd_kafka_conf_t *cc = rd_kafka_conf_new();
  set(cc, "bootstrap.servers", bootstrap);
  set(cc, "group.id", group);
  set(cc, "enable.auto.commit", "false");
  set(cc, "auto.offset.reset", "earliest");
  set(cc, "isolation.level", eos ? "read_committed" : "read_uncommitted");
  /* Batched fetches: keep up to 1M records / 512 MiB prefetched, fetch big chunks. */
  set(cc, "queued.min.messages", "1000000");
  set(cc, "queued.max.messages.kbytes", "524288");
  set(cc, "fetch.max.bytes", "52428800");
  set(cc, "max.partition.fetch.bytes", "10485760");
  rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
  rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
  if (!consumer) die("consumer: %s", err);
  rd_kafka_poll_set_consumer(consumer);

  rd_kafka_conf_t *pc = rd_kafka_conf_new();
  set(pc, "bootstrap.servers", bootstrap);
  /* Batched produces: linger a little, large batches and queue. */
  set(pc, "linger.ms", "5");
  set(pc, "batch.num.messages", "10000");
  set(pc, "batch.size", "1048576");
  set(pc, "queue.buffering.max.messages", "1000000");
  set(pc, "queue.buffering.max.kbytes", "1048576");
  set(pc, "enable.idempotence", "true");
  if (eos) {
    char txn_id[512];
    snprintf(txn_id, sizeof(txn_id), "%s-raw-relay", group);
    set(pc, "transactional.id", txn_id);
  }
  rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
  rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
  if (!producer) die("producer: %s", err);
  if (eos) check_error(rd_kafka_init_transactions(producer, 60000), "init_transactions");

  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, input, RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(consumer, topics)) die("subscribe %s", input);
  rd_kafka_topic_partition_list_destroy(topics);

  rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(consumer);
  rd_kafka_topic_t *out = rd_kafka_topic_new(producer, output, NULL);
  enum { kBatch = 10000 };
  rd_kafka_message_t **batch = malloc(sizeof(*batch) * kBatch);
  long long seen = 0, next_commit = now_ms() + commit_interval;
  int in_txn = 0;
  while (!g_stop) {
    ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, kBatch);
    if (n < 0) die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t *m = batch[i];
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          fprintf(stderr, "raw-relay: consume: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        continue;
      }
      if (eos && !in_txn) {
        check_error(rd_kafka_begin_transaction(producer), "begin_transaction");
        in_txn = 1;
      }
      rd_kafka_timestamp_type_t tstype;
      const int64_t ts = rd_kafka_message_timestamp(m, &tstype);
      for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            producer, RD_KAFKA_V_RKT(out), RD_KAFKA_V_PARTITION(m->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
            RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(producer, 10);
          continue;
        }
        if (e) die("produce: %s", rd_kafka_err2str(e));
        break;
      }
      ++seen;
      if (seen == 1) say("first");
      if (seen == expect) say("done");
      rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(producer, 0);
    if (now_ms() >= next_commit) {
      commit(consumer, producer, eos, &in_txn);
      next_commit = now_ms() + commit_interval;
    }
  }
  commit(consumer, producer, eos, &in_txn);
  free(batch);
  rd_kafka_topic_destroy(out);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_flush(producer, 30000);
  rd_kafka_destroy(producer);
  return 0;
}
