/*
 * The plain C reference flood client of comet-lab's bench: one epoll loop, one read() per ready connection per
 * wake-up, an incremental chunked-framing parser per connection (a few ints), counting chunks (with --sse: SSE
 * events, at their blank line; with --ws: WebSocket text frames after a 101) and messages (`@<sentAtMs> ...`), with
 * delivery latency in a log-linear histogram.
 * It opens `--count` connections to `--host:--port` `GET <path><i>` (i from --start), at most --max-connecting at
 * once, bound to --source-ip when given. With a source address it walks that address's ports itself (--local-ports,
 * default ip_local_port_range), as comet-lab's load generator does: the kernel's connect-time port choice skips every
 * port any socket on the host bound explicitly, so beside a client that binds its ports it runs out early, and each
 * failed connect then scans the whole range (a stalled client, measured).
 *
 * Control on stdin, one command per line, answers on stdout:
 *   stats   -> stats {"active":N,"connecting":N,"failed":N,"closed":N,"chunks":N,"messages":N,
 *                     "lastMessageAtMs":T,"p50Ms":x,"p99Ms":x,"maxMs":x}
 *   reset   -> latency histogram and lastMessageAtMs start again (answers `reset`)
 *   quit (or EOF) -> exit 0
 * It prints `comet-c-client ready {"pid":X}` at start.
 *
 *   c-client --port P --count N [--host 127.0.0.1] [--source-ip A] [--local-ports LO-HI] [--path /test/] [--start 0]
 *            [--sse | --ws]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define TS_MAX 40

enum { P_CONNECTING, P_HEAD, P_SIZE, P_SIZE_LF, P_DATA, P_DATA_CR, P_DATA_LF, P_DONE, P_WS_H0, P_WS_H1, P_WS_EXT, P_WS_DATA };

struct conn {
  int fd;
  uint8_t phase;
  uint8_t headmatch; /* how much of \r\n\r\n has been seen */
  uint8_t unitstart; /* the next data byte begins a unit */
  uint8_t lastnl;    /* SSE: the previous data byte was \n */
  uint8_t tslen;     /* bytes of a message's timestamp collected */
  uint8_t collecting;
  uint8_t skip;      /* bytes of an SSE field name still to pass */
  uint8_t opcode;    /* WebSocket: the frame's opcode */
  uint8_t extbytes;  /* WebSocket: extended length bytes still to read */
  uint32_t remaining;
  char ts[TS_MAX];
};

static struct conn *conns; /* indexed by slot */
static int *slot_of_fd;
static int maxfd, epfd, sse, ws;
static long count, started, active, connecting, failed, closed_;
static long chunks, messages;
static double last_message_at;
static const char *host = "127.0.0.1", *source_ip, *path = "/test/";
static int port, max_connecting = 1000;
static int port_lo, port_hi, next_port;
static long start_index;
static struct sockaddr_in dst, src;

/* Latency histogram: microseconds, 64 sub-buckets per power of two (about 1.5% resolution). */
#define SUB 64
static uint64_t hist[40 * SUB];
static uint64_t hist_count;
static double hist_max;

static double epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int bucket_of(uint64_t us) {
  if (us < SUB) return (int)us;
  int e = 63 - __builtin_clzll(us); /* >= 6 */
  int shift = e - 6;
  return (shift + 1) * SUB + (int)((us >> shift) - SUB);
}

static double bucket_top_us(int b) {
  if (b < SUB) return b;
  int shift = b / SUB - 1;
  uint64_t base = (uint64_t)(b % SUB + SUB) << shift;
  return (double)(base + (1ull << shift) - 1);
}

static void record(double ms) {
  if (ms < 0) ms = 0;
  uint64_t us = (uint64_t)(ms * 1000);
  int b = bucket_of(us);
  if (b >= 40 * SUB) b = 40 * SUB - 1;
  hist[b]++;
  hist_count++;
  if (ms > hist_max) hist_max = ms;
}

