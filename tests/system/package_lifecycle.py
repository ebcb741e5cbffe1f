#!/usr/bin/python3
"""The .deb from install to purge, under a real systemd, against a real ACME CA.

Builds secure-api_<version>_amd64.deb with dpkg-buildpackage from a copy of
the source tree and checks it with lintian. Boots a real systemd
(systemd-sandbox) with Debian's pebble baked in, moves the two sockets to
loopback with drop-ins (port 443 and 80 when the host has them free, the
sandbox shares its network), installs the package with apt and then checks:

- the package enables and starts the sockets and the timer, not the services;
  list-timers shows the timer's next run;
- the daemon answers on its placeholder certificate, and a renewal without a
  domain does nothing but say so (exit status 10), explained by the catalog;
- systemd-analyze: security below 2.0 for both services, verify clean;
- with pebble + challtestsrv on loopback and the configuration pointed at
  them, `systemctl start secure-api-renew` issues a certificate (journal
  record with DOMAIN and CERT_SERIAL), and https://acme.test/square/15
  answers 225, verified against pebble's root;
- a forced renewal changes the served certificate, not the daemon's PID;
- `systemctl reload` works, and fails on a broken certificate file, with the
  reason in the journal and the old certificate still served;
- the daemon's user cannot read the ACME account key;
- apt remove stops everything; apt purge leaves no state and no /etc/secure-api.

Usage: package_lifecycle.py --source-dir DIR --sandbox TOOL [--deb FILE]
(--deb: use a package built before instead of building one).
"""

import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from sandbox_common import Failure, Sandbox, free_ports, log, main_pid
from sandbox_common import parse_arguments, run_main

DOMAIN = "acme.test"
# Baked into the sandbox's base: pebble, man-db (systemd-analyze verify runs
# man for every Documentation=man:...), and what the package depends on
# beyond the base (systemd, dbus), so apt installs it without the mirror.
SANDBOX_PACKAGES = ("pebble man-db libmicrohttpd12 libgnutls30 libboost-program-options1.74.0 "
                    "libgmp10 libcurl3-gnutls")
# A base of its own: another sandbox test with other packages never rebuilds
# it while this one runs.
SANDBOX_DIR = "/var/cache/systemd-sandbox-secure-api-pkg"
UNITS = ("secure-api.socket", "secure-api-http.socket", "secure-api.service",
         "secure-api-renew.service", "secure-api-renew.timer")
MSG_ISSUED = "ee195a258330455aadcdda3e32a4cadb"
MSG_NOT_DUE = "67701fbb01d345fb8377e3f5e0599ecb"
MSG_RELOAD_REJECTED = "a60c020d01f946c9b88355893258113b"
CERT_LINK = f"/var/lib/secure-api/certs/{DOMAIN}"
ACCOUNT_KEY = "/var/lib/secure-api/acme/account.key"
# Inside the sandbox; not under /etc/secure-api, which purge must remove, and
# not under /root, which ProtectHome= hides from the renewal.
PEBBLE_DIR = "/usr/local/share/pebble-test"
FORCE_DROPIN = "/run/systemd/system/secure-api-renew.service.d/50-force.conf"
# Shown when the test fails.
JOURNAL_UNITS = UNITS + ("test-pebble", "dbus.service")


def ok(message):
    log(f"ok: {message}")


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            return True
    except OSError:
        return False


def choose_ports():
    """443 and 80 on loopback when the host has both free: the daemon then
    serves the real ports with no capability at all. Otherwise free ports."""
    if port_free(443) and port_free(80):
        return {"https": 443, "http": 80}
    https, http = free_ports(2)
    return {"https": https, "http": http}


# --- building the package ---------------------------------------------------

