#!/bin/bash
# The translation catalogue is complete: every source file that marks strings
# with _( or N_( is listed in po/POTFILES.in, and po/de.po translates every
# message of the catalogue, none fuzzy. TAP output.
set -u
top=${SCEP_TOP_SRCDIR:?}
cd "$top"
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }

missing=$(grep -lE '\b_\(|\bN_\(' agent/*.c registry/*.c ndes/*.c 2>/dev/null | while read -r f; do
    grep -qxF "$f" po/POTFILES.in || echo "$f"
done)
if [ -z "$missing" ]; then ok "every translated source is in POTFILES.in"; else not_ok "not in POTFILES.in: $missing"; fi

pot=$(mktemp)
trap 'rm -f "$pot"' EXIT
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ -f po/POTFILES.in -o "$pot" 2>/dev/null
stats=$(msgmerge --quiet -o - po/de.po "$pot" 2>/dev/null | msgfmt --statistics -o /dev/null - 2>&1)
if echo "$stats" | grep -qE 'fuzzy|untranslated'; then not_ok "de.po incomplete: $stats"; else ok "de.po complete: $stats"; fi

if msgfmt -c -o /dev/null po/de.po 2>/dev/null; then ok "de.po compiles with msgfmt -c"; else not_ok "de.po does not compile"; fi
echo "1..$n"
exit $fail
