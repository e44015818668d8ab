/*
 * kairos-launcher: starts a worker's jobs and relays their output.
 *
 * Forking costs time in proportion to the forking process's memory mappings; a Node.js worker pays
 * milliseconds per fork, this small process pays microseconds. It does nothing else a job needs: the worker
 * decides what to run, splits output into lines, and keeps every record.
 *
 * Frames in both directions: u32 little-endian payload length, then the payload; the first payload byte is
 * the frame type. Strings are NUL-terminated.
 *   worker → launcher   'L' id cwd mkdir argc argv... envc env... cgc cgroup.procs... u64(rlimit_as)
 *                                                                      start a job (mkdir may be ""); it joins
 *                                                                      the cgroups and takes the address-space
 *                                                                      limit (0: none) before it execs; then
 *                                                                      optionally a spool path: output goes to
 *                                                                      that file as records (u8 stream, u32
 *                                                                      length, bytes) instead of 'O' frames
 *                                                                      and 'P' frames announce its size, so a
 *                                                                      job printing at full speed never waits
 *                                                                      for the worker to keep up; then
 *                                                                      optionally u32(n) and n sandbox
 *                                                                      rules, each a letter and a path (see
 *                                                                      "The sandbox" below): the job then
 *                                                                      runs in its own namespaces
 *                       'K' id u32(signal)                             signal the job's process group
 *                       'W' "" u32(ms)                                 watchdog: kill every job unless another
 *                                                                      'W' comes within ms (0 turns it off)
 *   launcher → worker   'S' id u32(pid) u64(start ms) u64(proc start)  started; proc start: the process's start
 *                                                                      time in clock ticks (/proc/<pid>/stat), 0
 *                                                                      when unknown
 *                       'O' id u8(1 stdout | 2 stderr) bytes...        output
 *                       'P' id u64(bytes)                              the spool holds this many bytes
 *                       'Q' id u64(bytes)                              the job's stdout file (<spool>.out) holds this many
 *                       'X' id i32(exit code) i32(signal) u8(flags)    exited (after its output); flags bit 0:
 *                                                                      it printed nothing, and its spool files
 *                                                                      are gone already; bit 1: the spool's disk
 *                                                                      filled, so some of its output was lost
 *                                                                      (stderr dropped, or the job's own writes
 *                                                                      to its stdout file failed)
 *                       'E' id message                                 could not start
 * When its stdin closes or its stdout breaks (the worker died or stopped), it kills every job's process group
 * and then everything left in the jobs' cgroups (what escaped the group with setsid), removes those cgroups and
 * exits. The watchdog covers a worker that is alive but stuck (frozen, or cut off from the control plane): it
 * arms it after each renewal of its leases, for less than the lease, so its jobs die (cgroups included) before
 * anyone else may take over their runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_JOBS 4096
#define ID_MAX 64
#define DRAIN_MS 2000
#define MAX_CGROUPS 16
#define MAX_RULES 256

struct job {
  int used;
  char id[ID_MAX];
  pid_t pid;
  int out, err; /* pipe read ends, -1 when closed */
  int exited;
  int code, sig;
  int64_t exited_at;
  char *spool_path;  /* where output is spooled (NULL: sent in 'O' frames); the file is made on first output */
  int spool;         /* the spool file once made, else -1 */
  uint64_t spooled;  /* bytes written to the spool */
  int spool_full;    /* a write to the spool failed (ENOSPC): the job's stderr is drained and dropped from then on */
  int dirty;         /* spooled bytes not yet announced */
  int outfile;       /* spooled jobs: the file the job's stdout is (no pipe: a pipe costs a fast writer a
                      * quarter of its speed), else -1 */
  uint64_t out_announced; /* its size when last announced ('Q') */
  char *cgroups[MAX_CGROUPS]; /* directories of the cgroups it joined: they hold what left its process group */
  int cgc;
};

static struct job jobs[MAX_JOBS];
static int sigpipe_fds[2];
static int64_t watchdog_deadline; /* monotonic ms; 0 = off */
static unsigned char *inbuf;
static size_t inlen, incap;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void kill_all_and_exit(void);
/* Writes all `n` bytes to a file; -1 when it cannot (a full disk): the caller decides, the launcher stays. */
static int write_some(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static void write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pf = {fd, POLLOUT, 0};
        poll(&pf, 1, 1000);
        continue;
      }
      if (fd == 1) kill_all_and_exit(); /* the worker is gone */
      _exit(3);
    }
    c += w;
    n -= (size_t)w;
  }
}

/* Sends one frame: type, id (with its NUL), then `n` bytes of body. */
static void send_frame(char type, const char *id, const void *body, size_t n) {
  size_t idn = strlen(id) + 1;
  uint32_t len = (uint32_t)(1 + idn + n);
  unsigned char head[5];
  head[0] = len & 0xff; head[1] = (len >> 8) & 0xff; head[2] = (len >> 16) & 0xff; head[3] = (len >> 24) & 0xff;
  head[4] = (unsigned char)type;
  write_all(1, head, 5);
  write_all(1, id, idn);
  if (n) write_all(1, body, n);
}

