#!/usr/bin/python3
"""BC-16: the daemon under its shipped, hardened unit still reads its
certificate, and reloads a renewed one without a restart.

Boots a real systemd (systemd-sandbox), installs what `meson install` puts
into a DESTDIR, creates the users and directories with systemd-sysusers and
systemd-tmpfiles, installs a test-CA certificate the way the renewal does
(secure-api-acme:secure-api, 0644/0640), moves the sockets to free loopback
ports with drop-ins and runs `systemctl enable --now secure-api.socket`.
Then, over real HTTPS from the host:
- /square/15 answers 225 with the installed certificate;
- the daemon runs as secure-api with no capabilities at all;
- `systemctl reload` after a renewal serves the new certificate, same PID;
- a certificate that does not cover the domain makes `systemctl reload`
  fail, and the previous one stays in service;
- no private key is readable by other users; the D-Bus policy lets others
  read properties but not reload;
- the HTTP socket redirects to HTTPS.

Usage: field_bc_16_daemon_under_shipped_unit.py --build-dir DIR --sandbox TOOL
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile

from sandbox_common import Failure, Sandbox, free_ports, log, main_pid
from sandbox_common import parse_arguments, run_main

DOMAIN = "api.test"
# The libraries secure-apid links against, and curl for checks inside.
SANDBOX_PACKAGES = ("libmicrohttpd12 libgnutls30 libsystemd0 libboost-program-options1.74.0 "
                    "libgmp10 curl")
# A base of its own, so a sandbox test with other packages never rebuilds
# the base under this one while it runs.
SANDBOX_DIR = "/var/cache/systemd-sandbox-secure-api"
CERT_DIR = f"/var/lib/secure-api/certs/{DOMAIN}"
SERIALS = {"first": "5ec1a1", "renewed": "5ec1a2", "wrong-name": "5ec1a3"}
DBUS_DIRS = ("/usr/share/dbus-1/system.d", "/etc/dbus-1/system.d")
BUS_OBJECT = ["org.secureapi.Daemon1", "/org/secureapi/Daemon1", "org.secureapi.Daemon1"]
# Shown when the test fails.
JOURNAL_UNITS = ("secure-api.service", "secure-api.socket", "secure-api-http.socket",
                 "dbus.service")


def make_certificates(work):
    """A test CA and three leaves (ECDSA P-256): two for DOMAIN, one that is not."""
    def certtool(*args):
        subprocess.run(["certtool", *args], check=True, capture_output=True, cwd=work)

    def key(name):
        certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
                 f"--outfile={name}.key")

    def template(name, text):
        with open(os.path.join(work, f"{name}.tmpl"), "w") as f:
            f.write(text)

    key("ca")
    template("ca", 'cn = "secure-api test CA"\nca\ncert_signing_key\nexpiration_days = 30\n')
    certtool("--generate-self-signed", "--load-privkey=ca.key", "--template=ca.tmpl",
             "--outfile=ca.pem")
    pairs = {}
    for name, serial in SERIALS.items():
        host = DOMAIN if name != "wrong-name" else "other.test"
        key(name)
        template(name, f'cn = "{host}"\ndns_name = "{host}"\nserial = {int(serial, 16)}\n'
                 "tls_www_server\nsigning_key\nexpiration_days = 30\n")
        certtool("--generate-certificate", f"--load-privkey={name}.key",
                 "--load-ca-certificate=ca.pem", "--load-ca-privkey=ca.key",
                 f"--template={name}.tmpl", f"--outfile={name}.pem")
        with open(os.path.join(work, f"{name}.pem"), "rb") as leaf, \
                open(os.path.join(work, "ca.pem"), "rb") as ca, \
                open(os.path.join(work, f"{name}.key"), "rb") as k:
            leaf_pem = leaf.read()
            pairs[name] = {"fullchain": leaf_pem + ca.read(), "key": k.read(),
                           "leaf_der": ssl.PEM_cert_to_DER_cert(leaf_pem.decode())}
    return os.path.join(work, "ca.pem"), pairs


def meson_install(build_dir, destdir):
    """Install into DESTDIR; returns {installed path: DESTDIR copy}."""
    meson = shutil.which("meson")
    # Not --no-rebuild: `meson test <this test>` builds only what the test
    # depends on, and the install needs every installed target.
    result = subprocess.run([meson, "install", "-C", build_dir, "--quiet", "--destdir", destdir],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise Failure(f"meson install --destdir failed:\n{result.stdout[-3000:]}")
    listing = subprocess.run([meson, "introspect", "--installed", build_dir], check=True,
                             capture_output=True, text=True).stdout
    installed = {}
    for target in json.loads(listing).values():
        installed[target] = destdir + target
        if not os.path.exists(installed[target]):
            raise Failure(f"meson install did not create {target}")
    return installed


def find_installed(installed, suffix):
    hits = [p for p in installed if p.endswith(suffix)]
    if len(hits) != 1:
        raise Failure(f"expected one installed file ending in {suffix!r}, found {hits}")
    return hits[0]


def copy_tree_in(box, destdir):
    """Unpack the DESTDIR over the sandbox's root. --keep-directory-symlink keeps
    the merged-/usr links (/lib -> usr/lib), --no-overwrite-dir the modes of
    directories that exist already."""
    os.chmod(destdir, 0o755)
    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for entry in sorted(os.listdir(destdir)):
                tar.add(os.path.join(destdir, entry), arcname=entry)
        archive.seek(0)
        box.must("tar", "-xpf", "-", "-C", "/", "--keep-directory-symlink",
                 "--no-overwrite-dir", data=archive.read())


def install_system(box, installed, ports):
    """What a package's maintainer scripts would do, plus test ports."""
    policy = find_installed(installed, "/dbus-1/system.d/org.secureapi.Daemon1.conf")
    if os.path.dirname(policy) not in DBUS_DIRS:
        # A /usr/local build: the system bus reads only these two directories.
        box.must("cp", policy, "/etc/dbus-1/system.d/")
    box.must("systemd-sysusers", "secure-api.conf")
    box.must("systemd-tmpfiles", "--create", "secure-api.conf")
    box.must("systemctl", "reload", "dbus.service")
    for unit, port in (("secure-api.socket", ports["https"]),
                       ("secure-api-http.socket", ports["http"])):
        box.write(f"/etc/systemd/system/{unit}.d/50-test-port.conf",
                  f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{port}\n".encode(), "644")
    box.must("systemctl", "daemon-reload")


def install_config(box, installed):
    path = find_installed(installed, "/secure-api/secure-api.conf")
    with open(installed[path], "rb") as f:
        shipped = f.read()
    # Top-level keys must come before the first [section] of the shipped file.
    box.write(path, f"domain = {DOMAIN}\n\n".encode() + shipped, "644")


def install_pair(box, pair):
    """As the renewal installs it: certificate 0644, key 0640 secure-api-acme:secure-api."""
    owner = "secure-api-acme:secure-api"
    box.must("install", "-d", "-m", "755", "-o", "secure-api-acme", "-g", "secure-api", CERT_DIR)
    box.write(f"{CERT_DIR}/privkey.pem", pair["key"], "640", owner)
    box.write(f"{CERT_DIR}/fullchain.pem", pair["fullchain"], "644", owner)


def served_leaf(port, ca_file):
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            return tls.getpeercert(binary_form=True)


class DomainHttps(http.client.HTTPConnection):
    """HTTPS to 127.0.0.1, verifying the certificate for DOMAIN and sending it as SNI."""

    def __init__(self, port, ca_file):
        super().__init__("127.0.0.1", port, timeout=15)
        self.tls = ssl.create_default_context(cafile=ca_file)

    def connect(self):
        super().connect()
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=DOMAIN)


