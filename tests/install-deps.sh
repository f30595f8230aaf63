#!/bin/bash
# Installs the Debian 12 packages the build, the tests and the demo need, when
# they are missing. As root it uses apt-get; otherwise it lists what is missing
# and fails. Used by tests/run.sh and agent/demo.sh.
set -u
packages=(
    meson ninja-build pkg-config gcc gettext
    libglib2.0-dev libglib2.0-bin libsoup-3.0-dev glib-networking
    libgnutls28-dev libtasn1-6-dev libtasn1-bin nettle-dev libgmp-dev libsecret-1-dev libssl-dev
    openssl python3 python3-asn1crypto python3-cryptography
    scep certmonger dbus dbus-bin gnome-keyring libxml2-utils iproute2 util-linux time systemd groff-base man-db strace
    libkrb5-dev apache2 libapache2-mod-auth-gssapi krb5-kdc krb5-admin-server krb5-user gss-ntlmssp
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages (run as root to install them): ${missing[*]}" >&2
    exit 2
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || exit 2