static void put_u32(unsigned char *p, uint32_t v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = (v >> 24) & 0xff; }
static void put_u64(unsigned char *p, uint64_t v) { put_u32(p, (uint32_t)v); put_u32(p + 4, (uint32_t)(v >> 32)); }

static void on_sigchld(int s) {
  (void)s;
  int e = errno;
  char c = 1;
  (void)!write(sigpipe_fds[1], &c, 1);
  errno = e;
}

static void set_nonblock_cloexec(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int mkdir_p(const char *path) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n == 0) return 0;
  if (n >= sizeof tmp) { errno = ENAMETOOLONG; return -1; }
  memcpy(tmp, path, n + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  }
  if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
  return 0;
}

static struct job *find_job(const char *id) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used && strcmp(jobs[i].id, id) == 0) return &jobs[i];
  return NULL;
}

static void fail(const char *id, const char *what, int err) {
  char msg[800];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  send_frame('E', id, msg, strlen(msg) + 1);
}

/* A launch request as parsed from its frame; the strings point into the frame. */
struct launch_req {
  const char *id, *cwd, *mkd;
  char **argv, **envp; /* NULL-terminated, allocated (the strings are not) */
  const char *cgroups[MAX_CGROUPS];
  uint32_t cgc;
  uint64_t rlimit_as;
  const char *spool_path; /* "" when output goes in frames */
  const char *sandbox[MAX_RULES]; /* sandbox rules (letter + path); none: the job runs unsandboxed */
  uint32_t rules;
};

static void free_req(struct launch_req *q) {
  free(q->argv);
  free(q->envp);
  q->argv = q->envp = NULL;
}

static uint32_t get_u32(const char *s) {
  return (unsigned char)s[0] | ((unsigned char)s[1] << 8) | ((unsigned char)s[2] << 16) | ((uint32_t)(unsigned char)s[3] << 24);
}

/* Reads `n` NUL-terminated strings from *s into out; 0 when the frame ends first. */
static int take_strings(const char **s, const char *end, const char **out, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const char *z = memchr(*s, 0, (size_t)(end - *s));
    if (!z) return 0;
    out[i] = *s;
    *s = z + 1;
  }
  return 1;
}

/* Parses a launch frame (fields are NUL-terminated strings after the type byte). Returns 1 when `q` is
 * complete; 0 when the frame is malformed, having said so to the worker when it could tell which job. */
static int parse_launch(const unsigned char *p, size_t n, struct launch_req *q) {
  const char *end = (const char *)p + n;
  const char *s = (const char *)p;
  const char *fields[3];
  memset(q, 0, sizeof *q);
  q->spool_path = "";
  if (!take_strings(&s, end, fields, 3)) return 0;
  q->id = fields[0];
  q->cwd = fields[1];
  q->mkd = fields[2];
  if (strlen(q->id) >= ID_MAX) return 0;
  if (s + 4 > end) return 0;
  uint32_t argc = get_u32(s);
  s += 4;
  if (argc == 0 || argc > 100000) { fail(q->id, "bad launch request", EINVAL); return 0; }
  q->argv = calloc(argc + 1, sizeof(char *));
  if (!take_strings(&s, end, (const char **)q->argv, argc) || s + 4 > end) goto bad;
  uint32_t envc = get_u32(s);
  s += 4;
  if (envc > 1000000) goto bad;
  q->envp = calloc(envc + 1, sizeof(char *));
  if (!take_strings(&s, end, (const char **)q->envp, envc)) goto bad;
  if (s + 4 <= end) {
    q->cgc = get_u32(s);
    s += 4;
  }
  if (q->cgc > MAX_CGROUPS) { fail(q->id, "too many cgroups", EINVAL); free_req(q); return 0; }
  if (!take_strings(&s, end, q->cgroups, q->cgc)) goto bad;
  if (s + 8 <= end) {
    for (int i = 7; i >= 0; i--) q->rlimit_as = (q->rlimit_as << 8) | (unsigned char)s[i];
    s += 8;
  }
  if (s < end) {
    const char *z = memchr(s, 0, (size_t)(end - s));
    if (z) { q->spool_path = s; s = z + 1; }
  }
  if (s + 4 <= end) {
    q->rules = get_u32(s);
    s += 4;
    if (q->rules > MAX_RULES) { fail(q->id, "too many sandbox rules", EINVAL); free_req(q); return 0; }
    if (!take_strings(&s, end, q->sandbox, q->rules)) goto bad;
    for (uint32_t i = 0; i < q->rules; i++)
      if (!strchr("bhrwf", q->sandbox[i][0]) || q->sandbox[i][1] != '/') { fail(q->id, "bad sandbox rule", EINVAL); free_req(q); return 0; }
  }
  return 1;
bad:
  free_req(q);
  return 0;
}

/* What a child tells the launcher when the job cannot start: the errno, then what it was doing ("" for the exec
 * itself), in one write so that it arrives whole. */
static void report_failure(int report, int err, const char *what) {
  char msg[4 + 512];
  memcpy(msg, &err, 4);
  size_t n = what ? strlen(what) : 0;
  if (n > sizeof msg - 5) n = sizeof msg - 5;
  if (n) memcpy(msg + 4, what, n);
  msg[4 + n] = 0;
  (void)!write(report, msg, 4 + n + 1);
}