def https_get(port, ca_file, path):
    connection = DomainHttps(port, ca_file)
    try:
        connection.request("GET", path, headers={"Host": DOMAIN})
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read().decode()
    finally:
        connection.close()


def check_sockets_enabled(box):
    for unit in ("secure-api.socket", "secure-api-http.socket"):
        state = box.run("systemctl", "is-enabled", unit)[1].strip()
        active = box.run("systemctl", "is-active", unit)[1].strip()
        if (state, active) != ("enabled", "active"):
            raise Failure(f"{unit}: {state}/{active} after enable --now secure-api.socket")
    log("ok: both sockets enabled and listening")


def check_square(ports, ca_file):
    """The first connection starts the daemon (socket activation); curl waits for it."""
    url = f"https://{DOMAIN}:{ports['https']}/square/15"
    result = subprocess.run(["curl", "-sS", "-m", "20", "--cacert", ca_file, "--resolve",
                             f"{DOMAIN}:{ports['https']}:127.0.0.1", "-w", " %{http_code}", url],
                            capture_output=True, text=True, timeout=30)
    if result.stdout != "225 200":
        raise Failure(f"curl {url}: {result.stdout!r} {result.stderr.strip()}")
    log("ok: curl --cacert GET /square/15 = 225 (socket-activated, verified TLS)")


