#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# (from the project's shared tools: the e2e tests and the main command build their image with it)
# Build a minimal single-layer OCI image (image-layout tarball) from busybox-static.
# Usage: mk-busybox-oci.sh OUT.tar [REF] [CMD_JSON]
#   REF default: docker.io/library/bbtest:latest ; CMD_JSON default: ["/bin/sh"]
#   e.g. a CRI sandbox ("pause") image: mk-busybox-oci.sh pause.tar docker.io/library/bbpause:latest '["/bin/sleep","inf"]'
# Needs only: busybox-static, coreutils, tar.  No network, no daemon.
set -eu
OUT=$(realpath "$1"); REF=${2:-docker.io/library/bbtest:latest}; CMD=${3:-'["/bin/sh"]'}
W=$(mktemp -d "${TMPDIR:-/tmp}/ocibuild.XXXXXX"); trap 'rm -rf "$W"' EXIT
R=$W/rootfs; mkdir -p $R/bin $R/etc $R/tmp $R/proc $R/sys $R/dev $R/root
cp /bin/busybox $R/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox $R/bin/$a; done
echo 'root:x:0:0:root:/root:/bin/sh' > $R/etc/passwd
echo 'root:x:0:'                     > $R/etc/group
chmod 1777 $R/tmp
L=$W/layout; mkdir -p $L/blobs/sha256
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C $R -cf $W/layer.tar .
LD=$(sha256sum $W/layer.tar | cut -d' ' -f1); LS=$(stat -c %s $W/layer.tar)
mv $W/layer.tar $L/blobs/sha256/$LD
printf '{"created":"1970-01-01T00:00:00Z","architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"mk-busybox-oci.sh"}]}' "$CMD" $LD > $W/config.json
CD=$(sha256sum $W/config.json | cut -d' ' -f1); CS=$(stat -c %s $W/config.json); mv $W/config.json $L/blobs/sha256/$CD
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' $CD $CS $LD $LS > $W/manifest.json
MD=$(sha256sum $W/manifest.json | cut -d' ' -f1); MS=$(stat -c %s $W/manifest.json); mv $W/manifest.json $L/blobs/sha256/$MD
printf '{"imageLayoutVersion":"1.0.0"}' > $L/oci-layout
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' $MD $MS "$REF" "${REF##*:}" > $L/index.json
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C $L -cf "$OUT" oci-layout index.json blobs
echo "wrote $OUT  manifest sha256:$MD  ref $REF"