/*
 * The sandbox (docs/isolation.md), made by the launcher itself: the job's own mount, PID, IPC and UTS namespaces,
 * set up in the cloned child before the job starts, at the cost of a few system calls (bubblewrap, which the
 * worker can use instead, costs an exec of bwrap and of `env` twice and a new root for every run).
 *
 * In the child, which is the init (PID 1) of the job's PID namespace:
 *   - the sources of the rules' binds are opened first (a later rule may hide them);
 *   - every mount of the copied tree becomes read-only, nosuid and nodev, and private (nothing propagates back);
 *   - /tmp, /var/tmp and /dev/shm become fresh tmpfs;
 *   - then the rules, in order: 'b' a directory shared read-write with the machine, 'h' a directory hidden under an
 *     empty tmpfs, 'r' a directory put back read-only, 'w' a directory and 'f' a file (made when missing) put back
 *     writable (at the same path; a mount point is made inside the hiding tmpfs when needed);
 *   - /dev keeps its names, but only null, zero, full, random,
 *     urandom and tty can be opened (the rest is nodev), and /dev/pts is a new devpts instance;
 *   - /proc is a new procfs of the job's PID namespace: only its own processes.
 * Then it forks the job, which drops every capability (bounding set included, no new privileges) and execs. The
 * init stays behind without dumping (no one without CAP_SYS_PTRACE may read it: it is a copy of the launcher),
 * reaps whatever is orphaned, and exits when the job does, with its exit status or 128 + its signal; the kernel
 * then kills whatever else is left in the namespace. Signals to the process group reach the job (the init of a
 * PID namespace takes none it has no handler for), a SIGKILL the init as well; and it dies with the launcher.
 */
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
struct kairos_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

#define SANDBOX_NS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)

static int set_mount_attr(const char *path, uint64_t set, uint64_t clr, uint64_t propagation) {
  struct kairos_mount_attr a = {set, clr, propagation, 0};
  return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a, sizeof a);
}

/* fork(2) into the sandbox's new namespaces (a clone without a new stack, as fork is). */
static pid_t sandbox_clone(void) {
  return (pid_t)syscall(SYS_clone, (unsigned long)(SANDBOX_NS | SIGCHLD), NULL, NULL, NULL, NULL);
}

/* Binds what `fd` is onto `path`: read-only unless `writable` (a bind keeps its source's flags). */
static int bind_fd(int fd, const char *path, int writable) {
  char src[64];
  snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
  if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
  return writable ? set_mount_attr(path, 0, MOUNT_ATTR_RDONLY, 0) : 0;
}

/* A mount point for `path`, which may be inside a hiding tmpfs: the directory, or an empty file. */
static int mount_point(const char *path, int dir) {
  struct stat st;
  if (stat(path, &st) == 0) return 0;
  if (dir) return mkdir_p(path);
  char parent[4096];
  size_t n = strlen(path);
  if (n >= sizeof parent) { errno = ENAMETOOLONG; return -1; }
  memcpy(parent, path, n + 1);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) { *slash = 0; if (mkdir_p(parent) < 0) return -1; }
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

