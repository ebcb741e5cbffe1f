#!/usr/bin/python3
"""Static checks of the shipped unit files.

- `systemd-analyze verify` is clean for every unit (with ExecStart= pointed
  at the daemon just built, since verify insists that the binary exists);
- `systemd-analyze security` rates secure-api.service below 2.0;
- enabling secure-api.socket also enables secure-api-http.socket;
- systemd waits longer on stop than the daemon's default drain timeout.

Usage: units_lint.py --sbindir DIR --daemon BUILT_BINARY UNIT_FILE...
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

MAX_EXPOSURE = 2.0
DRAIN_TIMEOUT_DEFAULT = 10  # seconds, http.drain-timeout
SERVICE = "secure-api.service"
RENEW_SERVICE = "secure-api-renew.service"
TIMER = "secure-api-renew.timer"
SOCKETS = ("secure-api.socket", "secure-api-http.socket")
PROGRAMS = {SERVICE: "secure-apid", RENEW_SERVICE: "secure-api-renew"}


class Failure(Exception):
    pass


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)


def unit_settings(path):
    """Key -> list of values, over all sections; enough for these checks."""
    settings = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def copy_units(units, sbindir, built, into):
    """Copy the units into `into`, the services with the built binaries as ExecStart=."""
    for unit in units:
        name = os.path.basename(unit)
        with open(unit, encoding="utf-8") as f:
            text = f.read()
        if name in PROGRAMS:
            installed = os.path.join(sbindir, PROGRAMS[name])
            binary = built[name]
            pattern = re.compile(r"^ExecStart=" + re.escape(installed) + r"(\s|$)", re.M)
            if not pattern.search(text):
                raise Failure(f"{name}: ExecStart= does not start {installed!r}")
            text = pattern.sub(lambda m: "ExecStart=" + binary + m.group(1), text)
        with open(os.path.join(into, name), "w", encoding="utf-8") as f:
            f.write(text)


def check_verify(directory, names):
    paths = [os.path.join(directory, n) for n in names]
    result = run(["systemd-analyze", "verify", "--man=no", *paths])
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or output:
        raise Failure(f"systemd-analyze verify (exit {result.returncode}):\n{output}")
    print(f"ok: systemd-analyze verify {' '.join(names)}")


def check_exposure(directory, service):
    result = run(["systemd-analyze", "security", "--offline=true",
                  os.path.join(directory, service)])
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    if not match:
        raise Failure("no exposure level in systemd-analyze security output:\n"
                      + result.stdout + result.stderr)
    exposure = float(match.group(1))
    if exposure >= MAX_EXPOSURE:
        flagged = [l for l in result.stdout.splitlines() if l.startswith("\u2717")]
        raise Failure(f"{service}: exposure {exposure}, want < {MAX_EXPOSURE}; flagged:\n"
                      + "\n".join(flagged))
    print(f"ok: exposure of {service} is {exposure} (< {MAX_EXPOSURE})")


def check_enable_pulls_http_socket(directory):
    """`systemctl --root` enables offline, the way `enable` would on a real system."""
    with tempfile.TemporaryDirectory() as root:
        unit_dir = os.path.join(root, "usr/lib/systemd/system")
        os.makedirs(unit_dir)
        os.makedirs(os.path.join(root, "etc/systemd/system"))
        for name in (SERVICE, RENEW_SERVICE, TIMER, *SOCKETS):
            shutil.copy(os.path.join(directory, name), unit_dir)
        result = run(["systemctl", f"--root={root}", "enable", "secure-api.socket"])
        if result.returncode != 0:
            raise Failure(f"systemctl enable secure-api.socket: {result.stderr.strip()}")
        wants = os.path.join(root, "etc/systemd/system/sockets.target.wants")
        missing = [s for s in SOCKETS if not os.path.islink(os.path.join(wants, s))]
        timers = os.path.join(root, "etc/systemd/system/timers.target.wants")
        if not os.path.islink(os.path.join(timers, TIMER)):
            missing.append(TIMER)
        if missing:
            raise Failure("enabling secure-api.socket did not enable " + ", ".join(missing))
    print("ok: enabling secure-api.socket enables both sockets and the renewal timer")


def check_timer(directory):
    """BC-15: at least twice a day, at most an hour of random delay, persistent."""
    settings = unit_settings(os.path.join(directory, TIMER))
    calendar = settings.get("OnCalendar", [])
    result = run(["systemd-analyze", "calendar", "--iterations=3", *calendar])
    runs = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+)", result.stdout)
    if result.returncode != 0 or len(runs) < 3:
        raise Failure(f"{TIMER}: cannot read OnCalendar={calendar}: {result.stdout}{result.stderr}")
    first, third = (time.strptime(r, "%Y-%m-%d %H:%M:%S") for r in (runs[0], runs[2]))
    if time.mktime(third) - time.mktime(first) > 24 * 3600:
        raise Failure(f"{TIMER}: OnCalendar={calendar} fires less than twice a day")
    delay = seconds(settings.get("RandomizedDelaySec", ["0"])[-1])
    if delay > 3600:
        raise Failure(f"{TIMER}: RandomizedDelaySec={delay}s is above an hour")
    if settings.get("Persistent", ["false"])[-1] not in ("true", "yes", "1"):
        raise Failure(f"{TIMER}: Persistent=true is missing")
    if "time-sync.target" not in " ".join(unit_settings(
            os.path.join(directory, RENEW_SERVICE)).get("After", [])):
        raise Failure(f"{RENEW_SERVICE}: not ordered After=time-sync.target (BC-12)")
    print(f"ok: {TIMER} fires at least twice a day, delay {delay}s, persistent")


def seconds(value):
    match = re.fullmatch(r"(\d+)\s*(s|sec|min|m|h|hour)?", value)
    if not match:
        raise Failure(f"cannot read time span {value!r}")
    unit = {"min": 60, "m": 60, "h": 3600, "hour": 3600}.get(match.group(2), 1)
    return int(match.group(1)) * unit


def check_stop_timeout(directory):
    settings = unit_settings(os.path.join(directory, SERVICE))
    values = settings.get("TimeoutStopSec", [])
    if not values:
        raise Failure(f"{SERVICE}: no TimeoutStopSec= (default 90 s hides a hung stop)")
    stop = seconds(values[-1])
    if stop <= DRAIN_TIMEOUT_DEFAULT:
        raise Failure(f"{SERVICE}: TimeoutStopSec={stop}s is not above the drain "
                      f"timeout of {DRAIN_TIMEOUT_DEFAULT}s")
    print(f"ok: TimeoutStopSec={stop}s > http.drain-timeout {DRAIN_TIMEOUT_DEFAULT}s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sbindir", required=True)
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--renew", required=True)
    parser.add_argument("units", nargs="+")
    args = parser.parse_args()
    names = sorted(os.path.basename(u) for u in args.units)
    if names != sorted((SERVICE, RENEW_SERVICE, TIMER, *SOCKETS)):
        raise Failure(f"expected the five units, got {names}")
    built = {SERVICE: os.path.abspath(args.daemon), RENEW_SERVICE: os.path.abspath(args.renew)}
    for binary in built.values():
        if not os.access(binary, os.X_OK):
            raise Failure(f"{binary!r} is not built")
    with tempfile.TemporaryDirectory() as directory:
        copy_units(args.units, args.sbindir, built, directory)
        check_verify(directory, names)
        check_exposure(directory, SERVICE)
        check_exposure(directory, RENEW_SERVICE)
        check_enable_pulls_http_socket(directory)
        check_timer(directory)
        check_stop_timeout(directory)


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