static double percentile(double p) {
  if (!hist_count) return 0;
  uint64_t want = (uint64_t)(p / 100 * hist_count + 0.5), seen = 0;
  if (want < 1) want = 1;
  for (int b = 0; b < 40 * SUB; b++) {
    seen += hist[b];
    if (seen >= want) {
      double v = bucket_top_us(b) / 1000;
      return v < hist_max ? v : hist_max;
    }
  }
  return hist_max;
}

static void open_one(void) {
  long slot = started++;
  struct conn *c = &conns[slot];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || fd >= maxfd) {
    if (fd >= 0) close(fd);
    failed++;
    return;
  }
  int ok = 0;
  for (int tries = 0; tries < 256 && !ok; tries++) {
    if (source_ip) {
      /* as libuv binds: SO_REUSEADDR, so a TIME_WAIT socket of an earlier run on this port never blocks the bind */
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      src.sin_port = htons(next_port);
      next_port = next_port >= port_hi ? port_lo : next_port + 1;
      if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        if (errno != EADDRINUSE) break;
        continue; /* a bound socket is not rebound: try the next port on this one */
      }
    }
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 || errno == EINPROGRESS) ok = 1;
    else if (!source_ip || errno != EADDRNOTAVAIL) break;
    else {
      /* the 4-tuple is taken: a fresh socket for the next port */
      close(fd);
      fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0 || fd >= maxfd) break;
    }
  }
  if (!ok) {
    if (fd >= 0) close(fd);
    failed++;
    return;
  }
  c->fd = fd;
  c->phase = P_CONNECTING;
  slot_of_fd[fd] = (int)slot;
  connecting++;
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void ramp(void) {
  while (started < count && connecting < max_connecting) open_one();
}

static void end_conn(struct conn *c, int was_active) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  slot_of_fd[c->fd] = -1;
  c->fd = -1;
  if (was_active) {
    active--;
    closed_++;
  } else {
    connecting--;
    failed++;
  }
}

static void on_connected(struct conn *c) {
  int err = 0;
  socklen_t l = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err) return end_conn(c, 0);
  char req[512];
  long i = start_index + (c - conns);
  int len = ws ? snprintf(req, sizeof req,
                          "GET %s%ld HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: comet-c-client\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n",
                          path, i, host, port)
               : snprintf(req, sizeof req,
                          "GET %s%ld HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: comet-c-client\r\nAccept: */*\r\n"
                          "TE: chunked\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n",
                          path, i, host, port);
  if (write(c->fd, req, len) != len) return end_conn(c, 0);
  c->phase = P_HEAD;
  c->headmatch = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = c->fd};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void unit_done(struct conn *c) {
  chunks++;
  if (c->tslen > 0) { /* a message: `@<sentAtMs>` was collected */
    c->ts[c->tslen] = 0;
    double now = epoch_ms();
    messages++;
    last_message_at = now;
    record(now - atof(c->ts + 1));
  }
  c->collecting = 0;
  c->tslen = 0;
  c->unitstart = 1;
  c->skip = sse ? 6 : 0; /* SSE: `data: ` comes before the payload */
}

/* Payload bytes of the current chunk: collect a message's timestamp; with SSE, find the event's blank line. */
static void data(struct conn *c, const char *p, size_t n) {
  for (size_t k = 0; k < n; k++) {
    char ch = p[k];
    if (c->skip) {
      c->skip--;
    } else if (c->unitstart) {
      c->unitstart = 0;
      c->collecting = ch == '@';
      if (c->collecting) c->ts[c->tslen++] = ch;
    } else if (c->collecting) {
      if (ch == ' ' || ch == '\n' || c->tslen == TS_MAX - 1) c->collecting = 0;
      else c->ts[c->tslen++] = ch;
    } else if (!sse) {
      return; /* chunked: the rest of the chunk says nothing more */
    }
    if (sse) {
      if (ch == '\n' && c->lastnl) {
        unit_done(c);
        c->lastnl = 0;
        continue;
      }
      c->lastnl = ch == '\n';
    }
  }
}