static const char *const SANDBOX_DEVICES[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
static const char *const SANDBOX_TMPFS[] = {"/tmp", "/var/tmp", "/dev/shm"};

/* Makes the sandbox's file system in a fresh mount namespace; -1 with errno, and what failed in `what`. */
static int sandbox_mounts(const char *const *rules, uint32_t n, char *what, size_t wn) {
  int fds[MAX_RULES];
  int rc = -1;
  struct stat st;
  for (uint32_t i = 0; i < n; i++) fds[i] = -1;
  for (uint32_t i = 0; i < n; i++) {
    if (rules[i][0] == 'h') continue;
    fds[i] = open(rules[i] + 1, O_PATH | O_CLOEXEC);
    /* A writable file the job may write (its KAIROS_OUTPUT) is made here when missing. Closed again at once: a
     * file open for writing would keep its mount from being made read-only below (EBUSY). */
    if (fds[i] < 0 && rules[i][0] == 'f' && errno == ENOENT) {
      int made = open(rules[i] + 1, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
      if (made >= 0) {
        close(made);
        fds[i] = open(rules[i] + 1, O_PATH | O_CLOEXEC);
      }
    }
    if (fds[i] < 0 && !(rules[i][0] == 'b' && errno == ENOENT)) { snprintf(what, wn, "sandbox: open %s", rules[i] + 1); goto out; }
  }
  if (set_mount_attr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, MS_PRIVATE) < 0) { snprintf(what, wn, "sandbox: make / read-only"); goto out; }
  /* The fresh tmpfs first: the rules' paths may be inside them (a data directory under /tmp). */
  for (size_t i = 0; i < sizeof SANDBOX_TMPFS / sizeof *SANDBOX_TMPFS; i++) {
    if (stat(SANDBOX_TMPFS[i], &st) < 0) continue;
    if (mount("tmpfs", SANDBOX_TMPFS[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) { snprintf(what, wn, "sandbox: tmpfs on %s", SANDBOX_TMPFS[i]); goto out; }
  }
  for (uint32_t i = 0; i < n; i++) {
    char k = rules[i][0];
    const char *path = rules[i] + 1;
    int r = 0;
    if (k == 'h') {
      if (stat(path, &st) < 0 && errno == ENOENT) continue;
      r = mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    } else if (fds[i] >= 0) {
      r = mount_point(path, k != 'f'); /* missing where a tmpfs above hides the machine's */
      if (r == 0) r = bind_fd(fds[i], path, k != 'r');
    }
    if (r < 0) { snprintf(what, wn, "sandbox: %s %s", k == 'h' ? "hide" : "bind", path); goto out; }
  }
  for (size_t i = 0; i < sizeof SANDBOX_DEVICES / sizeof *SANDBOX_DEVICES; i++) {
    if (stat(SANDBOX_DEVICES[i], &st) < 0 || !S_ISCHR(st.st_mode)) continue;
    if (mount(SANDBOX_DEVICES[i], SANDBOX_DEVICES[i], NULL, MS_BIND, NULL) < 0 || set_mount_attr(SANDBOX_DEVICES[i], 0, MOUNT_ATTR_NODEV, 0) < 0) {
      snprintf(what, wn, "sandbox: device %s", SANDBOX_DEVICES[i]);
      goto out;
    }
  }
  if (stat("/dev/pts", &st) == 0 && S_ISDIR(st.st_mode)) {
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") < 0) { snprintf(what, wn, "sandbox: devpts"); goto out; }
    if (stat("/dev/ptmx", &st) == 0 && mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) < 0) { snprintf(what, wn, "sandbox: /dev/ptmx"); goto out; }
  }
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) { snprintf(what, wn, "sandbox: proc"); goto out; }
  rc = 0;
out:;
  int e = errno;
  for (uint32_t i = 0; i < n; i++) if (fds[i] >= 0) close(fds[i]);
  errno = e;
  return rc;
}

/* Every capability gone for good: the bounding and ambient sets emptied, the rest cleared, no new privileges (a
 * set-user-ID program gains nothing). Even a job run as root can then mount, trace or open raw devices no more. */
static int drop_capabilities(void) {
  for (int c = 0; c <= 63; c++)
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -1;
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capset, &h, d) < 0) return -1;
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* The sandboxed child after its setup in exec_child: the file system, the job, then the namespace's init. */
static void __attribute__((noreturn)) sandbox_init(const struct launch_req *q, int report) {
  char what[512] = "";
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0);
  /* Nothing of the launcher's stays open here but the job's output and the report (it never execs to close them). */
  if (report > 3) syscall(SYS_close_range, 3U, (unsigned)report - 1, 0U);
  syscall(SYS_close_range, (unsigned)report + 1, ~0U, 0U);
  if (sandbox_mounts(q->sandbox, q->rules, what, sizeof what) < 0) goto fail;
  if (q->cwd[0] && chdir(q->cwd) < 0) { snprintf(what, sizeof what, "chdir %s", q->cwd); goto fail; }
  pid_t job = fork();
  if (job < 0) { snprintf(what, sizeof what, "sandbox: fork"); goto fail; }
  if (job == 0) {
    prctl(PR_SET_PDEATHSIG, 0);
    if (drop_capabilities() < 0) { report_failure(report, errno, "sandbox: drop capabilities"); _exit(127); }
    environ = q->envp;
    execvp(q->argv[0], q->argv);
    report_failure(report, errno, "");
    _exit(127);
  }
  close(report);
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, 0);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) _exit(127);
    if (p == job) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
fail:
  report_failure(report, errno, what);
  _exit(127);
}

/* `kairos-launcher --probe-sandbox`: can this machine make the sandbox (root, namespaces allowed)? Exits 0, or 1
 * with the reason on stdout. */
static int probe_sandbox(void) {
  int px[2];
  if (pipe2(px, O_CLOEXEC) < 0) return 1;
  pid_t pid = sandbox_clone();
  if (pid < 0) { printf("cannot make namespaces: %s\n", strerror(errno)); return 1; }
  if (pid == 0) {
    char what[512] = "";
    close(px[0]);
    if (sandbox_mounts(NULL, 0, what, sizeof what) < 0 || drop_capabilities() < 0) report_failure(px[1], errno, what[0] ? what : "sandbox: drop capabilities");
    _exit(0);
  }
  close(px[1]);
  char msg[4 + 512];
  ssize_t r;
  do r = read(px[0], msg, sizeof msg - 1); while (r < 0 && errno == EINTR);
  waitpid(pid, NULL, 0);
  if (r < 5) return 0;
  int err;
  memcpy(&err, msg, 4);
  msg[r] = 0;
  printf("%s: %s\n", msg + 4, strerror(err));
  return 1;
}

