#!/usr/bin/python3
"""The RPM: rpmbuild (with --nodeps: Fedora's build dependencies are not
Debian packages) builds rpm/secure-api.spec from a tarball of the source
tree, rpmlint finds no error in the spec or the built package, and the
package holds both programs, the units, the preset and the sysusers file."""

import glob
import os
import subprocess
import sys
import tempfile

EXPECTED = [
    "/usr/sbin/secure-apid",
    "/usr/sbin/secure-api-renew",
    "/usr/lib/systemd/system/secure-api.socket",
    "/usr/lib/systemd/system/secure-api-http.socket",
    "/usr/lib/systemd/system/secure-api.service",
    "/usr/lib/systemd/system/secure-api-renew.service",
    "/usr/lib/systemd/system/secure-api-renew.timer",
    "/usr/lib/systemd/system-preset/80-secure-api.preset",
    "/usr/lib/sysusers.d/secure-api.conf",
    "/etc/secure-api/secure-api.conf",
]


class Failure(Exception):
    pass


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def spec_version(spec):
    with open(spec, encoding="utf-8") as f:
        for line in f:
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    raise Failure(f"{spec}: no Version:")


def make_sources(source, sources, version):
    name = f"secure-api-{version}"
    tarball = os.path.join(sources, f"{name}.tar.gz")
    result = run(["tar", "-C", os.path.dirname(source), "--exclude-vcs",
                  "--exclude=./build*", "--exclude=__pycache__",
                  f"--transform=s,^{os.path.basename(source)},{name},",
                  "-czf", tarball, os.path.basename(source)])
    if result.returncode != 0:
        raise Failure(f"tar failed: {result.stderr}")
    sysusers = os.path.join(source, "etc", "sysusers.d", "secure-api.conf")
    with open(sysusers, encoding="utf-8") as f, \
            open(os.path.join(sources, "secure-api.sysusers"), "w", encoding="utf-8") as out:
        out.write(f.read())


def lint(argv, what):
    result = run(argv, timeout=300)
    errors = [line for line in result.stdout.splitlines() if ": E: " in line]
    if errors or " 0 errors" not in result.stdout:
        raise Failure(f"rpmlint {what}:\n{result.stdout}{result.stderr}")
    print(f"ok: rpmlint {what}: {result.stdout.strip().splitlines()[-1]}")


def main():
    source = os.path.abspath(sys.argv[1])
    spec = os.path.join(source, "rpm", "secure-api.spec")
    version = spec_version(spec)
    with tempfile.TemporaryDirectory(prefix="secure-api-rpm-") as top:
        for sub in ("SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
            os.makedirs(os.path.join(top, sub))
        make_sources(source, os.path.join(top, "SOURCES"), version)
        result = run(["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {top}",
                      "--define", "__brp_compress bash /usr/lib/rpm/brp-compress /usr", spec],
                     timeout=1500)
        if result.returncode != 0:
            raise Failure(f"rpmbuild failed (exit {result.returncode}):\n"
                          + (result.stdout + result.stderr)[-4000:])
        rpms = glob.glob(os.path.join(top, "RPMS", "*", "secure-api-*.rpm"))
        rpms = [r for r in rpms if "debug" not in os.path.basename(r)]
        if len(rpms) != 1:
            raise Failure(f"rpmbuild made {rpms}, want one package")
        print(f"ok: rpmbuild built {os.path.basename(rpms[0])}")
        listing = run(["rpm", "-qlp", rpms[0]]).stdout.split()
        missing = [path for path in EXPECTED if path not in listing]
        if missing:
            raise Failure("the package lacks " + ", ".join(missing))
        print("ok: the package holds the programs, units, preset, sysusers and configuration")
        lint(["rpmlint", spec], "on the spec")
        lint(["rpmlint", "-r", os.path.join(source, "rpm", "built-package.rpmlint"), rpms[0]],
             "on the package")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