def check_identity(box):
    pid = main_pid(box)
    status = box.must("cat", f"/proc/{pid}/status")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = box.must("id", "-u", "secure-api").strip()
    gid = box.must("id", "-g", "secure-api").strip()
    if fields["Uid"].split() != [uid] * 4 or fields["Gid"].split() != [gid] * 4:
        raise Failure(f"daemon runs as Uid {fields['Uid'].split()} Gid {fields['Gid'].split()}, "
                      f"want secure-api ({uid}/{gid})")
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(fields[cap], 16) != 0:
            raise Failure(f"daemon has {cap} {fields[cap].strip()}, want none")
    if fields["NoNewPrivs"].strip() != "1":
        raise Failure("daemon runs without NoNewPrivs")
    log(f"ok: daemon (pid {pid}) runs as secure-api ({uid}:{gid}), no capabilities")
    return pid


def check_serving(box, ports, ca_file, pair, serial):
    leaf = served_leaf(ports["https"], ca_file)
    if leaf != pair["leaf_der"]:
        raise Failure(f"the daemon does not serve the certificate with serial {serial}")
    _, headers, _ = https_get(ports["https"], ca_file, "/health")
    reported = (headers.get("x-certificate-status"), headers.get("x-certificate-serial"))
    if reported != ("loaded", serial):
        raise Failure(f"/health reports {reported}, want ('loaded', {serial!r})")
    log(f"ok: serving the certificate with serial {serial}")


def check_reload(box, ports, ca_file, pairs, pid):
    install_pair(box, pairs["renewed"])
    status, out, err = box.run("systemctl", "reload", "secure-api.service")
    if status != 0:
        raise Failure(f"systemctl reload after a renewal failed: {out}{err}")
    check_serving(box, ports, ca_file, pairs["renewed"], SERIALS["renewed"])
    if main_pid(box) != pid:
        raise Failure("the daemon was restarted instead of reloaded")
    status_text = box.must("systemctl", "show", "-P", "StatusText", "secure-api.service")
    if SERIALS["renewed"] not in status_text:
        raise Failure(f"systemctl status does not show the new serial: {status_text.strip()!r}")
    log("ok: systemctl reload serves the renewed certificate, same main PID, STATUS= updated")


def as_user(user, group, *cmd):
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups", *cmd]


def check_rejected_reload(box, ports, ca_file, pairs, pid):
    install_pair(box, pairs["wrong-name"])
    status, out, err = box.run("systemctl", "reload", "secure-api.service")
    if status == 0:
        raise Failure("systemctl reload succeeded with a certificate for other.test")
    # The daemon's own record says why; busctl's "Call failed" line may lag
    # behind in the journal, so either will do.
    journal = box.must("journalctl", "-q", "--no-pager", "-u", "secure-api.service")
    if not any(("Call failed" in line or "Reload rejected" in line) and DOMAIN in line
               for line in journal.splitlines()):
        raise Failure("the journal does not say why the reload failed:\n" + journal[-3000:])
    # The renewal sees the error by name (dbus-send prints it, busctl does not).
    status, out, err = box.run(*as_user("secure-api-acme", "secure-api-acme", "dbus-send",
                                        "--system", "--print-reply",
                                        "--dest=org.secureapi.Daemon1", "/org/secureapi/Daemon1",
                                        "org.secureapi.Daemon1.Reload"))
    if status == 0 or "org.secureapi.Daemon1.Error.NamesNotCovered" not in out + err:
        raise Failure(f"Reload by secure-api-acme (exit {status}): {out}{err}")
    check_serving(box, ports, ca_file, pairs["renewed"], SERIALS["renewed"])
    if box.must("systemctl", "is-active", "secure-api.service").strip() != "active" or \
            main_pid(box) != pid:
        raise Failure("a rejected reload stopped or restarted the daemon")
    log("ok: a rejected certificate fails systemctl reload visibly, the old one stays")


