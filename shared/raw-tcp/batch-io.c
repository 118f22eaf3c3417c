/*
 * batch-io: comet-lab's Node-API addon that moves many sockets' reads or writes across the JS/C++ boundary at once.
 * Node's stream bindings cross that boundary once per read (a MakeCallback into JS) and once per write (an API call
 * and its request object); a load generator at 100,000 chunks/s paid about 1 µs of its 6-7 µs per chunk there, and
 * a server worker about as much per write (perf, issue 15). Here:
 *
 *   writeStrings(fds Int32Array, entries Array, count, results Int32Array)
 *       write(fds[i], entries[i]) for i < count, one call for the whole batch: a string is written as UTF-8, a
 *       Uint8Array as it is, and 0 repeats the bytes of the entry before (a broadcast: one payload, many sockets);
 *       results[i] = 0 when all was written, the bytes NOT written after a partial write, or -errno (-EAGAIN:
 *       nothing written). Once a socket
 *       took less than asked, its later strings in the batch are not tried (-EAGAIN), so the caller queues them in
 *       order behind the rest.
 *
 *   readerCreate(buffer Uint8Array, results Int32Array, onBatch(count)) -> reader
 *   readerWatch(reader, fd, slot) / readerUnwatch(reader, fd) -> 0 or -errno
 *   readerClose(reader)
 *       The reader's own epoll set, watched by the Node event loop through one uv_poll handle. When any of its
 *       sockets is readable, it reads each ready socket once (as a plain epoll client does: one read per wake-up)
 *       into `buffer`, writes (slot, offset, length or 0 for EOF or -errno) triples into `results`, and calls
 *       onBatch(count) once.
 *
 * The sockets stay libuv's (connect, close, queued writes): this only reads or writes their file descriptors while
 * libuv is not (the JS side never starts libuv reading on a watched socket, and writes here only when libuv holds no
 * queued write for it).
 */
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#define MAX_EVENTS 1024
#define PER_READ (64 * 1024)
#define STR_STACK 4096

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "LAB_ERR_BATCH_IO", "batch-io: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* writeStrings' CHECK: a failure after the string buffer grew past the stack frees it first */
#define CHECK_W(call)                                                 \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      if (bytes != stack) free(bytes);                                \
      napi_throw_error(env, "LAB_ERR_BATCH_IO", "batch-io: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* the longest UTF-8 sequence: napi_get_value_string_utf8 never writes part of one, so a string cut at the buffer's
 * end comes back up to this many bytes short of it (measured: 'a' x 4094 + 'é', 4096 bytes, gave len 4094, not
 * 4095, and the old check `len + 1 >= cap` took it for whole) */
#define UTF8_MAX 4

static napi_value int_value(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

static int32_t *int32_array(napi_env env, napi_value v, size_t *len) {
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, len, &data, NULL, NULL) != napi_ok || type != napi_int32_array) return NULL;
  return data;
}

/* ---- writes ---- */

static napi_value write_strings(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t nfds, nres;
  int32_t *fds = int32_array(env, argv[0], &nfds);
  int32_t *results = int32_array(env, argv[3], &nres);
  uint32_t count;
  CHECK(napi_get_value_uint32(env, argv[2], &count));
  if (!fds || !results || count > nfds || count > nres) {
    napi_throw_range_error(env, "LAB_ERR_BATCH_IO", "writeStrings: fds and results must be Int32Arrays of at least count");
    return NULL;
  }
  char stack[STR_STACK];
  char *bytes = stack;
  const char *out = bytes;
  size_t cap = sizeof stack, len = 0;
  int32_t blocked[64]; /* sockets that took less than asked in this batch (rare) */
  int nblocked = 0, overflow = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value s;
    CHECK_W(napi_get_element(env, argv[1], i, &s));
    napi_valuetype type;
    CHECK_W(napi_typeof(env, s, &type));
    if (type == napi_string) {
      /* one copy for the common case; a string that may have been cut short is measured and copied again */
      CHECK_W(napi_get_value_string_utf8(env, s, bytes, cap, &len));
      if (len + UTF8_MAX >= cap) {
        size_t need;
        CHECK_W(napi_get_value_string_utf8(env, s, NULL, 0, &need));
        if (need != len) {
          if (bytes != stack) free(bytes);
          cap = need + 1;
          bytes = malloc(cap);
          if (!bytes) {
            napi_throw_error(env, "LAB_ERR_BATCH_IO", "writeStrings: out of memory");
            return NULL;
          }
          CHECK_W(napi_get_value_string_utf8(env, s, bytes, cap, &len));
        }
      }
      out = bytes;
    } else if (type == napi_object) {
      /* bytes as they are (a WebSocket frame): written from the caller's memory, which it keeps alive */
      napi_typedarray_type ta;
      void *data;
      if (napi_get_typedarray_info(env, s, &ta, &len, &data, NULL, NULL) != napi_ok || ta != napi_uint8_array) {
        napi_throw_type_error(env, "LAB_ERR_BATCH_IO", "writeStrings: an entry must be a string, a Uint8Array or 0");
        if (bytes != stack) free(bytes);
        return NULL;
      }
      out = data;
    } else if (i == 0) {
      napi_throw_type_error(env, "LAB_ERR_BATCH_IO", "writeStrings: the first entry must be a string or a Uint8Array");
      if (bytes != stack) free(bytes);
      return NULL;
    } /* else: 0, the same bytes as the entry before */
    int skip = overflow;
    for (int b = 0; b < nblocked && !skip; b++) skip = blocked[b] == fds[i];
    if (skip) {
      results[i] = -EAGAIN;
      continue;
    }
    ssize_t w = write(fds[i], out, len);
    results[i] = w < 0 ? -errno : (int32_t)(len - (size_t)w);
    if (results[i] != 0) {
      /* past 64 such sockets in one batch, every later string goes the slow, ordered way */
      if (nblocked < 64) blocked[nblocked++] = fds[i];
      else overflow = 1;
    }
  }
  if (bytes != stack) free(bytes);
  return NULL;
}