/* In the forked child: join the cgroups, take the limits, and exec; on failure, the errno goes to `report`. */
static void exec_child(const struct launch_req *q, int outfd, int errfd, int report) {
  /* Its own session and process group, stdin from /dev/null, output to the pipes (or the stdout file). */
  setsid();
  signal(SIGPIPE, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) { dup2(devnull, 0); if (devnull > 2) close(devnull); }
  dup2(outfd, 1);
  dup2(errfd, 2);
  if (outfd > 2) close(outfd);
  if (errfd > 2) close(errfd);
  int err = 0;
  char pidtext[32];
  int pidlen = snprintf(pidtext, sizeof pidtext, "%d", (int)getpid());
  for (uint32_t i = 0; i < q->cgc && !err; i++) {
    int fd = open(q->cgroups[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pidtext, (size_t)pidlen) != pidlen) err = errno ? errno : EIO;
    if (fd >= 0) close(fd);
  }
  if (!err && q->rlimit_as > 0) {
    struct rlimit rl = {(rlim_t)q->rlimit_as, (rlim_t)q->rlimit_as};
    if (setrlimit(RLIMIT_AS, &rl) < 0) err = errno;
  }
  if (!err && q->rules) sandbox_init(q, report);
  if (!err && q->cwd[0] && chdir(q->cwd) < 0) err = errno;
  if (!err) {
    environ = q->envp; /* execvp looks PATH up in the job's environment, as Node's spawn does */
    execvp(q->argv[0], q->argv);
    err = errno;
  }
  report_failure(report, err, "");
  _exit(127);
}

/* Remembers the directories of the cgroups a job joins, to empty them if the worker dies. */
static void keep_cgroups(struct job *j, const struct launch_req *q) {
  j->cgc = 0;
  for (uint32_t i = 0; i < q->cgc; i++) {
    const char *slash = strrchr(q->cgroups[i], '/');
    if (!slash || slash == q->cgroups[i]) continue;
    j->cgroups[j->cgc++] = strndup(q->cgroups[i], (size_t)(slash - q->cgroups[i]));
  }
}

static void drop_cgroups(struct job *j) {
  for (int i = 0; i < j->cgc; i++) free(j->cgroups[i]);
  j->cgc = 0;
}

/* A process's start time in clock ticks since boot (/proc/<pid>/stat, field 22): with its pid, it names the
 * process even once the pid is reused. 0 when it cannot be read. */
static uint64_t proc_start(pid_t pid) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1); while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  /* The command name (field 2) may hold spaces and parentheses: count fields after the last ')'. */
  char *p = strrchr(buf, ')');
  if (!p || !p[1]) return 0;
  p += 2; /* field 3 */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return strtoull(p, NULL, 10);
}

/* Starts the job `q` asks for in slot `j`: pipes, fork, exec; reports 'S' or 'E'. Every failure goes through the
 * one cleanup at the end. */
static void spawn_job(struct job *j, const struct launch_req *q) {
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, px[2] = {-1, -1};
  int outfile = -1;
  const char *what = NULL;
  int err = 0;
  if (mkdir_p(q->mkd) < 0) { what = q->mkd; err = errno; goto out; }
  if (pipe(po) < 0 || pipe(pe) < 0 || pipe2(px, O_CLOEXEC) < 0) { what = "pipe"; err = errno; goto out; }
  /* Spooled jobs write stdout straight to a file (<spool>.out) that the worker reads behind them; stderr goes
   * through a deep pipe into the framed spool. Best effort: without the file, stdout uses its pipe too. */
  if (q->spool_path[0]) {
    char outpath[4200];
    if (snprintf(outpath, sizeof outpath, "%s.out", q->spool_path) < (int)sizeof outpath)
      outfile = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    (void)fcntl(po[0], F_SETPIPE_SZ, 1 << 20);
    (void)fcntl(pe[0], F_SETPIPE_SZ, 1 << 20);
  }
  pid_t pid = q->rules ? sandbox_clone() : fork();
  if (pid < 0) { what = q->rules ? "sandbox: clone" : "fork"; err = errno; goto out; }
  if (pid == 0) {
    close(po[0]); close(pe[0]); close(px[0]);
    if (outfile >= 0) close(po[1]);
    exec_child(q, outfile >= 0 ? outfile : po[1], pe[1], px[1]);
  }
  close(po[1]); po[1] = -1;
  close(pe[1]); pe[1] = -1;
  close(px[1]); px[1] = -1;
  char report[4 + 512];
  ssize_t r;
  do r = read(px[0], report, sizeof report - 1); while (r < 0 && errno == EINTR);
  if (r >= 4) {
    /* exec (or the sandbox) failed: the child exits 127 at once; reap it here. */
    waitpid(pid, NULL, 0);
    memcpy(&err, report, 4);
    report[r] = 0;
    char msg[600];
    if (r > 4 && report[4]) snprintf(msg, sizeof msg, "cannot start %.200s: %.300s", q->argv[0], report + 4);
    else snprintf(msg, sizeof msg, "cannot start %.200s", q->argv[0]);
    fail(q->id, msg, err);
    err = 0; /* said already */
    goto out;
  }
  memset(j, 0, sizeof *j);
  j->spool = -1;
  j->spool_full = 0;
  j->spool_path = q->spool_path[0] ? strdup(q->spool_path) : NULL;
  j->used = 1;
  strcpy(j->id, q->id);
  j->pid = pid;
  j->err = pe[0]; pe[0] = -1;
  j->outfile = outfile; outfile = -1;
  if (j->outfile >= 0) j->out = -1;
  else { j->out = po[0]; po[0] = -1; set_nonblock_cloexec(j->out); }
  set_nonblock_cloexec(j->err);
  keep_cgroups(j, q);
  unsigned char body[20];
  put_u32(body, (uint32_t)pid);
  int64_t t = wall_ms();
  put_u64(body + 4, (uint64_t)t);
  uint64_t st = proc_start(pid);
  put_u64(body + 12, st);
  send_frame('S', q->id, body, 20);
out:
  if (what) fail(q->id, what, err);
  int fds[] = {po[0], po[1], pe[0], pe[1], px[0], px[1], outfile};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
    if (fds[i] >= 0) close(fds[i]);
}