def source_files(source):
    """The files of the source tree: git's view (tracked and new, not ignored)
    when there is one, else everything but build output."""
    if os.path.isdir(os.path.join(source, ".git")) and shutil.which("git"):
        listing = subprocess.run(["git", "-C", source, "ls-files", "-z", "--cached", "--others",
                                  "--exclude-standard"], check=True, capture_output=True).stdout
        names = [n for n in listing.decode().split("\0") if n]
    else:
        names = []
        for root, dirs, files in os.walk(source):
            rel = os.path.relpath(root, source)
            if rel == ".":
                dirs[:] = [d for d in dirs if not (d.startswith("build") or d == ".git")]
            names += [os.path.normpath(os.path.join(rel, f)) for f in files]
    # dpkg-buildpackage's own output, should it have run in the tree.
    return [n for n in names
            if not n.startswith("obj-") and os.path.isfile(os.path.join(source, n))]


def build_deb(source, work):
    tree = os.path.join(work, "src", "secure-api")
    for name in source_files(source):
        target = os.path.join(tree, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(source, name), target)
    env = dict(os.environ, DEB_BUILD_OPTIONS=f"nocheck parallel={os.cpu_count() or 2}")
    log_path = os.path.join(work, "dpkg-buildpackage.log")
    started = time.monotonic()
    with open(log_path, "w") as out:
        result = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=env,
                                stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    if result.returncode != 0:
        with open(log_path) as f:
            raise Failure(f"dpkg-buildpackage failed (exit {result.returncode}):\n"
                          + f.read()[-4000:])
    debs = glob.glob(os.path.join(work, "src", "secure-api_*_amd64.deb"))
    changes = glob.glob(os.path.join(work, "src", "secure-api_*_amd64.changes"))
    if len(debs) != 1 or len(changes) != 1:
        raise Failure(f"dpkg-buildpackage made {debs} and {changes}, want one .deb, one .changes")
    ok(f"dpkg-buildpackage -us -uc -b built {os.path.basename(debs[0])} "
       f"in {time.monotonic() - started:.0f} s")
    return debs[0], changes[0]


def check_lintian(changes):
    if not shutil.which("lintian"):
        raise Failure("lintian is not installed (apt-get install lintian)")
    result = subprocess.run(["lintian", "--fail-on", "error,warning", changes],
                            capture_output=True, text=True, timeout=600)
    tags = [line for line in result.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    if result.returncode != 0 or tags:
        raise Failure(f"lintian {os.path.basename(changes)} (exit {result.returncode}):\n"
                      + result.stdout + result.stderr)
    ok("lintian: no errors, no warnings on the .changes and the .deb")


def check_contents(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], check=True, capture_output=True,
                             text=True).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    want = ["/usr/sbin/secure-apid", "/usr/sbin/secure-api-renew",
            "/etc/secure-api/secure-api.conf",
            "/usr/share/dbus-1/system.d/org.secureapi.Daemon1.conf",
            "/usr/lib/sysusers.d/secure-api.conf", "/usr/lib/tmpfiles.d/secure-api.conf",
            "/usr/lib/systemd/catalog/secure-api.catalog",
            "/usr/share/man/man8/secure-apid.8.gz", "/usr/share/man/man8/secure-api-renew.8.gz",
            "/usr/share/man/man5/secure-api.conf.5.gz"]
    want += [f"/lib/systemd/system/{unit}" for unit in UNITS]
    missing = [p for p in want if p not in paths]
    if missing:
        raise Failure(f"the .deb lacks {missing}:\n{listing}")
    conffiles = subprocess.run(["dpkg-deb", "-I", deb, "conffiles"], check=True,
                               capture_output=True, text=True).stdout.split()
    if conffiles != ["/etc/secure-api/secure-api.conf"]:
        raise Failure(f"conffiles are {conffiles}, want /etc/secure-api/secure-api.conf alone")
    ok("the .deb holds both programs, the units, the conffile, D-Bus policy, sysusers.d, "
       "tmpfiles.d, the catalog and three man pages")


