// Linked into every test executable of a ThreadSanitizer build (tests/CMakeLists.txt).
//
// librdkafka uses C11 threads: thrd_create/join/detach, mtx_*, cnd_*. The TSan runtimes of Debian
// 12's toolchains (GCC 12's libtsan, clang 14) intercept none of them (interceptors for the C11
// thread functions came with LLVM 15); glibc implements them on its internal pthread entry
// points, which TSan does not see either. So:
// - a thread from thrd_create runs without TSan's per-thread state, and its first allocation
//   crashes inside the sanitizer (a SIGSEGV in SizeClassAllocator64LocalCache::Allocate on
//   rdk:broker-N, before any test code runs);
// - librdkafka's locks are invisible, and every hand-over between its threads is reported as
//   a race.
// Defining these functions in the executable makes librdkafka's calls bind to them, and they
// call the pthread functions TSan intercepts. glibc's mtx_t and cnd_t are pthread_mutex_t and
// pthread_cond_t in a union of the same size (glibc implements them so itself).
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <new>

namespace {

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));

pthread_mutex_t* mutex(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* cond(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

int result(int rc) {
  switch (rc) {
    case 0:
      return thrd_success;
    case EBUSY:
      return thrd_busy;
    case ETIMEDOUT:
      return thrd_timedout;
    case ENOMEM:
    case EAGAIN:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

struct Start {
  thrd_start_t function;
  void* argument;
};

void* run(void* raw) {
  const Start start = *static_cast<Start*>(raw);
  delete static_cast<Start*>(raw);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.function(start.argument)));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t function, void* argument) {
  auto* start = new (std::nothrow) Start{function, argument};
  if (start == nullptr) return thrd_nomem;
  pthread_t id;
  const int rc = pthread_create(&id, nullptr, run, start);
  if (rc != 0) {
    delete start;
    return result(rc);
  }
  *thread = id;
  return thrd_success;
}

int thrd_join(thrd_t thread, int* result_out) {
  void* value = nullptr;
  const int rc = pthread_join(thread, &value);
  if (rc == 0 && result_out != nullptr) {
    *result_out = static_cast<int>(reinterpret_cast<intptr_t>(value));
  }
  return result(rc);
}
int thrd_detach(thrd_t thread) { return result(pthread_detach(thread)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(mutex(m), &attributes);
  pthread_mutexattr_destroy(&attributes);
  return result(rc);
}
int mtx_lock(mtx_t* m) { return result(pthread_mutex_lock(mutex(m))); }
int mtx_trylock(mtx_t* m) { return result(pthread_mutex_trylock(mutex(m))); }
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict until) {
  return result(pthread_mutex_timedlock(mutex(m), until));
}
int mtx_unlock(mtx_t* m) { return result(pthread_mutex_unlock(mutex(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(mutex(m)); }

int cnd_init(cnd_t* c) { return result(pthread_cond_init(cond(c), nullptr)); }
int cnd_signal(cnd_t* c) { return result(pthread_cond_signal(cond(c))); }
int cnd_broadcast(cnd_t* c) { return result(pthread_cond_broadcast(cond(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return result(pthread_cond_wait(cond(c), mutex(m))); }
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m,
                  const struct timespec* __restrict until) {
  return result(pthread_cond_timedwait(cond(c), mutex(m), until));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(cond(c)); }

}  // extern "C"
