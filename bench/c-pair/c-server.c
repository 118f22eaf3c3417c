/*
 * The plain C reference comet server of comet-lab's bench: one epoll loop, no threads, one process (several
 * processes share a port with SO_REUSEPORT, as comet-lab's workers do). It answers `GET /<anything>/<id>` with a
 * chunked stream, writes `Welcome to comet-lab, <id>\n` at once and `Chunk <n> for ID <id>\n` to each stream once
 * per interval from a timer wheel (the same shape as comet-lab's server/worker/timer-wheel.ts), each as one HTTP
 * chunk in one write(). As comet-lab frames them: `GET /sse/<id>` gets SSE events (`data: ...\n\n`) inside the
 * chunks; `GET /ws/<id>` with a WebSocket upgrade gets a 101 and one text frame per line (no newline).
 *
 * Control on stdin, one command per line, answers on stdout:
 *   stats             -> stats {"streams":N,"sent":N,"dropped":N,"broadcasts":N}
 *   broadcast <body>  -> one message `@<epoch ms with µs decimals> <body>\n` to every stream, then
 *                        broadcast {"streams":N,"written":N,"startedAtMs":T,"ms":D}; a body over BODY_MAX bytes
 *                        is refused, nothing sent: broadcast {"error":"...","bytes":N}
 *   quit (or EOF)     -> exit 0
 * It prints `comet-c-server ready {"port":P,"pid":X}` once listening.
 *
 *   c-server --port 0 --interval-ms 1000 [--host 127.0.0.1] [--slots 50]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define HEAD_MAX 2048
#define ID_MAX 64
#define MAX_EVENTS 1024
/* Longest broadcast body: its message (`@` 17-digit time, space, body, newline: at most 276 bytes) framed as SSE
 * (+8) and chunked (+7) stays inside frame()'s body[512] and write_event()'s out[600]; the bench sends ~20 bytes. */
#define BODY_MAX 256

enum { READING = 0, STREAMING = 1 };
enum { CHUNKED = 0, SSE = 1, WS = 2 };

struct conn {
  int fd;
  int state;
  uint32_t n;     /* heartbeats sent */
  int slot;       /* timer-wheel slot, -1 when in none */
  struct conn *prev, *next;
  int idlen;
  int headlen;
  int mode; /* CHUNKED, SSE or WS */
  char id[ID_MAX + 1];
  char *head;     /* request bytes while READING */
};

static struct conn **conns; /* indexed by fd */
static int maxfd;
static int epfd, lfd;
static long streams, sent, dropped, broadcasts;
static struct conn **wheel; /* slot -> list head */
static int slots = 50, cursor;
static double tick_ms, next_tick;

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void wheel_add(struct conn *c) {
  c->slot = cursor;
  c->prev = NULL;
  c->next = wheel[cursor];
  if (c->next) c->next->prev = c;
  wheel[cursor] = c;
}

static void wheel_remove(struct conn *c) {
  if (c->slot < 0) return;
  if (c->prev) c->prev->next = c->next;
  else wheel[c->slot] = c->next;
  if (c->next) c->next->prev = c->prev;
  c->slot = -1;
}

static void close_conn(struct conn *c) {
  if (c->state == STREAMING) streams--;
  wheel_remove(c);
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  conns[c->fd] = NULL;
  free(c->head);
  free(c);
}

/* Frames `payload` (len bytes, ending in \n) for the stream's transport into out; returns the length. */
static int frame(int mode, char *out, const char *payload, int len) {
  char body[512];
  if (mode == WS) {
    /* one unmasked final text frame, the line without its newline; heartbeats stay under 126 bytes (7-bit
     * length), a broadcast may not (RFC 6455 5.2: 126, then a 16-bit length) */
    len -= 1;
    int h = 2;
    out[0] = (char)0x81;
    if (len < 126) {
      out[1] = (char)len;
    } else {
      out[1] = 126;
      out[2] = (char)(len >> 8);
      out[3] = (char)(len & 0xff);
      h = 4;
    }
    memcpy(out + h, payload, len);
    return len + h;
  }
  if (mode == SSE) {
    if (len > 400) len = 400;
    memcpy(body, "data: ", 6);
    memcpy(body + 6, payload, len - 1); /* payload ends in \n */
    memcpy(body + 6 + len - 1, "\n\n", 2);
    payload = body;
    len = 6 + len + 1;
  }
  int k = sprintf(out, "%x\r\n", len);
  memcpy(out + k, payload, len);
  memcpy(out + k + len, "\r\n", 2);
  return k + len + 2;
}