static void do_launch(const unsigned char *p, size_t n) {
  struct launch_req q;
  if (!parse_launch(p, n, &q)) return;
  struct job *j = NULL;
  for (int i = 0; i < MAX_JOBS && !j; i++)
    if (!jobs[i].used) j = &jobs[i];
  if (j) spawn_job(j, &q);
  else fail(q.id, "too many jobs", EAGAIN);
  free_req(&q);
}

static void do_signal(const unsigned char *p, size_t n) {
  const char *z = memchr(p, 0, n);
  if (!z || (size_t)((const unsigned char *)z + 1 - p) + 4 > n) return;
  const unsigned char *q = (const unsigned char *)z + 1;
  int sig = (int)(q[0] | (q[1] << 8) | (q[2] << 16) | ((uint32_t)q[3] << 24));
  struct job *j = find_job((const char *)p);
  if (j && j->pid > 0) kill(-j->pid, sig);
}

static void do_watchdog(const unsigned char *p, size_t n) {
  const unsigned char *z = memchr(p, 0, n);
  if (!z || (size_t)(z + 1 - p) + 4 > n) return;
  const unsigned char *q = z + 1;
  uint32_t ms = q[0] | (q[1] << 8) | (q[2] << 16) | ((uint32_t)q[3] << 24);
  watchdog_deadline = ms ? now_ms() + ms : 0;
}

static void handle_frame(const unsigned char *p, size_t n) {
  if (n < 1) return;
  if (p[0] == 'L') do_launch(p + 1, n - 1);
  else if (p[0] == 'K') do_signal(p + 1, n - 1);
  else if (p[0] == 'W') do_watchdog(p + 1, n - 1);
}

/* Writes `text` to the file `path`; 0 on success. */
static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = (ssize_t)strlen(text);
  int ok = write(fd, text, (size_t)n) == n;
  close(fd);
  return ok ? 0 : -1;
}

