#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ndes-admin-server.sh [--with-scepserver] CMD [ARGS...]
#
# An NDES mscep_admin stand-in for the tests, in a private network namespace:
#   - a MIT Kerberos realm NDES.TEST made with kdb5_util/kadmin.local (KDC on 127.0.0.1:18088):
#     principals HTTP/localhost (keytab for Apache), alice, noperm and cachefull (passwords
#     "<user>-password"),
#   - Apache httpd on 127.0.0.1 (http :18089, https :18443 with tests/data/tls/server.pem),
#     /certsrv/mscep_admin/ behind mod_auth_gssapi (GssapiAllowedMech krb5 + ntlmssp,
#     GssapiConnectionBound On), NTLM users of domain TESTBED through gss-ntlmssp
#     (NTLM_USER_FILE), the keytab through KRB5_KTNAME,
#   - a CGI answering like NDES: UTF-16LE without byte order mark, a fresh random challenge each
#     time (appended to $NDES_ADMIN_ISSUED); user noperm gets the insufficient-permission page,
#     user cachefull the password-cache-full page.
# With --with-scepserver, micromdm scepserver (Debian package scep) runs in the same namespace
# on 127.0.0.1:18080 with -allowrenew 0, no static challenge and -csrverifierexec
# tests/ndes-csr-verifier.sh (accepts only challenges in $NDES_ADMIN_ISSUED, each once);
# SCEP_TEST_SCEPSERVER_URL, _DEPOT and _LOG are exported as tests/scepserver-netns.sh does.
# CMD runs with KRB5_CONFIG, NDES_ADMIN_HTTP_URL, NDES_ADMIN_HTTPS_URL, NDES_ADMIN_CA,
# NDES_ADMIN_ISSUED, NDES_ADMIN_USED, NDES_ADMIN_REALM, NDES_ADMIN_DOMAIN, NDES_ADMIN_DIR exported;
# everything started is stopped by PID and the directory removed. Needs root. A missing tool is
# a failure (exit 1), never a skip.

set -u

KDC_PORT=18088
HTTP_PORT=18089
HTTPS_PORT=18443
SCEP_PORT=18080
REALM=NDES.TEST
DOMAIN=TESTBED
HERE=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "ndes-admin-server: $*" >&2
	exit 1
}

with_scepserver=0
if [ "${1:-}" = "--with-scepserver" ]; then
	with_scepserver=1
	shift
