"""What the tests under a real systemd share.

The container they boot with systemd-sandbox (../shared/tools/systemd-sandbox, passed as
--sandbox), free loopback ports, the daemon's main PID and journal, and the frame of a test
script: arguments and the checks booting needs, a test timeout that unwinds through the
sandbox's clean-up, and one FAIL line with exit status 1.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys


class Failure(Exception):
    pass


def log(message):
    print(message, flush=True)


def free_ports(count):
    """Distinct free loopback ports: the sandbox shares the host's network."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Sandbox:
    """One booted container, named after prefix and this process so that runs never meet.

    base_dir: a base of the test's own with packages baked in, so a sandbox test with other
    packages never rebuilds the base under another while it runs.  timeout: the default for
    commands run inside.  umask: the one files are written under, when not the default."""

    def __init__(self, tool, prefix, base_dir, packages, timeout=120, umask=None):
        self.tool = tool
        self.name = f"{prefix}-{os.getpid()}"
        self.base_dir = base_dir
        self.timeout = timeout
        self.umask = umask
        self.env = dict(os.environ, SYSTEMD_SANDBOX_DIR=base_dir,
                        SYSTEMD_SANDBOX_NAME=self.name, SYSTEMD_SANDBOX_PACKAGES=packages)

    def tool_run(self, *args, data=None, timeout=120):
        return subprocess.run([self.tool, *args], input=data, capture_output=True,
                              env=self.env, timeout=timeout)

    def run(self, *cmd, data=None, timeout=None):
        """Run inside; returns (exit status, stdout, stderr) as text."""
        result = self.tool_run("exec", *cmd, data=data, timeout=timeout or self.timeout)
        return (result.returncode, result.stdout.decode(errors="replace"),
                result.stderr.decode(errors="replace"))

    def must(self, *cmd, data=None, timeout=None):
        status, out, err = self.run(*cmd, data=data, timeout=timeout)
        if status != 0:
            raise Failure(f"in the sandbox: {' '.join(cmd)}: exit {status}\n{out}{err}")
        return out

    def write(self, path, data, mode="644", owner=None):
        """Write a file atomically (systemd, the daemon and every renewal read what is
        written here), with its mode and owner set before it appears."""
        steps = ['mkdir -p "${1%/*}"', 'cat >"$1.new"', 'chmod "$2" "$1.new"']
        if owner:
            steps.append('chown "$3" "$1.new"')
        steps.append('mv -f "$1.new" "$1"')
        if self.umask:
            steps.insert(0, f"umask {self.umask}")
        self.must("sh", "-c", " && ".join(steps), "_", path, mode, *([owner] if owner else []),
                  data=data)

    def copy_in(self, src, dst):
        result = self.tool_run("copy-in", src, dst)
        if result.returncode != 0:
            raise Failure(f"copy-in {src}: {result.stderr.decode(errors='replace')}")

    def start(self, timeout=600):
        # Building the base on a fresh machine takes about a minute.
        result = self.tool_run("start", timeout=timeout)
        if result.returncode != 0:
            raise Failure("systemd-sandbox start failed:\n"
                          + result.stderr.decode(errors="replace"))

    def stop(self):
        self.tool_run("stop", timeout=120)
        shutil.rmtree(os.path.join(self.base_dir, f"run-{self.name}"), ignore_errors=True)

    @contextlib.contextmanager
    def booted(self, journal_units, start_timeout=600):
        """Started for the with-block and stopped after it, however it ends; when it fails,
        the journal of journal_units goes to stderr first."""
        self.start(start_timeout)
        try:
            yield self
        except BaseException:
            self.dump_journal(journal_units)
            raise
        finally:
            self.stop()

    def dump_journal(self, units):
        status, out, err = self.run("journalctl", "-q", "--no-pager", "-o", "short-precise",
                                    *[arg for unit in units for arg in ("-u", unit)])
        print(f"--- journal of the sandbox ({', '.join(units)}) ---\n" + out[-20000:] + err,
              file=sys.stderr)

    def prop(self, unit, name):
        return self.must("systemctl", "show", "-P", name, unit).strip()

    def journal_json(self, *match):
        out = self.must("journalctl", "-q", "--no-pager", "-o", "json", *match)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def main_pid(box):
    pid = box.prop("secure-api.service", "MainPID")
    if pid in ("", "0"):
        raise Failure("secure-api.service has no main process")
    return pid


def parse_arguments(parser):
    """The arguments, with --sandbox added, once booting can work: as root, with the tool.
    From here on a test timeout (SIGTERM) unwinds through the finally that stops the
    sandbox."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: terminated (timeout?)"))
    parser.add_argument("--sandbox", required=True, help="path of systemd-sandbox")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise Failure("must run as root (systemd-sandbox boots a container)")
    if not os.access(args.sandbox, os.X_OK):
        raise Failure(f"systemd-sandbox not found at {args.sandbox!r}")
    return args


def run_main(main):
    """main(), with a failure reported as one FAIL line (and the failed command's stderr)."""
    try:
        main()
    except (Failure, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        detail = getattr(e, "stderr", None)
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        print(f"FAIL: {e}" + (f"\n{detail}" if detail else ""), file=sys.stderr)
        sys.exit(1)
