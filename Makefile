# SPDX-License-Identifier: Apache-2.0
# Convenience targets over meson (the build itself is meson + ninja).
#   make            build into build/ (release, no tests)
#   make install    install the binaries (containerd-shim-kata-v2, kata-runtime,
#                   kata-monitor and its systemd unit,
#                   kata-agent), the default configuration and the guest image
#   make demo       the README's main command (after make install)
BUILD ?= build
PREFIX ?= /usr/local

.PHONY: all install demo
all:
	scripts/build.sh $(BUILD) --prefix=$(PREFIX) -Dbuildtype=release -Dtests=false

install: all
	meson install -C $(BUILD) --quiet

demo:
	scripts/demo-ctr.sh