/* SIGKILLs every process listed in <dir>/cgroup.procs; returns how many it found. */
static int kill_listed(const char *dir) {
  char path[4200];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  int found = 0, pid;
  while (fscanf(f, "%d", &pid) == 1) {
    found++;
    kill(pid, SIGKILL);
  }
  fclose(f);
  return found;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* Reaps whatever of our own children has died: a zombie is still listed in its cgroup until it is reaped. */
static void reap_quietly(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

/* Kills everything in the given cgroups, whatever its process group or session: cgroup.kill where the kernel has
 * it (cgroup v2, Linux 5.14+); else each cgroup is frozen (v2's cgroup.freeze, so nothing forks meanwhile) and its
 * processes killed pid by pid until it is empty (cgroup v1 has no freezer in our cgroups: there the loop runs
 * until nothing is left). All cgroups at once, for at most about two seconds. `may_reap`: the launcher is on its way
 * out, so its own dead children (still listed while they are zombies) are reaped here, their exits unreported. */
static void kill_cgroups(char **dirs, int n, int may_reap) {
  char path[4200];
  int frozen[n > 0 ? n : 1];
  for (int i = 0; i < n; i++) {
    frozen[i] = 0;
    snprintf(path, sizeof path, "%s/cgroup.kill", dirs[i]);
    if (write_file(path, "1") == 0) continue;
    snprintf(path, sizeof path, "%s/cgroup.freeze", dirs[i]);
    frozen[i] = write_file(path, "1") == 0;
  }
  for (int round = 0; round < 200; round++) {
    int left = 0;
    for (int i = 0; i < n; i++) left += kill_listed(dirs[i]);
    if (left == 0) break;
    if (may_reap) reap_quietly();
    sleep_ms(10);
    if (may_reap) reap_quietly();
  }
  for (int i = 0; i < n; i++) {
    if (!frozen[i]) continue; /* killed processes leave a frozen cgroup only once thawed */
    snprintf(path, sizeof path, "%s/cgroup.freeze", dirs[i]);
    write_file(path, "0");
  }
}

/* Removes emptied cgroups; their last processes may take a moment to leave. */
static void remove_cgroups(char **dirs, int n) {
  for (int round = 0; round < 100; round++) {
    int busy = 0;
    for (int i = 0; i < n; i++) {
      if (!dirs[i]) continue;
      if (rmdir(dirs[i]) == 0 || errno != EBUSY) { dirs[i] = NULL; continue; }
      busy++;
      kill_listed(dirs[i]);
    }
    if (busy == 0) return;
    reap_quietly();
    sleep_ms(10);
  }
}

/* Kills every job: its process group, then its cgroups (which hold what escaped the group with setsid). */
static void kill_all_jobs(int remove) {
  static char *dirs[MAX_JOBS * MAX_CGROUPS];
  int n = 0;
  for (int i = 0; i < MAX_JOBS; i++) {
    if (!jobs[i].used) continue;
    if (jobs[i].pid > 0 && !jobs[i].exited) kill(-jobs[i].pid, SIGKILL);
    for (int c = 0; c < jobs[i].cgc; c++) dirs[n++] = jobs[i].cgroups[c];
  }
  kill_cgroups(dirs, n, remove);
  if (remove) remove_cgroups(dirs, n);
}

/* The worker is gone: nothing of its attempts may outlive it, and their cgroups go too. */
static void kill_all_and_exit(void) {
  kill_all_jobs(1);
  _exit(0);
}

static void read_input(void) {
  if (incap - inlen < 65536) {
    incap = incap ? incap * 2 : 1 << 17;
    inbuf = realloc(inbuf, incap);
  }
  ssize_t r = read(0, inbuf + inlen, incap - inlen);
  if (r == 0) kill_all_and_exit();
  if (r < 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    kill_all_and_exit();
  }
  inlen += (size_t)r;
  size_t off = 0;
  while (inlen - off >= 4) {
    uint32_t len = inbuf[off] | (inbuf[off + 1] << 8) | (inbuf[off + 2] << 16) | ((uint32_t)inbuf[off + 3] << 24);
    if (inlen - off - 4 < len) break;
    handle_frame(inbuf + off + 4, len);
    off += 4 + len;
  }
  memmove(inbuf, inbuf + off, inlen - off);
  inlen -= off;
}

static int no_splice = 0; /* splice(2) refused once (an odd file system): copy through a buffer instead */

/* Moves exactly `n` bytes that are waiting in the pipe `fd` to the spool: spliced in the kernel (no copy through
 * this process), or read and written when splice is not available. Returns 0, or -1 when the bytes could not
 * all be moved. */
static int spool_bytes(struct job *j, int fd, size_t n, unsigned char *buf, size_t cap) {
  while (n > 0 && !no_splice) {
    ssize_t m = splice(fd, NULL, j->spool, NULL, n, SPLICE_F_MOVE);
    if (m > 0) { n -= (size_t)m; continue; }
    if (m < 0 && errno == EINTR) continue;
    if (m < 0 && (errno == EINVAL || errno == ENOSYS)) { no_splice = 1; break; }
    if (m < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)) return -2;
    return -1;
  }
  while (n > 0) {
    ssize_t r = read(fd, buf, n < cap ? n : cap);
    if (r > 0) {
      if (write_some(j->spool, buf, (size_t)r) < 0) return -2;
      n -= (size_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    return -1;
  }
  return 0;
}

static void pump(struct job *j, int *fd, unsigned char stream) {
  unsigned char buf[1 + 65536];
  buf[0] = stream;
  for (;;) {
    /* Spooling: ask how much is waiting, frame it, and let the kernel move it to the spool file. */
    int avail = 0;
    if (j->spool_full) {
      /* The spool's disk is full: drain the job's stderr and drop it, so the job is not stopped by a full
       * pipe or a SIGPIPE; the worker cuts the log with a marker. */
      ssize_t r = read(*fd, buf + 1, sizeof buf - 1);
      if (r > 0 || (r < 0 && errno == EINTR)) continue;
      if (r == 0) { close(*fd); *fd = -1; }
      return;
    }
    if (j->spool_path && ioctl(*fd, FIONREAD, &avail) == 0 && avail > 0) {
      if (j->spool < 0) {
        j->spool = open(j->spool_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (j->spool < 0) { free(j->spool_path); j->spool_path = NULL; continue; } /* fall back to frames */
      }
      unsigned char head[5];
      head[0] = stream;
      put_u32(head + 1, (uint32_t)avail);
      if (write_some(j->spool, head, 5) < 0) { j->spool_full = 1; continue; }
      int moved = spool_bytes(j, *fd, (size_t)avail, buf + 1, sizeof buf - 1);
      /* A partial frame past `spooled` is never announced, so never read. */
      if (moved == -2) { j->spool_full = 1; continue; }
      if (moved < 0) { close(*fd); *fd = -1; return; }
      j->spooled += 5 + (uint64_t)avail;
      j->dirty = 1;
      continue;
    }
    ssize_t r = read(*fd, buf + 1, sizeof buf - 1);
    if (r > 0) {
      if (j->spool_path && j->spool < 0) {
        j->spool = open(j->spool_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (j->spool < 0) { free(j->spool_path); j->spool_path = NULL; } /* fall back to frames */
      }
      if (j->spool >= 0) {
        unsigned char head[5];
        head[0] = stream;
        put_u32(head + 1, (uint32_t)r);
        if (write_some(j->spool, head, 5) < 0 || write_some(j->spool, buf + 1, (size_t)r) < 0) { j->spool_full = 1; continue; }
        j->spooled += 5 + (uint64_t)r;
        j->dirty = 1;
      } else {
        send_frame('O', j->id, buf, (size_t)r + 1);
      }
      continue;
    }
    if (r < 0 && (errno == EINTR)) continue;
    if (r < 0 && errno == EAGAIN) return;
    close(*fd);
    *fd = -1;
    return;
  }
}

/* The stdout file grew: say how big it is ('Q'), before any stderr announcement that follows, so the worker
 * reads what the job printed in the order it printed it (to within one read). */
static void announce_out(struct job *j) {
  if (j->outfile < 0) return;
  struct stat st;
  if (fstat(j->outfile, &st) < 0 || (uint64_t)st.st_size <= j->out_announced) return;
  j->out_announced = (uint64_t)st.st_size;
  unsigned char body[8];
  put_u64(body, j->out_announced);
  send_frame('Q', j->id, body, 8);
}

static void announce(struct job *j) {
  announce_out(j);
  if (!j->dirty) return;
  unsigned char body[8];
  put_u64(body, j->spooled);
  send_frame('P', j->id, body, 8);
  j->dirty = 0;
}

static void finish_if_done(struct job *j) {
  if (!j->exited) return;
  if (j->out >= 0 || j->err >= 0) {
    if (now_ms() - j->exited_at < DRAIN_MS) return;
    /* Something that left the process group still holds the pipes: stop waiting for it. */
    if (j->out >= 0) { close(j->out); j->out = -1; }
    if (j->err >= 0) { close(j->err); j->err = -1; }
  }
  announce(j);
  /* A silent job (most are): its empty stdout file is removed here, and 'X' says so, so that the worker has
   * nothing to read or remove. */
  unsigned char removed = 0;
  if (j->spool_path && j->outfile >= 0 && j->out_announced == 0 && j->spool < 0) {
    char outpath[4200];
    if (snprintf(outpath, sizeof outpath, "%s.out", j->spool_path) < (int)sizeof outpath && unlink(outpath) == 0) removed = 1;
  }
  /* Output lost to a full disk: the stderr this launcher could not spool, or (a job that failed after printing,
   * on a disk with no block left) the job's own writes to its stdout file, which fail in the job. */
  unsigned char lost = (unsigned char)j->spool_full;
  if (!lost && j->outfile >= 0 && j->out_announced > 0 && (j->code != 0 || j->sig != 0)) {
    struct statfs fs;
    if (fstatfs(j->outfile, &fs) == 0 && fs.f_bavail == 0) lost = 1;
  }
  if (j->outfile >= 0) { close(j->outfile); j->outfile = -1; }
  if (j->spool >= 0) { close(j->spool); j->spool = -1; }
  free(j->spool_path);
  j->spool_path = NULL;
  unsigned char body[9];
  put_u32(body, (uint32_t)j->code);
  put_u32(body + 4, (uint32_t)j->sig);
  body[8] = (unsigned char)(removed | (lost << 1));
  send_frame('X', j->id, body, 9);
  drop_cgroups(j);
  j->used = 0;
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (int i = 0; i < MAX_JOBS; i++) {
      struct job *j = &jobs[i];
      if (!j->used || j->pid != pid) continue;
      j->exited = 1;
      j->exited_at = now_ms();
      if (WIFEXITED(status)) { j->code = WEXITSTATUS(status); j->sig = 0; }
      else { j->sig = WTERMSIG(status); j->code = 128 + j->sig; }
      /* Whatever the command left running in its group goes with it; then its pipes close. */
      kill(-pid, SIGKILL);
      break;
    }
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--probe-sandbox") == 0) return probe_sandbox();
  signal(SIGPIPE, SIG_IGN);
  if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  static struct pollfd pfds[2 + 2 * MAX_JOBS];
  static struct job *owner[2 + 2 * MAX_JOBS];
  static int *slot[2 + 2 * MAX_JOBS];
  for (;;) {
    int n = 0;
    pfds[n].fd = 0; pfds[n].events = POLLIN; owner[n] = NULL; n++;
    pfds[n].fd = sigpipe_fds[0]; pfds[n].events = POLLIN; owner[n] = NULL; n++;
    int timeout = -1;
    for (int i = 0; i < MAX_JOBS; i++) {
      struct job *j = &jobs[i];
      if (!j->used) continue;
      if (j->out >= 0) { pfds[n].fd = j->out; pfds[n].events = POLLIN; owner[n] = j; slot[n] = &j->out; n++; }
      if (j->err >= 0) { pfds[n].fd = j->err; pfds[n].events = POLLIN; owner[n] = j; slot[n] = &j->err; n++; }
      if (j->exited) timeout = 100;
      /* A job printing to its stdout file is watched every 50 ms. */
      if (j->outfile >= 0 && (timeout < 0 || timeout > 50)) timeout = 50;
    }
    if (watchdog_deadline) {
      int64_t left = watchdog_deadline - now_ms();
      if (left < 0) left = 0;
      if (timeout < 0 || left < timeout) timeout = (int)left;
    }
    int r = poll(pfds, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR) return 2;
    if (r > 0) {
      for (int i = 2; i < n; i++)
        if (pfds[i].revents && *slot[i] == pfds[i].fd) pump(owner[i], slot[i], slot[i] == &owner[i]->out ? 1 : 2);
      if (pfds[1].revents) {
        char drain[256];
        while (read(sigpipe_fds[0], drain, sizeof drain) > 0) {}
      }
      if (pfds[0].revents) read_input();
    }
    if (watchdog_deadline && now_ms() >= watchdog_deadline) {
      /* The worker has not renewed in time: its leases may be gone, so its jobs go now. */
      watchdog_deadline = 0;
      kill_all_jobs(0);
    }
    reap();
    for (int i = 0; i < MAX_JOBS; i++)
      if (jobs[i].used) { announce(&jobs[i]); finish_if_done(&jobs[i]); }
  }
}