def check_key_modes(box):
    """Certificates are public (0644); private keys must not be readable by others."""
    listing = box.must("sh", "-c", "grep -rlZ -- '-----BEGIN .*PRIVATE KEY-----' "
                       "/var/lib/secure-api /etc /usr/local/etc 2>/dev/null | xargs -0r stat "
                       "-c '%a %U:%G %n'")
    keys = [line.split(" ", 2) for line in listing.splitlines()]
    if not any(name == f"{CERT_DIR}/privkey.pem" for _, _, name in keys):
        raise Failure(f"no private key found where it was installed:\n{listing}")
    loose = [k for k in keys if int(k[0], 8) & 0o007]
    if loose:
        raise Failure(f"private keys readable by others: {loose}")
    status, _, _ = box.run(*as_user("nobody", "nogroup", "cat", f"{CERT_DIR}/privkey.pem"))
    if status == 0:
        raise Failure("user nobody can read the private key")
    log(f"ok: {len(keys)} private key file(s), none readable by others")


def check_dbus_policy(box, pairs):
    as_nobody = as_user("nobody", "nogroup", "busctl")
    serial = box.must(*as_nobody, "get-property", *BUS_OBJECT, "CertificateSerial").strip()
    if serial != f's "{SERIALS["renewed"]}"':
        raise Failure(f"CertificateSerial read by nobody: {serial}")
    status, out, err = box.run(*as_nobody, "call", *BUS_OBJECT, "Reload")
    if status == 0 or "denied" not in (out + err).lower():
        raise Failure(f"nobody may call Reload (exit {status}): {out}{err}")
    install_pair(box, pairs["renewed"])
    out = box.must(*as_user("secure-api-acme", "secure-api-acme", "busctl", "call", *BUS_OBJECT,
                            "Reload"))
    if f'"{SERIALS["renewed"]}"' not in out:
        raise Failure(f"Reload by secure-api-acme answered {out!r}")
    log("ok: D-Bus: everybody reads properties, secure-api-acme reloads, nobody may not")


def check_redirect(ports):
    connection = http.client.HTTPConnection("127.0.0.1", ports["http"], timeout=10)
    try:
        connection.request("GET", "/square/15?x=1", headers={"Host": DOMAIN})
        response = connection.getresponse()
        location = response.getheader("Location")
    finally:
        connection.close()
    want = f"https://{DOMAIN}:{ports['https']}/square/15?x=1"
    if (response.status, location) != (301, want):
        raise Failure(f"HTTP socket answered {response.status} {location!r}, want 301 {want!r}")
    log("ok: HTTP socket redirects to HTTPS")


def run_test(args, work):
    ca_file, pairs = make_certificates(work)
    log("meson install --destdir (builds whatever is not built yet)")
    installed = meson_install(args.build_dir, os.path.join(work, "destdir"))
    find_installed(installed, "/secure-apid")
    ports = dict(zip(("https", "http"), free_ports(2)))
    box = Sandbox(args.sandbox, "secure-api-bc16", SANDBOX_DIR, SANDBOX_PACKAGES, timeout=60,
                  umask="077")
    log(f"starting the sandbox (ports: https {ports['https']}, http {ports['http']})")
    with box.booted(JOURNAL_UNITS):
        copy_tree_in(box, os.path.join(work, "destdir"))
        daemon = find_installed(installed, "/secure-apid")
        missing = box.must("sh", "-c", f"ldd {daemon} | grep 'not found' || true").strip()
        if missing:
            raise Failure(f"libraries missing in the sandbox: {missing}")
        install_system(box, installed, ports)
        install_config(box, installed)
        install_pair(box, pairs["first"])
        box.must("systemctl", "enable", "--now", "secure-api.socket")
        check_sockets_enabled(box)
        check_square(ports, ca_file)
        pid = check_identity(box)
        check_serving(box, ports, ca_file, pairs["first"], SERIALS["first"])
        check_reload(box, ports, ca_file, pairs, pid)
        check_rejected_reload(box, ports, ca_file, pairs, pid)
        check_key_modes(box)
        check_dbus_policy(box, pairs)
        check_redirect(ports)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    args = parse_arguments(parser)
    with tempfile.TemporaryDirectory() as work:
        run_test(args, work)


if __name__ == "__main__":
    run_main(main)
