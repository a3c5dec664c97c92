# Builds and installs imr-daemon and imr-ctl with their systemd units.
#
#   make                      release build of imr-daemon and imr-ctl
#   make install              install under $(DESTDIR)$(PREFIX), config under $(DESTDIR)$(SYSCONFDIR)/imr
#   make check-units          systemd-analyze verify and security on the installed units
#
# After `make install` on a machine (DESTDIR empty), as root:
#   systemd-sysusers && systemd-tmpfiles --create imr.conf && systemctl daemon-reload
#   systemctl enable --now imr-daemon.socket imr-daemon.service

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR  ?= /etc
SWIFT       ?= swift
INSTALL     ?= install

# systemd 252 reads --threshold in tenths (0-100): 20 means an overall exposure of 2.0.
SECURITY_THRESHOLD ?= 20

# The path the unit files in deploy/systemd name; `install` replaces it with $(BINDIR).
SOURCE_BINDIR := /usr/local/bin

.PHONY: all build install install-bin install-units install-config check-units

all: build

build:
	$(SWIFT) build -c release --product imr-daemon
	$(SWIFT) build -c release --product imr-ctl

install: build install-bin install-units install-config

install-bin:
	@bin="$$($(SWIFT) build -c release --show-bin-path)"; \
	for program in imr-daemon imr-ctl; do \
		test -x "$$bin/$$program" || { echo "install: $$bin/$$program is missing; run make build first." >&2; exit 1; }; \
	done; \
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)"; \
	$(INSTALL) -m 0755 "$$bin/imr-daemon" "$$bin/imr-ctl" "$(DESTDIR)$(BINDIR)/"

# The units name the binary by its installed path, so ExecStart follows PREFIX (or BINDIR).
install-units:
	$(INSTALL) -d "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(SYSUSERSDIR)" "$(DESTDIR)$(TMPFILESDIR)"
	sed 's#$(SOURCE_BINDIR)/#$(BINDIR)/#g' deploy/systemd/imr-daemon.service > "$(DESTDIR)$(UNITDIR)/imr-daemon.service.tmp"
	mv "$(DESTDIR)$(UNITDIR)/imr-daemon.service.tmp" "$(DESTDIR)$(UNITDIR)/imr-daemon.service"
	chmod 0644 "$(DESTDIR)$(UNITDIR)/imr-daemon.service"
	$(INSTALL) -m 0644 deploy/systemd/imr-daemon.socket "$(DESTDIR)$(UNITDIR)/imr-daemon.socket"
	$(INSTALL) -m 0644 deploy/systemd/sysusers.d/imr.conf "$(DESTDIR)$(SYSUSERSDIR)/imr.conf"
	$(INSTALL) -m 0644 deploy/systemd/tmpfiles.d/imr.conf "$(DESTDIR)$(TMPFILESDIR)/imr.conf"

# The example is always refreshed; the live config is created from it only when absent, so
# an operator's settings are never overwritten.
install-config:
	$(INSTALL) -d "$(DESTDIR)$(SYSCONFDIR)/imr"
	$(INSTALL) -m 0644 deploy/imr-daemon.toml.example "$(DESTDIR)$(SYSCONFDIR)/imr/imr-daemon.toml.example"
	@if [ -e "$(DESTDIR)$(SYSCONFDIR)/imr/imr-daemon.toml" ]; then \
		echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/imr/imr-daemon.toml"; \
	else \
		$(INSTALL) -m 0644 deploy/imr-daemon.toml.example "$(DESTDIR)$(SYSCONFDIR)/imr/imr-daemon.toml"; \
	fi

# Verifies the units as `install-units` writes them, into a temporary DESTDIR, with ExecStart
# pointing at the debug build's imr-daemon so that verify finds an executable.
# `systemd-analyze verify` exits 0 on misspelt keys and values (it only prints "ignoring"),
# so any output at all is a failure.
check-units:
	@set -eu; \
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	bin="$$($(SWIFT) build --show-bin-path)"; \
	if [ ! -x "$$bin/imr-daemon" ]; then $(SWIFT) build --product imr-daemon >/dev/null; fi; \
	$(MAKE) --no-print-directory -s install-units DESTDIR="$$tmp/root" BINDIR="$$bin" >/dev/null; \
	units="$$tmp/root$(UNITDIR)"; \
	grep -qx "ExecStart=$$bin/imr-daemon" "$$units/imr-daemon.service" || { \
		echo "check-units: ExecStart in the installed imr-daemon.service does not name $$bin/imr-daemon" >&2; exit 1; }; \
	status=0; out="$$(systemd-analyze verify --man=no "$$units/imr-daemon.service" "$$units/imr-daemon.socket" 2>&1)" || status=$$?; \
	if [ "$$status" -ne 0 ] || [ -n "$$out" ]; then \
		printf '%s\n' "$$out" >&2; \
		echo "check-units: systemd-analyze verify reported problems (exit status $$status); see above." >&2; exit 1; \
	fi; \
	echo "check-units: systemd-analyze verify: no complaints"; \
	status=0; systemd-analyze security --offline=true --threshold=$(SECURITY_THRESHOLD) --no-pager \
		"$$units/imr-daemon.service" >"$$tmp/security.txt" 2>&1 || status=$$?; \
	if [ "$$status" -ne 0 ]; then \
		cat "$$tmp/security.txt" >&2; \
		echo "check-units: imr-daemon.service is more exposed than $(SECURITY_THRESHOLD)/10 (exit status $$status); harden it." >&2; exit 1; \
	fi; \
	echo "check-units: $$(grep 'Overall exposure' "$$tmp/security.txt")"; \
	if [ "$$(id -u)" -eq 0 ]; then \
		mkdir -p "$$tmp/sysroot/etc"; \
		for step in "systemd-sysusers --root=$$tmp/sysroot $$tmp/root$(SYSUSERSDIR)/imr.conf" \
		            "systemd-tmpfiles --root=$$tmp/sysroot --create $$tmp/root$(TMPFILESDIR)/imr.conf"; do \
			status=0; out="$$($$step 2>&1)" || status=$$?; \
			noise="$$(printf '%s\n' "$$out" | grep -v '^Creating \(user\|group\) ' | grep -v '^$$' || true)"; \
			if [ "$$status" -ne 0 ] || [ -n "$$noise" ]; then \
				printf '%s\n' "$$out" >&2; echo "check-units: '$${step%% *}' failed on imr.conf; see above." >&2; exit 1; \
			fi; \
		done; \
		test -d "$$tmp/sysroot/run/imr" -a -d "$$tmp/sysroot/var/lib/imr" || { \
			echo "check-units: tmpfiles.d/imr.conf did not create /run/imr and /var/lib/imr" >&2; exit 1; }; \
		echo "check-units: sysusers.d and tmpfiles.d: applied cleanly to a scratch root"; \
	else \
		echo "check-units: not root: skipping the sysusers.d and tmpfiles.d trial (it needs chown)"; \
	fi