/* One write per event; a stream whose socket buffer is full loses the event (counted), as a slow consumer would. */
static int write_event(struct conn *c, const char *payload, int len) {
  char out[600];
  int total = frame(c->mode, out, payload, len);
  ssize_t w = write(c->fd, out, total);
  if (w == total) return 1;
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    close_conn(c);
    return 0;
  }
  dropped++;
  return 0;
}

static void heartbeat(struct conn *c) {
  char payload[128];
  int len = sprintf(payload, "Chunk %u for ID %.*s\n", ++c->n, c->idlen, c->id);
  if (write_event(c, payload, len)) sent++;
}

static void tick(void) {
  double now = mono_ms();
  while (now >= next_tick) {
    cursor = (cursor + 1) % slots;
    struct conn *c = wheel[cursor];
    while (c) {
      struct conn *next = c->next; /* heartbeat may close c */
      heartbeat(c);
      c = next;
    }
    next_tick += tick_ms;
  }
}

static const char HEAD[] =
    "HTTP/1.1 200 OK\r\nServer: comet-c\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";
static const char SSE_HEAD[] =
    "HTTP/1.1 200 OK\r\nServer: comet-c\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

/* SHA-1 (FIPS 180-1) of a short message, for the WebSocket accept key only. */
static void sha1(const unsigned char *msg, size_t n, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  unsigned char block[128] = {0};
  size_t total = ((n + 8) / 64 + 1) * 64; /* message, 0x80, zeros, 64-bit length */
  if (total > sizeof block) return;
  memcpy(block, msg, n);
  block[n] = 0x80;
  uint64_t bits = (uint64_t)n * 8;
  for (int k = 0; k < 8; k++) block[total - 1 - k] = (unsigned char)(bits >> (8 * k));
  for (size_t off = 0; off < total; off += 64) {
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
      w[t] = (uint32_t)block[off + 4 * t] << 24 | (uint32_t)block[off + 4 * t + 1] << 16 |
             (uint32_t)block[off + 4 * t + 2] << 8 | block[off + 4 * t + 3];
    for (int t = 16; t < 80; t++) {
      uint32_t x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = x << 1 | x >> 31;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
      uint32_t f, k;
      if (t < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (t < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (t < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      uint32_t tmp = (a << 5 | a >> 27) + f + e + k + w[t];
      e = d, d = c, c = b << 30 | b >> 2, b = a, a = tmp;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  for (int k = 0; k < 20; k++) out[k] = (unsigned char)(h[k / 4] >> (24 - 8 * (k % 4)));
}

static void base64(const unsigned char *in, int n, char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int o = 0;
  for (int k = 0; k < n; k += 3) {
    uint32_t v = (uint32_t)in[k] << 16 | (k + 1 < n ? (uint32_t)in[k + 1] << 8 : 0) | (k + 2 < n ? in[k + 2] : 0);
    out[o++] = tbl[v >> 18 & 63];
    out[o++] = tbl[v >> 12 & 63];
    out[o++] = k + 1 < n ? tbl[v >> 6 & 63] : '=';
    out[o++] = k + 2 < n ? tbl[v & 63] : '=';
  }
  out[o] = 0;
}

/* The value of header `name` (lower case, with its colon) in the request head, or NULL; its length in *len. */
static const char *header(struct conn *c, const char *name, int *len) {
  int nl = (int)strlen(name);
  for (int k = 0; k + nl < c->headlen; k++) {
    if (c->head[k] != '\n' || strncasecmp(c->head + k + 1, name, nl) != 0) continue;
    const char *v = c->head + k + 1 + nl;
    while (*v == ' ') v++;
    const char *e = v;
    while (e < c->head + c->headlen && *e != '\r' && *e != '\n') e++;
    *len = (int)(e - v);
    return v;
  }
  return NULL;
}

static void bad_request(struct conn *c) {
  static const char r[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)!write(c->fd, r, sizeof r - 1);
  close_conn(c);
}

/* The request head is whole: take the id (the last path segment) and start streaming. */
static void start_stream(struct conn *c) {
  char *sp1 = memchr(c->head, ' ', c->headlen);
  if (!sp1 || sp1 - c->head != 3 || memcmp(c->head, "GET", 3) != 0) return bad_request(c);
  char *path = sp1 + 1;
  char *sp2 = memchr(path, ' ', c->headlen - (path - c->head));
  if (!sp2) return bad_request(c);
  char *slash = path;
  for (char *p = path; p < sp2; p++)
    if (*p == '/') slash = p;
  int idlen = (int)(sp2 - slash - 1);
  if (idlen < 1 || idlen > ID_MAX) return bad_request(c);
  c->mode = strncmp(path, "/sse/", 5) == 0 ? SSE : strncmp(path, "/ws/", 4) == 0 ? WS : CHUNKED;
  char out[1024];
  int hl;
  if (c->mode == WS) {
    int keylen;
    const char *key = header(c, "sec-websocket-key:", &keylen);
    if (!key || keylen > 60) return bad_request(c);
    unsigned char in[128], digest[20];
    memcpy(in, key, keylen);
    memcpy(in + keylen, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    sha1(in, keylen + 36, digest);
    char accept[32];
    base64(digest, 20, accept);
    hl = sprintf(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
  } else {
    hl = c->mode == SSE ? (int)sizeof SSE_HEAD - 1 : (int)sizeof HEAD - 1;
    memcpy(out, c->mode == SSE ? SSE_HEAD : HEAD, hl);
  }
  memcpy(c->id, slash + 1, idlen);
  c->id[idlen] = 0;
  c->idlen = idlen;
  free(c->head);
  c->head = NULL;
  c->state = STREAMING;
  streams++;
  char payload[128];
  int len = sprintf(payload, "Welcome to comet-lab, %s\n", c->id);
  int total = hl + frame(c->mode, out + hl, payload, len);
  if (write(c->fd, out, total) != total) return close_conn(c);
  wheel_add(c);
}

static void on_readable(struct conn *c) {
  if (c->state == STREAMING) {
    char sink[4096];
    ssize_t r = read(c->fd, sink, sizeof sink);
    if (r == 0 || (r < 0 && errno != EAGAIN)) close_conn(c);
    return; /* a streaming client has nothing more to say */
  }
  ssize_t r = read(c->fd, c->head + c->headlen, HEAD_MAX - c->headlen);
  if (r == 0 || (r < 0 && errno != EAGAIN)) return close_conn(c);
  if (r < 0) return;
  c->headlen += (int)r;
  if (memmem(c->head, c->headlen, "\r\n\r\n", 4)) return start_stream(c);
  if (c->headlen >= HEAD_MAX) bad_request(c);
}

static void on_accept(void) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (fd >= maxfd) {
      close(fd);
      continue;
    }
    struct conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->slot = -1;
    c->head = malloc(HEAD_MAX);
    conns[fd] = c;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  }
}

static void broadcast(const char *body) {
  size_t bytes = strlen(body);
  if (bytes > BODY_MAX) {
    printf("broadcast {\"error\":\"body longer than %d bytes\",\"bytes\":%zu}\n", BODY_MAX, bytes);
    fflush(stdout);
    return;
  }
  double started = epoch_ms();
  double t0 = mono_ms();
  char payload[512];
  int len = snprintf(payload, sizeof payload, "@%.3f %s\n", started, body);
  long written = 0, at = streams;
  for (int s = 0; s < slots; s++) {
    struct conn *c = wheel[s];
    while (c) {
      struct conn *next = c->next;
      written += write_event(c, payload, len);
      c = next;
    }
  }
  broadcasts++;
  printf("broadcast {\"streams\":%ld,\"written\":%ld,\"startedAtMs\":%.3f,\"ms\":%.3f}\n", at, written, started,
         mono_ms() - t0);
  fflush(stdout);
}

static char cmd[4096];
static int cmdlen;
static int overlong;      /* a line longer than cmd is being skipped: 1, or 2 when it is a broadcast */
static size_t overbytes;  /* that line's length so far */

/* Returns 0 to quit. */
static int on_stdin(void) {
  ssize_t r = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
  if (r <= 0) return 0;
  cmdlen += (int)r;
  char *nl;
  while ((nl = memchr(cmd, '\n', cmdlen))) {
    *nl = 0;
    if (overlong) {
      /* the end of a line too long to hold: a broadcast gets its refusal, anything else no answer (as unknown) */
      overbytes += (size_t)(nl - cmd);
      if (overlong == 2)
        printf("broadcast {\"error\":\"body longer than %d bytes\",\"bytes\":%zu}\n", BODY_MAX, overbytes - 10);
      fflush(stdout);
      overlong = 0;
    } else if (strcmp(cmd, "stats") == 0) {
      printf("stats {\"streams\":%ld,\"sent\":%ld,\"dropped\":%ld,\"broadcasts\":%ld}\n", streams, sent, dropped,
             broadcasts);
      fflush(stdout);
    } else if (strncmp(cmd, "broadcast ", 10) == 0) {
      broadcast(cmd + 10);
    } else if (strcmp(cmd, "quit") == 0) {
      return 0;
    }
    int used = (int)(nl - cmd) + 1;
    memmove(cmd, nl + 1, cmdlen - used);
    cmdlen -= used;
  }
  if (cmdlen == (int)sizeof cmd - 1) {
    if (!overlong) {
      overlong = strncmp(cmd, "broadcast ", 10) == 0 ? 2 : 1;
      overbytes = 0;
    }
    overbytes += (size_t)cmdlen;
    cmdlen = 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  double interval_ms = 10000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
    else if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc) interval_ms = atof(argv[++i]);
    else if (!strcmp(argv[i], "--slots") && i + 1 < argc) slots = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: c-server --port P --interval-ms I [--host H] [--slots S]\n");
      return 2;
    }
  }
  if (interval_ms < 1 || slots < 1) {
    fprintf(stderr, "c-server: --interval-ms and --slots must be >= 1\n");
    return 2;
  }
  if (slots > interval_ms) slots = (int)interval_ms;
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  maxfd = (int)rl.rlim_cur;
  conns = calloc(maxfd, sizeof *conns);
  wheel = calloc(slots, sizeof *wheel);
  tick_ms = interval_ms / slots;

  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "c-server: bad --host %s\n", host);
    return 2;
  }
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) {
    perror("c-server: bind/listen");
    return 3;
  }
  socklen_t sl = sizeof sa;
  getsockname(lfd, (struct sockaddr *)&sa, &sl);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.fd = 0;
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  printf("comet-c-server ready {\"port\":%d,\"pid\":%d}\n", ntohs(sa.sin_port), getpid());
  fflush(stdout);

  next_tick = mono_ms() + tick_ms;
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int wait = (int)(next_tick - mono_ms());
    if (wait < 0) wait = 0;
    int n = epoll_wait(epfd, events, MAX_EVENTS, wait + 1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) on_accept();
      else if (fd == 0) {
        if (!on_stdin()) return 0;
      } else if (conns[fd]) on_readable(conns[fd]);
    }
    if (mono_ms() >= next_tick) tick();
  }
}