/* ---- reads ---- */

typedef struct {
  int epfd;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref buffer_ref, results_ref;
  uint8_t *buffer;
  size_t buffer_len;
  int32_t *results;
  size_t results_len;
  napi_async_context async;
  int closed;
} reader_t;

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  reader_t *r = handle->data;
  if (r->closed) return;
  struct epoll_event ev[MAX_EVENTS];
  int max = (int)(r->results_len / 3);
  if (max > MAX_EVENTS) max = MAX_EVENTS;
  int n = epoll_wait(r->epfd, ev, max, 0);
  if (n <= 0) return;
  size_t off = 0;
  int k = 0;
  for (int i = 0; i < n; i++) {
    /* the rest stay ready (level-triggered) for the next wake-up */
    if (r->buffer_len - off < PER_READ && off > 0) break;
    int fd = (int)(uint32_t)ev[i].data.u64;
    int32_t slot = (int32_t)(ev[i].data.u64 >> 32);
    size_t want = r->buffer_len - off < PER_READ ? r->buffer_len - off : PER_READ;
    ssize_t got = read(fd, r->buffer + off, want);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (got <= 0) epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL); /* ended: never reported twice */
    r->results[3 * k] = slot;
    r->results[3 * k + 1] = (int32_t)off;
    r->results[3 * k + 2] = got < 0 ? -errno : (int32_t)got;
    if (got > 0) off += (size_t)got;
    k++;
  }
  if (k == 0) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg = int_value(env, k), result;
  napi_get_reference_value(env, r->on_batch, &cb);
  napi_get_global(env, &recv);
  napi_status st = napi_make_callback(env, r->async, recv, cb, 1, &arg, &result);
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err); /* as any callback's uncaught exception */
  }
  napi_close_handle_scope(env, scope);
}

static void reader_release(napi_env env, reader_t *r) {
  napi_delete_reference(env, r->on_batch);
  napi_delete_reference(env, r->buffer_ref);
  napi_delete_reference(env, r->results_ref);
  napi_async_destroy(env, r->async);
}

static void on_poll_closed(uv_handle_t *handle) {
  free(handle->data);
}

static napi_value reader_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *r = calloc(1, sizeof *r);
  if (!r) {
    napi_throw_error(env, "LAB_ERR_BATCH_IO", "readerCreate: out of memory");
    return NULL;
  }
  napi_typedarray_type type;
  void *data;
  size_t len;
  if (napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      len < PER_READ) {
    free(r);
    napi_throw_range_error(env, "LAB_ERR_BATCH_IO", "readerCreate: buffer must be a Uint8Array of at least 64 KiB");
    return NULL;
  }
  r->buffer = data;
  r->buffer_len = len;
  r->results = int32_array(env, argv[1], &r->results_len);
  if (!r->results || r->results_len < 3) {
    free(r);
    napi_throw_range_error(env, "LAB_ERR_BATCH_IO", "readerCreate: results must be an Int32Array of at least 3");
    return NULL;
  }
  r->env = env;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->epfd < 0) {
    free(r);
    napi_throw_error(env, "LAB_ERR_BATCH_IO", "readerCreate: epoll_create1 failed");
    return NULL;
  }
  CHECK(napi_create_reference(env, argv[2], 1, &r->on_batch));
  CHECK(napi_create_reference(env, argv[0], 1, &r->buffer_ref));
  CHECK(napi_create_reference(env, argv[1], 1, &r->results_ref));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "comet-lab:batch-read", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &r->async));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &r->poll, r->epfd);
  r->poll.data = r;
  uv_poll_start(&r->poll, UV_READABLE, on_poll);
  uv_unref((uv_handle_t *)&r->poll); /* the sockets' own handles keep the process alive, not this */
  napi_value ext;
  CHECK(napi_create_external(env, r, NULL, NULL, &ext));
  return ext;
}

static reader_t *reader_of(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "LAB_ERR_BATCH_IO", "not a batch reader");
    return NULL;
  }
  return p;
}

static napi_value reader_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *r = reader_of(env, argv[0]);
  if (!r) return NULL;
  int32_t fd, slot;
  CHECK(napi_get_value_int32(env, argv[1], &fd));
  CHECK(napi_get_value_int32(env, argv[2], &slot));
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)(uint32_t)slot << 32) | (uint32_t)fd};
  return int_value(env, epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0);
}

static napi_value reader_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *r = reader_of(env, argv[0]);
  if (!r) return NULL;
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[1], &fd));
  return int_value(env, epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0);
}

static napi_value reader_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *r = reader_of(env, argv[0]);
  if (!r || r->closed) return NULL;
  r->closed = 1;
  uv_poll_stop(&r->poll);
  close(r->epfd);
  reader_release(env, r);
  uv_close((uv_handle_t *)&r->poll, on_poll_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"writeStrings", NULL, write_strings, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"readerCreate", NULL, reader_create, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"readerWatch", NULL, reader_watch, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"readerUnwatch", NULL, reader_unwatch, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"readerClose", NULL, reader_close, NULL, NULL, NULL, napi_default_jsproperty, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