fi
[ $# -ge 1 ] || die "usage: ndes-admin-server.sh [--with-scepserver] CMD [ARGS...]"

if [ "${NDES_ADMIN_NETNS_INSIDE:-}" != "1" ]; then
	[ "$(id -u)" = 0 ] || die "needs root (network namespace, Apache as www-data, a KDC)"
	for tool in krb5kdc kdb5_util kadmin.local kinit apache2 iconv unshare ip openssl; do
		command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin"
		command -v "$tool" >/dev/null 2>&1 ||
			die "$tool not found: install the Debian packages krb5-kdc krb5-admin-server krb5-user apache2 libapache2-mod-auth-gssapi gss-ntlmssp iproute2 util-linux openssl (tests/install-deps.sh)"
	done
	[ -f /usr/lib/apache2/modules/mod_auth_gssapi.so ] ||
		die "mod_auth_gssapi missing: install libapache2-mod-auth-gssapi"
	ls /etc/gss/mech.d/*ntlmssp* >/dev/null 2>&1 || die "gss-ntlmssp missing: install gss-ntlmssp"
	getent passwd www-data >/dev/null || die "user www-data missing"
	unshare --net true 2>/dev/null || die "cannot create a network namespace (unshare --net)"
	NDES_ADMIN_NETNS_INSIDE=1 exec unshare --net -- "$0" \
		$([ "$with_scepserver" = 1 ] && echo --with-scepserver) "$@"
	die "exec unshare failed"
fi
unset NDES_ADMIN_NETNS_INSIDE
PATH="$PATH:/usr/sbin:/sbin"

ip link set lo up || die "ip link set lo up failed"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/ndes-admin-XXXXXX") || die "mktemp failed"
KDC_PID=
HTTPD_PID=
SCEP_PID=
cleanup() {
	if [ -n "$SCEP_PID" ]; then
		kill -TERM "$SCEP_PID" 2>/dev/null
		wait "$SCEP_PID" 2>/dev/null
	fi
	if [ -n "$HTTPD_PID" ]; then
		kill -TERM "$HTTPD_PID" 2>/dev/null
		wait "$HTTPD_PID" 2>/dev/null
	fi
	if [ -n "$KDC_PID" ]; then
		kill -TERM "$KDC_PID" 2>/dev/null
		wait "$KDC_PID" 2>/dev/null
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Apache's workers (www-data) read the keytab, the NTLM users and the CGI, and write the
# issued-challenge list
chmod 0755 "$DIR"
mkdir -p "$DIR/cgi" "$DIR/state" "$DIR/run" || die "mkdir failed"
chown www-data "$DIR/state" || die "chown failed"

# ---- Kerberos realm ----
cat >"$DIR/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
[realms]
	$REALM = {
		kdc = 127.0.0.1:$KDC_PORT
	}
[domain_realm]
	localhost = $REALM
	127.0.0.1 = $REALM
EOF
cat >"$DIR/kdc.conf" <<EOF
[kdcdefaults]
	kdc_listen = 127.0.0.1:$KDC_PORT
	kdc_tcp_listen = 127.0.0.1:$KDC_PORT
[realms]
	$REALM = {
		database_name = $DIR/principal
		key_stash_file = $DIR/stash
		acl_file = $DIR/kadm5.acl
		max_life = 10h
	}
[logging]
	kdc = FILE:$DIR/kdc.log
EOF
: >"$DIR/kadm5.acl"
export KRB5_CONFIG="$DIR/krb5.conf"
export KRB5_KDC_PROFILE="$DIR/kdc.conf"
kdb5_util create -s -r "$REALM" -P "kdb-master-$RANDOM$RANDOM" >"$DIR/kdb.log" 2>&1 ||
	die "kdb5_util create failed: $(cat "$DIR/kdb.log")"
for user in alice noperm cachefull; do
	kadmin.local -r "$REALM" -q "addprinc -pw $user-password $user" >>"$DIR/kdb.log" 2>&1 ||
		die "addprinc $user failed"
done
kadmin.local -r "$REALM" -q "addprinc -randkey HTTP/localhost" >>"$DIR/kdb.log" 2>&1 ||
	die "addprinc HTTP/localhost failed"
kadmin.local -r "$REALM" -q "ktadd -k $DIR/http.keytab HTTP/localhost" >>"$DIR/kdb.log" 2>&1 ||
	die "ktadd failed: $(cat "$DIR/kdb.log")"
chown www-data "$DIR/http.keytab" && chmod 0400 "$DIR/http.keytab" || die "keytab mode"

krb5kdc -n -r "$REALM" >"$DIR/krb5kdc.out" 2>&1 &
KDC_PID=$!
ready=0
for _ in $(seq 1 100); do
	kill -0 "$KDC_PID" 2>/dev/null || { KDC_PID=; die "krb5kdc exited: $(cat "$DIR/krb5kdc.out" "$DIR/kdc.log" 2>/dev/null)"; }
	if echo alice-password | KRB5CCNAME="FILE:$DIR/probe.ccache" kinit alice >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.1
done
rm -f "$DIR/probe.ccache"
[ "$ready" = 1 ] || die "the KDC did not issue a ticket within 10 s"

# ---- NTLM users (gss-ntlmssp) ----
{
	for user in alice noperm cachefull; do
		echo "$DOMAIN:$user:$user-password"
	done
} >"$DIR/ntlm-users"
chown www-data "$DIR/ntlm-users" && chmod 0400 "$DIR/ntlm-users" || die "ntlm-users mode"

# ---- the NDES-like CGI ----
cat >"$DIR/cgi/mscep_admin" <<'EOF'
#!/bin/bash
# answers like NDES mscep_admin: UTF-16LE without BOM, text/html without charset
user="${REMOTE_USER:-}"
page() {
	printf '<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-8">\r\n'
	printf '<Title>Network Device Enrollment Service</Title></Head>\r\n<Body BgColor=#FFFFFF>\r\n'
	printf '<P> Network Device Enrollment Service lets you obtain certificates for routers or other network devices using the Simple Certificate Enrollment Protocol (SCEP). </P>\r\n'
	case "$user" in
	*noperm*)
		printf '<P> You do not have sufficient permission to enroll with SCEP. Please contact your system administrator. </P>\r\n'
		;;
	*cachefull*)
		printf '<P> The password cache is full. </P>\r\n'
		;;
	*)
		password=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F')
		echo "$password" >>"$NDES_ADMIN_ISSUED"
		printf '<P> The thumbprint (hash value) for the CA certificate is: <B> 0A1B2C3D 4E5F6071 8293A4B5 C6D7E8F9 </B>\r\n'
		printf '<P> The enrollment challenge password is: <B> %s </B> <P> This password can be used only once and will expire within 60 minutes. </P>\r\n' "$password"
		;;
	esac
	printf '</Body></HTML>\r\n'
}
printf 'Content-Type: text/html\r\nX-Remote-User: %s\r\n\r\n' "$user"
page | iconv -f UTF-8 -t UTF-16LE
EOF
chmod 0755 "$DIR/cgi" "$DIR/cgi/mscep_admin"

export NDES_ADMIN_ISSUED="$DIR/state/issued"
export NDES_ADMIN_USED="$DIR/state/used"
: >"$NDES_ADMIN_ISSUED"
: >"$NDES_ADMIN_USED"
chown www-data "$NDES_ADMIN_ISSUED"

# ---- Apache ----
TLS="$HERE/data/tls/server.pem"
M=/usr/lib/apache2/modules
cat >"$DIR/httpd.conf" <<EOF
ServerRoot "$DIR"
ServerName localhost
DefaultRuntimeDir "$DIR/run"
PidFile "$DIR/run/httpd.pid"
Mutex file:$DIR/run default
User www-data
Group www-data
Listen 127.0.0.1:$HTTP_PORT
Listen 127.0.0.1:$HTTPS_PORT
ErrorLog "$DIR/error.log"
LogLevel info auth_gssapi:debug
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_user_module $M/mod_authz_user.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule alias_module $M/mod_alias.so
LoadModule cgi_module $M/mod_cgi.so
LoadModule env_module $M/mod_env.so
LoadModule socache_shmcb_module $M/mod_socache_shmcb.so
LoadModule ssl_module $M/mod_ssl.so
LoadModule auth_gssapi_module $M/mod_auth_gssapi.so
StartServers 2
KeepAlive On
MaxKeepAliveRequests 100
DocumentRoot "$DIR/cgi"
SSLSessionCache none
PassEnv NDES_ADMIN_ISSUED
ScriptAlias /certsrv/mscep_admin/ "$DIR/cgi/mscep_admin"
<Location /certsrv/mscep_admin/>
	AuthType GSSAPI
	AuthName "NDES"
	GssapiAllowedMech krb5
	GssapiAllowedMech ntlmssp
	GssapiConnectionBound On
	GssapiBasicAuth Off
	Require valid-user
</Location>
<VirtualHost 127.0.0.1:$HTTPS_PORT>
	SSLEngine on
	SSLCertificateFile "$TLS"
	SSLCertificateKeyFile "$TLS"
</VirtualHost>
EOF
# its own session: prefork's shutdown signals its whole process group
KRB5_KTNAME="FILE:$DIR/http.keytab" NTLM_USER_FILE="$DIR/ntlm-users" \
	setsid apache2 -f "$DIR/httpd.conf" -DFOREGROUND >"$DIR/httpd.out" 2>&1 &
HTTPD_PID=$!
ready=0
for _ in $(seq 1 100); do
	kill -0 "$HTTPD_PID" 2>/dev/null || { HTTPD_PID=; die "apache2 exited: $(cat "$DIR/httpd.out" "$DIR/error.log" 2>/dev/null)"; }
	if { exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"; } 2>/dev/null; then
		printf 'GET /certsrv/mscep_admin/ HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
		reply=$(timeout 2 cat <&3)
		exec 3<&- 3>&-
		case "$reply" in
		"HTTP/1."?" 401"*)
			ready=1
			break
			;;
		esac
	fi
	sleep 0.1
done
[ "$ready" = 1 ] || die "apache2 did not answer within 10 s: $(cat "$DIR/error.log" 2>/dev/null)"

export NDES_ADMIN_HTTP_URL="http://localhost:$HTTP_PORT/certsrv/mscep_admin/"
export NDES_ADMIN_HTTPS_URL="https://localhost:$HTTPS_PORT/certsrv/mscep_admin/"
export NDES_ADMIN_CA="$HERE/data/tls/ca.pem"
export NDES_ADMIN_REALM="$REALM"
export NDES_ADMIN_DOMAIN="$DOMAIN"
export NDES_ADMIN_DIR="$DIR"
unset KRB5_KDC_PROFILE

if [ "$with_scepserver" = 1 ]; then
	# micromdm scepserver in this namespace, without a static -challenge (scepserver checks
	# both; tests/scepserver-netns.sh always sets one): only the verifier decides
	command -v scepserver >/dev/null 2>&1 || die "scepserver not found: install Debian's 'scep' package"
	scepserver ca -init -depot "$DIR/depot" -keySize 2048 >"$DIR/ca-init.log" 2>&1 ||
		die "scepserver ca -init failed: $(cat "$DIR/ca-init.log")"
	scepserver -depot "$DIR/depot" -port "$SCEP_PORT" -allowrenew 0 -debug \
		-csrverifierexec "$HERE/ndes-csr-verifier.sh" >>"$DIR/scepserver.log" 2>&1 &
	SCEP_PID=$!
	ready=0
	for _ in $(seq 1 100); do
		kill -0 "$SCEP_PID" 2>/dev/null || { SCEP_PID=; die "scepserver exited: $(cat "$DIR/scepserver.log")"; }
		if { exec 3<>"/dev/tcp/127.0.0.1/$SCEP_PORT"; } 2>/dev/null; then
			printf 'GET /scep?operation=GetCACaps HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
			reply=$(timeout 2 cat <&3)
			exec 3<&- 3>&-
			case "$reply" in
			"HTTP/1."?" 200"*POSTPKIOperation*)
				ready=1
				break
				;;
			esac
		fi
		sleep 0.1
	done
	[ "$ready" = 1 ] || die "scepserver did not answer GetCACaps within 10 s"
	export SCEP_TEST_SCEPSERVER_URL="http://127.0.0.1:$SCEP_PORT/scep"
	export SCEP_TEST_SCEPSERVER_DEPOT="$DIR/depot"
	export SCEP_TEST_SCEPSERVER_LOG="$DIR/scepserver.log"
fi
"$@"
status=$?
if [ "$status" != 0 ] && [ -n "${NDES_ADMIN_SHOW_LOGS:-}" ]; then
	cat "$DIR/error.log" "$DIR/kdc.log" >&2
fi
exit "$status"
