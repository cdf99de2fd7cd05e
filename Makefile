# Build and install the tcpdrop command with its manual page tcpdrop(8) and
# its bash, zsh and fish completions, all generated from the binary's own
# argument definitions (tcpdrop --generate man|bash|zsh|fish).
#
#   make test                                      # install what the tests need (as root;
#                                                  # a normal user is told what is missing),
#                                                  # then run every test, not stopping at the
#                                                  # first failing test binary
#   make install                                   # under /usr/local
#   make install PREFIX=$HOME/.local
#   make install PREFIX=/usr DESTDIR=/tmp/stage    # packaging
#   make uninstall PREFIX=...
#   make install-lib PREFIX=...                    # the C ABI: crates/iphlpapi/Makefile:
#                                                  # libiphlpapi.so.0 (+ .so link, .a),
#                                                  # iphlpapi.h, the iphlpapi-compat headers,
#                                                  # iphlpapi.pc and iphlpapi-compat.pc
#   make deb                                       # Debian packages tcpdrop, libiphlpapi0 and
#                                                  # libiphlpapi-dev in target/debian/
#                                                  # (packaging/build-deb)
#   make image                                     # target/image/tcpdrop.oci.tar: an OCI image
#                                                  # FROM scratch of a static tcpdrop
#                                                  # (packaging/build-image)
#
# deb and image first run packaging/deps: as root it installs the Debian
# packages they need (dpkg-dev, umoci, ...); as a normal user it names the
# missing ones and stops.
#
# Variables: PREFIX, BINDIR, MANDIR, BASHCOMPDIR, ZSHCOMPDIR, FISHCOMPDIR,
# DESTDIR, PROFILE (release, the default, or debug), CARGO, CARGO_TARGET_DIR,
# DEBDIR and IMAGEDIR (where deb and image write), STRIP (the installed
# binary is stripped: the release profile keeps line tables for profiling,
# which an installed command does not need; STRIP=true installs it as built).

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

CARGO ?= cargo
PROFILE ?= release
CARGO_TARGET_DIR ?= $(ROOT)/target
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
STRIP ?= strip
DEBDIR ?= $(ROOT)/target/debian
IMAGEDIR ?= $(ROOT)/target/image

ifeq ($(PROFILE),debug)
PROFILE_FLAG :=
else
PROFILE_FLAG := --profile $(PROFILE)
endif
BIN := $(CARGO_TARGET_DIR)/$(PROFILE)/tcpdrop
GEN := $(CARGO_TARGET_DIR)/$(PROFILE)/generated

.PHONY: all build generated test install uninstall install-lib uninstall-lib deb image

all: build generated

build:
	cd "$(ROOT)" && CARGO_TARGET_DIR="$(CARGO_TARGET_DIR)" $(CARGO) build -p tcpdrop-cli $(PROFILE_FLAG)

test:
	"$(ROOT)/.ci/deps"
	cd "$(ROOT)" && $(CARGO) test --workspace --no-fail-fast

generated: build
	mkdir -p "$(GEN)"
	"$(BIN)" --generate man > "$(GEN)/tcpdrop.8"
	"$(BIN)" --generate bash > "$(GEN)/tcpdrop.bash"
	"$(BIN)" --generate zsh > "$(GEN)/_tcpdrop"
	"$(BIN)" --generate fish > "$(GEN)/tcpdrop.fish"

install: generated
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man8" "$(DESTDIR)$(BASHCOMPDIR)" \
	           "$(DESTDIR)$(ZSHCOMPDIR)" "$(DESTDIR)$(FISHCOMPDIR)"
	install -m 0755 "$(BIN)" "$(DESTDIR)$(BINDIR)/tcpdrop"
	$(STRIP) "$(DESTDIR)$(BINDIR)/tcpdrop"
	install -m 0644 "$(GEN)/tcpdrop.8" "$(DESTDIR)$(MANDIR)/man8/tcpdrop.8"
	install -m 0644 "$(GEN)/tcpdrop.bash" "$(DESTDIR)$(BASHCOMPDIR)/tcpdrop"
	install -m 0644 "$(GEN)/_tcpdrop" "$(DESTDIR)$(ZSHCOMPDIR)/_tcpdrop"
	install -m 0644 "$(GEN)/tcpdrop.fish" "$(DESTDIR)$(FISHCOMPDIR)/tcpdrop.fish"

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/tcpdrop" "$(DESTDIR)$(MANDIR)/man8/tcpdrop.8" \
	      "$(DESTDIR)$(BASHCOMPDIR)/tcpdrop" "$(DESTDIR)$(ZSHCOMPDIR)/_tcpdrop" \
	      "$(DESTDIR)$(FISHCOMPDIR)/tcpdrop.fish"

# PREFIX, PROFILE and the cargo settings are this Makefile's; LIBDIR,
# INCLUDEDIR, PKGCONFIGDIR and DESTDIR pass through from the command line.
LIB_VARS = PREFIX="$(PREFIX)" PROFILE="$(PROFILE)" CARGO="$(CARGO)" \
           CARGO_TARGET_DIR="$(CARGO_TARGET_DIR)" STRIP="$(STRIP)"

install-lib:
	$(MAKE) -C "$(ROOT)/crates/iphlpapi" install $(LIB_VARS)

uninstall-lib:
	$(MAKE) -C "$(ROOT)/crates/iphlpapi" uninstall $(LIB_VARS)

PACKAGING_VARS = CARGO="$(CARGO)" CARGO_TARGET_DIR="$(CARGO_TARGET_DIR)" MAKE="$(MAKE)"

deb:
	"$(ROOT)/packaging/deps" deb
	DEBDIR="$(DEBDIR)" $(PACKAGING_VARS) "$(ROOT)/packaging/build-deb"

image:
	"$(ROOT)/packaging/deps" image
	IMAGEDIR="$(IMAGEDIR)" $(PACKAGING_VARS) "$(ROOT)/packaging/build-image"