/* A WebSocket frame ended: a text or binary frame is a unit; control frames (close, ping) are not counted. */
static void ws_frame_done(struct conn *c) {
  if (c->opcode == 1 || c->opcode == 2) unit_done(c);
  else {
    c->tslen = 0;
    c->unitstart = 1;
  }
  c->phase = P_WS_H0;
}

static void parse(struct conn *c, const char *buf, size_t n) {
  size_t i = 0;
  while (i < n) {
    switch (c->phase) {
      case P_HEAD: {
        char ch = buf[i++];
        static const char want[] = "\r\n\r\n";
        c->headmatch = ch == want[c->headmatch] ? c->headmatch + 1 : (ch == '\r' ? 1 : 0);
        if (c->headmatch == 4) {
          c->phase = ws ? P_WS_H0 : P_SIZE;
          c->remaining = 0;
          connecting--;
          active++;
          c->unitstart = 1;
          c->lastnl = 0;
          c->tslen = 0;
          c->skip = sse ? 6 : 0;
        }
        break;
      }
      case P_SIZE: {
        char ch = buf[i++];
        if (ch >= '0' && ch <= '9') c->remaining = c->remaining * 16 + (ch - '0');
        else if (ch >= 'a' && ch <= 'f') c->remaining = c->remaining * 16 + (ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') c->remaining = c->remaining * 16 + (ch - 'A' + 10);
        else if (ch == '\r') c->phase = P_SIZE_LF;
        break;
      }
      case P_SIZE_LF:
        i++;
        c->phase = c->remaining ? P_DATA : P_DONE;
        break;
      case P_DATA: {
        size_t take = n - i < c->remaining ? n - i : c->remaining;
        data(c, buf + i, take);
        i += take;
        c->remaining -= (uint32_t)take;
        if (!c->remaining) {
          c->phase = P_DATA_CR;
          if (!sse) unit_done(c);
        }
        break;
      }
      case P_DATA_CR:
        i++;
        c->phase = P_DATA_LF;
        break;
      case P_DATA_LF:
        i++;
        c->phase = P_SIZE;
        c->remaining = 0;
        break;
      case P_WS_H0:
        c->opcode = (uint8_t)buf[i++] & 0x0f;
        c->phase = P_WS_H1;
        break;
      case P_WS_H1: {
        unsigned len7 = (uint8_t)buf[i++] & 0x7f; /* server frames are unmasked */
        c->remaining = len7 < 126 ? len7 : 0;
        c->extbytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        c->phase = c->extbytes ? P_WS_EXT : P_WS_DATA;
        if (!c->extbytes && !c->remaining) ws_frame_done(c);
        break;
      }
      case P_WS_EXT:
        c->remaining = c->remaining << 8 | (uint8_t)buf[i++];
        if (--c->extbytes == 0) {
          c->phase = P_WS_DATA;
          if (!c->remaining) ws_frame_done(c);
        }
        break;
      case P_WS_DATA: {
        size_t take = n - i < c->remaining ? n - i : c->remaining;
        data(c, buf + i, take);
        i += take;
        c->remaining -= (uint32_t)take;
        if (!c->remaining) ws_frame_done(c);
        break;
      }
      default:
        i = n;
    }
  }
}

static char buf[65536];

static void on_readable(struct conn *c) {
  ssize_t r = read(c->fd, buf, sizeof buf); /* one read per wake-up */
  if (r > 0) return parse(c, buf, (size_t)r);
  if (r < 0 && errno == EAGAIN) return;
  end_conn(c, c->phase != P_HEAD);
}

static char cmd[1024];
static int cmdlen;

static int on_stdin(void) {
  ssize_t r = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
  if (r <= 0) return 0;
  cmdlen += (int)r;
  char *nl;
  while ((nl = memchr(cmd, '\n', cmdlen))) {
    *nl = 0;
    if (strcmp(cmd, "stats") == 0) {
      printf("stats {\"active\":%ld,\"connecting\":%ld,\"failed\":%ld,\"closed\":%ld,\"chunks\":%ld,\"messages\":%ld,"
             "\"lastMessageAtMs\":%.3f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f}\n",
             active, connecting, failed, closed_, chunks, messages, last_message_at, percentile(50), percentile(99),
             hist_max);
      fflush(stdout);
    } else if (strcmp(cmd, "reset") == 0) {
      memset(hist, 0, sizeof hist);
      hist_count = 0;
      hist_max = 0;
      last_message_at = 0;
      printf("reset\n");
      fflush(stdout);
    } else if (strcmp(cmd, "quit") == 0) {
      return 0;
    }
    int used = (int)(nl - cmd) + 1;
    memmove(cmd, nl + 1, cmdlen - used);
    cmdlen -= used;
  }
  if (cmdlen == (int)sizeof cmd - 1) cmdlen = 0;
  return 1;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atol(argv[++i]);
    else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
    else if (!strcmp(argv[i], "--source-ip") && i + 1 < argc) source_ip = argv[++i];
    else if (!strcmp(argv[i], "--path") && i + 1 < argc) path = argv[++i];
    else if (!strcmp(argv[i], "--start") && i + 1 < argc) start_index = atol(argv[++i]);
    else if (!strcmp(argv[i], "--max-connecting") && i + 1 < argc) max_connecting = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--local-ports") && i + 1 < argc) sscanf(argv[++i], "%d-%d", &port_lo, &port_hi);
    else if (!strcmp(argv[i], "--sse")) sse = 1;
    else if (!strcmp(argv[i], "--ws")) ws = 1;
    else {
      fprintf(stderr,
              "usage: c-client --port P --count N [--host H] [--source-ip A] [--local-ports LO-HI] [--path /test/] [--start I] "
              "[--sse | --ws]\n");
      return 2;
    }
  }
  if (port <= 0 || count <= 0) {
    fprintf(stderr, "c-client: --port and --count are required (> 0)\n");
    return 2;
  }
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
    fprintf(stderr, "c-client: bad --host %s\n", host);
    return 2;
  }
  if (!port_lo) {
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (!f || fscanf(f, "%d %d", &port_lo, &port_hi) != 2) port_lo = 32768, port_hi = 60999;
    if (f) fclose(f);
  }
  if (port_lo < 1 || port_hi > 65535 || port_lo > port_hi) {
    fprintf(stderr, "c-client: bad --local-ports %d-%d\n", port_lo, port_hi);
    return 2;
  }
  next_port = port_lo;
  if (source_ip) {
    src.sin_family = AF_INET;
    if (inet_pton(AF_INET, source_ip, &src.sin_addr) != 1) {
      fprintf(stderr, "c-client: bad --source-ip %s\n", source_ip);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  maxfd = (int)rl.rlim_cur;
  if (count > maxfd - 50) {
    fprintf(stderr, "c-client: --count %ld is above this process's open-file limit (%d)\n", count, maxfd);
    return 2;
  }
  conns = calloc(count, sizeof *conns);
  slot_of_fd = malloc(sizeof(int) * maxfd);
  for (int i = 0; i < maxfd; i++) slot_of_fd[i] = -1;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  printf("comet-c-client ready {\"pid\":%d}\n", getpid());
  fflush(stdout);
  ramp();
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, 100);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == 0) {
        if (!on_stdin()) return 0;
        continue;
      }
      int slot = slot_of_fd[fd];
      if (slot < 0) continue;
      struct conn *c = &conns[slot];
      if (c->phase == P_CONNECTING) {
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
      } else {
        on_readable(c);
      }
    }
    if (started < count) ramp();
  }
}