def make_pebble_tls(work):
    """Pebble's own HTTPS needs a certificate (the package ships none): a
    throwaway CA and a leaf for 127.0.0.1 and localhost."""
    def certtool(*args):
        subprocess.run(["certtool", *args], check=True, capture_output=True, cwd=work)

    def template(name, text):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)

    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile=pebble-ca.key")
    template("ca.tmpl", 'cn = "pebble TLS test CA"\nca\ncert_signing_key\nexpiration_days = 2\n')
    certtool("--generate-self-signed", "--load-privkey=pebble-ca.key", "--template=ca.tmpl",
             "--outfile=pebble-ca.pem")
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile=pebble.key")
    template("leaf.tmpl", 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\n'
             "tls_www_server\nexpiration_days = 2\n")
    certtool("--generate-certificate", "--load-privkey=pebble.key",
             "--load-ca-certificate=pebble-ca.pem", "--load-ca-privkey=pebble-ca.key",
             "--template=leaf.tmpl", "--outfile=pebble.pem")
    return {name: os.path.join(work, name) for name in ("pebble-ca.pem", "pebble.pem",
                                                         "pebble.key")}


def install_socket_dropins(box, ports):
    """Before the package: its postinst starts the sockets, and they must
    never listen beyond loopback (the sandbox shares the host's network)."""
    for unit, role in (("secure-api.socket", "https"), ("secure-api-http.socket", "http")):
        box.write(f"/etc/systemd/system/{unit}.d/50-loopback.conf",
                  f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{ports[role]}\n".encode())


def install_package(box, deb):
    box.copy_in(deb, "/root/")
    path = "/root/" + os.path.basename(deb)
    status, out, err = box.run("apt-get", "install", "-y", "--no-install-recommends", path,
                               timeout=600)
    if status != 0:
        raise Failure(f"apt-get install {path} failed (exit {status}):\n{out}{err}")
    ok("apt-get install ./secure-api_*.deb succeeded")


def check_after_install(box):
    for unit in ("secure-api.socket", "secure-api-http.socket", "secure-api-renew.timer"):
        state = (box.run("systemctl", "is-enabled", unit)[1].strip(),
                 box.run("systemctl", "is-active", unit)[1].strip())
        if state != ("enabled", "active"):
            raise Failure(f"{unit} is {state[0]}/{state[1]} after installing, want enabled/active")
    for unit in ("secure-api.service", "secure-api-renew.service"):
        active = box.run("systemctl", "is-active", unit)[1].strip()
        if active != "inactive":
            raise Failure(f"{unit} is {active} right after installing: the package must start "
                          "only the sockets and the timer")
    for user in ("secure-api", "secure-api-acme"):
        box.must("id", user)
    listing = box.must("stat", "-c", "%n %a %U:%G", "/var/lib/secure-api",
                       "/var/lib/secure-api/certs", "/var/lib/secure-api/acme").splitlines()
    # Permission bits only: a set-group-ID bit on certs/ is a valid choice.
    modes = [f"{n} {int(m, 8) & 0o777:o} {o}" for n, m, o in (e.split() for e in listing)]
    want = ["/var/lib/secure-api 755 root:root",
            "/var/lib/secure-api/certs 755 secure-api-acme:secure-api",
            "/var/lib/secure-api/acme 700 secure-api-acme:secure-api-acme"]
    if modes != want:
        raise Failure(f"state directories after installing: {modes}, want {want}")
    ok("installed: both sockets and the timer enabled and active, services not started, "
       "users and state directories created")


def check_list_timers(box):
    line = box.must("systemctl", "list-timers", "--all", "--no-legend", "--no-pager",
                    "secure-api-renew.timer").strip()
    next_usec = box.prop("secure-api-renew.timer", "NextElapseUSecRealtime")
    if "secure-api-renew.timer" not in line or line.startswith(("n/a", "-")):
        raise Failure(f"systemctl list-timers shows no next run of the timer: {line!r}")
    if not next_usec or next_usec in ("0", "n/a"):
        raise Failure(f"secure-api-renew.timer has no next elapse ({next_usec!r})")
    ok(f"systemctl list-timers: {' '.join(line.split()[:4])} ... secure-api-renew.timer")


def curl(ports, path, cacert=None, host=DOMAIN):
    """HTTPS through the socket-activated daemon from the host; the name is
    resolved with --resolve, never by the system resolver."""
    port = ports["https"]
    authority = host if port == 443 else f"{host}:{port}"
    tls = ["--cacert", cacert] if cacert else ["-k"]
    result = subprocess.run(["curl", "-sS", "-m", "20", *tls, "--resolve",
                             f"{host}:{port}:127.0.0.1", "-D", "-",
                             f"https://{authority}{path}"],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise Failure(f"curl https://{authority}{path}: exit {result.returncode}: "
                      f"{result.stderr.strip()}")
    # Text mode turned the header block's CRLFs into plain newlines.
    head, _, body = result.stdout.partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return status, headers, body


def health(ports, cacert=None):
    status, headers, _ = curl(ports, "/health", cacert)
    if status != 200:
        raise Failure(f"/health answered {status}")
    return headers.get("x-certificate-status"), headers.get("x-certificate-serial")


def check_placeholder(box, ports):
    state = health(ports)
    if state[0] != "placeholder":
        raise Failure(f"/health after installing: {state}, want the placeholder")
    if box.run("systemctl", "is-active", "secure-api.service")[1].strip() != "active":
        raise Failure("a connection to the socket did not start secure-api.service")
    ok(f"the first connection started the daemon; it serves its placeholder ({state[1]})")


def run_renewal(box):
    """systemctl start secure-api-renew; returns systemctl's exit status, the
    program's, the run's invocation id and systemctl's output."""
    status, out, err = box.run("systemctl", "start", "secure-api-renew.service", timeout=660)
    code = box.prop("secure-api-renew.service", "ExecMainStatus")
    invocation = box.prop("secure-api-renew.service", "InvocationID")
    return status, int(code or -1), invocation, out + err


def check_renewal_without_domain(box):
    status, code, invocation, output = run_renewal(box)
    if status != 0 or code != 10:
        raise Failure(f"systemctl start secure-api-renew without a domain: systemctl exit "
                      f"{status}, program exit {code} (want 0 and 10): {output}")
    records = box.journal_json("-u", "secure-api-renew.service",
                               f"_SYSTEMD_INVOCATION_ID={invocation}")
    said = [r.get("MESSAGE", "") for r in records if r.get("MESSAGE_ID") == MSG_NOT_DUE]
    if not any("No domain configured" in m for m in said):
        raise Failure("the renewal without a domain did not log why it did nothing: "
                      f"{[r.get('MESSAGE') for r in records]}")
    explained = box.must("journalctl", "-x", "-q", "--no-pager", "-u", "secure-api-renew.service",
                         f"_SYSTEMD_INVOCATION_ID={invocation}")
    if "Subject: No certificate renewal due" not in explained and \
            "No certificate renewal due" not in explained:
        raise Failure("journalctl -x does not explain the record from the catalog:\n" + explained)
    ok("a renewal without a domain exits 10 (a success for systemd), says 'No domain "
       "configured', and journalctl -x explains it from the catalog")


def check_systemd_analyze(box):
    for service in ("secure-api.service", "secure-api-renew.service"):
        out = box.must("systemd-analyze", "security", "--no-pager", service)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        if not match:
            raise Failure(f"systemd-analyze security {service}: no exposure level in\n{out}")
        if float(match.group(1)) >= 2.0:
            raise Failure(f"systemd-analyze security {service}: {match.group(1)}, want < 2.0")
        ok(f"systemd-analyze security {service}: {match.group(1)}")
    paths = [f"/lib/systemd/system/{unit}" for unit in UNITS]
    status, out, err = box.run("systemd-analyze", "verify", *paths)
    if status != 0 or (out + err).strip():
        raise Failure(f"systemd-analyze verify (exit {status}):\n{out}{err}")
    ok("systemd-analyze verify: no message for any of the five installed units")


def start_pebble(box, tls_files, ports):
    """pebble-challtestsrv answers 127.0.0.1 for every name (DNS only, its own
    challenge servers off); pebble validates on the daemon's http port."""
    acme, management, dns, challtest, tls_alpn = free_ports(5)
    box.must("mkdir", "-p", PEBBLE_DIR)
    for name, path in tls_files.items():
        box.copy_in(path, f"{PEBBLE_DIR}/{name}")
    box.must("chmod", "0644", *[f"{PEBBLE_DIR}/{name}" for name in tls_files])
    config = {"pebble": {"listenAddress": f"127.0.0.1:{acme}",
                         "managementListenAddress": f"127.0.0.1:{management}",
                         "certificate": f"{PEBBLE_DIR}/pebble.pem",
                         "privateKey": f"{PEBBLE_DIR}/pebble.key",
                         "httpPort": ports["http"], "tlsPort": tls_alpn,
                         "ocspResponderURL": "", "externalAccountBindingRequired": False}}
    box.write(f"{PEBBLE_DIR}/pebble.json", json.dumps(config).encode())
    box.must("systemd-run", "-q", "--unit=test-challtestsrv", "pebble-challtestsrv",
             "-dns01", f"127.0.0.1:{dns}", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-management", f"127.0.0.1:{challtest}")
    box.must("systemd-run", "-q", "--unit=test-pebble", "-E", "PEBBLE_VA_NOSLEEP=1",
             "-E", "PEBBLE_WFE_NONCEREJECT=0", "pebble", "-config", f"{PEBBLE_DIR}/pebble.json",
             "-dnsserver", f"127.0.0.1:{dns}")
    deadline = time.monotonic() + 30
    while not (port_listening(acme) and port_listening(challtest)):
        if time.monotonic() > deadline:
            raise Failure("pebble or pebble-challtestsrv does not listen:\n"
                          + box.run("journalctl", "-q", "--no-pager", "-u", "test-pebble",
                                    "-u", "test-challtestsrv")[1])
        time.sleep(0.2)
    ok(f"pebble on https://127.0.0.1:{acme}/dir, challtestsrv DNS on 127.0.0.1:{dns}")
    return {"directory": f"https://127.0.0.1:{acme}/dir", "management": management}


def configure(box, pebble):
    """Point the shipped configuration at pebble, as an admin would: the
    domain on top (before the first section), the ACME keys in [acme]."""
    shipped = box.must("cat", "/etc/secure-api/secure-api.conf")
    config = (f"domain = {DOMAIN}\n\n{shipped}\n[acme]\n"
              f"directory = {pebble['directory']}\nca-bundle = {PEBBLE_DIR}/pebble-ca.pem\n"
              f"email = admin@{DOMAIN}\nagree-tos = true\n")
    box.write("/etc/secure-api/secure-api.conf", config.encode())
    # The daemon reads its configuration at start only.
    box.must("systemctl", "restart", "secure-api.service")
    ok("configuration pointed at pebble (domain acme.test, acme.directory, acme.ca-bundle, "
       "agree-tos true); secure-api.service restarted")


def issued_records(box):
    return box.journal_json("-u", "secure-api-renew.service", f"MESSAGE_ID={MSG_ISSUED}")


def issued_record(box, invocation):
    records = [r for r in issued_records(box) if r.get("_SYSTEMD_INVOCATION_ID") == invocation]
    return records[-1] if records else None


def check_first_issuance(box):
    status, code, invocation, output = run_renewal(box)
    record = issued_record(box, invocation)
    if code == 10 and record is None and len(issued_records(box)) == 1:
        # The timer's first run (30 s after installing, plus its random delay)
        # came between the configuration and this start, and issued it.
        record = issued_records(box)[0]
        log("note: the timer's own run issued the first certificate just before this one")
    elif status != 0 or code != 0:
        raise Failure(f"systemctl start secure-api-renew: systemctl exit {status}, program exit "
                      f"{code}, want 0 and 0: {output}\n" + box.run(
                          "journalctl", "-q", "--no-pager", "-u", "secure-api-renew")[1][-3000:])
    if record is None:
        raise Failure(f"journalctl -u secure-api-renew -o json has no record with MESSAGE_ID="
                      f"{MSG_ISSUED} from this run")
    if record.get("DOMAIN") != DOMAIN or not record.get("CERT_SERIAL"):
        raise Failure(f"the issued record lacks DOMAIN={DOMAIN} or CERT_SERIAL: {record}")
    ok(f"systemctl start secure-api-renew issued certificate {record['CERT_SERIAL']}; the "
       f"journal record has DOMAIN={record['DOMAIN']} and CERT_SERIAL")
    return record["CERT_SERIAL"]


def fetch_pebble_root(pebble, tls_ca, work):
    path = os.path.join(work, "pebble-root.pem")
    subprocess.run(["curl", "-sS", "-m", "10", "--cacert", tls_ca, "-o", path,
                    f"https://127.0.0.1:{pebble['management']}/roots/0"],
                   check=True, capture_output=True, timeout=30)
    return path


def check_square(ports, root, serial):
    status, headers, body = curl(ports, "/square/15", cacert=root)
    if (status, body) != (200, "225"):
        raise Failure(f"https://{DOMAIN}/square/15: {status} {body!r}, want 200 '225'")
    served = health(ports, cacert=root)
    if served != ("loaded", serial):
        raise Failure(f"/health reports {served}, want ('loaded', {serial!r})")
    where = "port 443" if ports["https"] == 443 else f"port {ports['https']} (443 was taken)"
    ok(f"curl --cacert <pebble root> https://{DOMAIN}/square/15 = 225 on {where}, "
       f"serving {serial}")


def check_forced_renewal(box, ports, root, old_serial):
    """--force through the shipped unit itself (a runtime drop-in), so the
    run has exactly its user and sandbox."""
    pid = main_pid(box)
    box.write(FORCE_DROPIN,
              b"[Service]\nExecStart=\nExecStart=/usr/sbin/secure-api-renew --force\n")
    box.must("systemctl", "daemon-reload")
    try:
        status, code, invocation, output = run_renewal(box)
    finally:
        box.must("rm", "-f", FORCE_DROPIN)
        box.must("systemctl", "daemon-reload")
    if status != 0 or code != 0:
        raise Failure(f"forced renewal: systemctl exit {status}, program exit {code}: {output}")
    record = issued_record(box, invocation)
    if record is None:
        raise Failure("the forced renewal logged no issued record")
    new_serial = record["CERT_SERIAL"]
    if new_serial == old_serial:
        raise Failure(f"the forced renewal issued the same serial {new_serial}")
    served = health(ports, cacert=root)
    if served != ("loaded", new_serial):
        raise Failure(f"after the forced renewal /health reports {served}, want {new_serial}")
    if main_pid(box) != pid:
        raise Failure(f"secure-api.service's MainPID changed from {pid} to {main_pid(box)}")
    ok(f"forced renewal: served serial {old_serial} -> {new_serial}, MainPID {pid} unchanged")
    return new_serial, pid


def check_reloads(box, ports, root, serial, pid):
    status, out, err = box.run("systemctl", "reload", "secure-api.service")
    if status != 0:
        raise Failure(f"systemctl reload secure-api failed: {out}{err}")
    if health(ports, cacert=root) != ("loaded", serial) or main_pid(box) != pid:
        raise Failure("systemctl reload changed the serial or the main process")
    ok("systemctl reload secure-api succeeds, same serial, same MainPID")

    live = box.must("readlink", "-f", f"{CERT_LINK}/fullchain.pem").strip()
    box.must("sh", "-c", 'printf "not a certificate\\n" >"$1"', "_", live)
    status, out, err = box.run("systemctl", "reload", "secure-api.service")
    if status == 0:
        raise Failure(f"systemctl reload succeeded with a broken {live}")
    records = box.journal_json("-u", "secure-api.service", f"MESSAGE_ID={MSG_RELOAD_REJECTED}")
    if not records or records[-1].get("RELOAD_ERROR") != "Unreadable":
        raise Failure(f"no reload-rejected record with RELOAD_ERROR=Unreadable in the journal: "
                      f"{records[-1:]}")
    reason = records[-1].get("MESSAGE", "")
    if health(ports, cacert=root) != ("loaded", serial):
        raise Failure("after the rejected reload the old certificate is no longer served")
    if box.run("systemctl", "is-active", "secure-api.service")[1].strip() != "active" or \
            main_pid(box) != pid:
        raise Failure("the rejected reload stopped or restarted the daemon")
    ok(f"a broken certificate file makes systemctl reload fail; journal: {reason!r}; "
       f"{serial} still served")


def check_account_key(box):
    status, _, _ = box.run("runuser", "-u", "secure-api-acme", "--", "test", "-s", ACCOUNT_KEY)
    if status != 0:
        raise Failure(f"{ACCOUNT_KEY} does not exist or is empty for secure-api-acme")
    status, out, err = box.run("runuser", "-u", "secure-api", "--", "cat", ACCOUNT_KEY)
    if status == 0 or "PRIVATE KEY" in out:
        raise Failure(f"user secure-api can read the ACME account key {ACCOUNT_KEY}")
    ok(f"secure-api cannot read {ACCOUNT_KEY} ({err.strip()})")


def check_remove(box, ports):
    status, out, err = box.run("apt-get", "remove", "-y", "secure-api", timeout=300)
    if status != 0:
        raise Failure(f"apt-get remove secure-api (exit {status}):\n{out}{err}")
    running = box.run("pgrep", "-l", "-f", "secure-api")[1].strip()
    if running:
        raise Failure(f"processes left after apt remove: {running}")
    for unit in UNITS:
        active = box.run("systemctl", "is-active", unit)[1].strip()
        if active not in ("inactive", "failed") and active:
            raise Failure(f"{unit} is {active} after apt remove")
    listening = [p for p in (ports["https"], ports["http"]) if port_listening(p)]
    if listening:
        raise Failure(f"ports {listening} still accept connections after apt remove")
    ok("apt remove: no secure-api process, every unit inactive, both ports closed")


def check_purge(box):
    status, out, err = box.run("apt-get", "purge", "-y", "secure-api", timeout=300)
    if status != 0:
        raise Failure(f"apt-get purge secure-api (exit {status}):\n{out}{err}")
    left = box.run("sh", "-c", "ls -d /var/lib/secure-api /etc/secure-api 2>/dev/null")[1].split()
    if left:
        raise Failure(f"left after apt purge: {left}")
    ok("apt purge: no /var/lib/secure-api, no /etc/secure-api")


def run_test(args, work):
    if args.deb:
        deb = args.deb
    else:
        log("dpkg-buildpackage -us -uc -b in a copy of the source tree")
        deb, changes = build_deb(args.source_dir, work)
        check_lintian(changes)
    check_contents(deb)
    tls_files = make_pebble_tls(work)
    ports = choose_ports()
    box = Sandbox(args.sandbox, "secure-api-pkg", SANDBOX_DIR, SANDBOX_PACKAGES)
    log(f"starting the sandbox (https on 127.0.0.1:{ports['https']}, "
        f"http on 127.0.0.1:{ports['http']})")
    with box.booted(JOURNAL_UNITS, start_timeout=900):
        install_socket_dropins(box, ports)
        install_package(box, deb)
        check_after_install(box)
        check_list_timers(box)
        check_placeholder(box, ports)
        check_renewal_without_domain(box)
        check_systemd_analyze(box)
        pebble = start_pebble(box, tls_files, ports)
        configure(box, pebble)
        serial = check_first_issuance(box)
        root = fetch_pebble_root(pebble, tls_files["pebble-ca.pem"], work)
        check_square(ports, root, serial)
        serial, pid = check_forced_renewal(box, ports, root, serial)
        check_reloads(box, ports, root, serial, pid)
        check_account_key(box)
        check_remove(box, ports)
        check_purge(box)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--deb", help="a .deb built before; skips dpkg-buildpackage and lintian")
    args = parse_arguments(parser)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="secure-api-pkg-") as work:
        run_test(args, work)
    log(f"all package lifecycle checks passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    run_main(main)
