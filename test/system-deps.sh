#!/usr/bin/env bash
# System packages the test suites use (Debian/Ubuntu):
#   chromium   headless browser for the real browser-login test (driven by playwright-core)
#   util-linux flock(1) to hold Codex's locks from outside, setpriv to run a client as `nobody`
#   systemd    systemd-socket-activate and systemd-analyze for the socket-activation tests
#   faketime   moves the wall clock under a running daemon, as a laptop suspend does
#   procps     ps, to find daemons and to scan process listings for secrets
#   openssl    makes a throwaway CA for the custom-CA test
#   openssh-server, openssh-client  a real sshd and ssh -R for the follower test over ssh
#   strace     slows a daemon's fsync/rename/unlink so that kill -9 can land between a switch's steps
#   dbus, gnome-keyring, libsecret-tools
#              a real Secret Service on a private bus for the keyring tests (secret-tool checks the entries)
#
# Only what is missing is installed (nothing to do: apt is not even run), and apt waits for
# another apt or dpkg to finish instead of failing at once ("Could not get lock").
set -euo pipefail
packages=(chromium util-linux systemd faketime procps openssl openssh-server openssh-client strace dbus gnome-keyring libsecret-tools)
missing=()
for package in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then missing+=("$package"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system-deps: all ${#packages[@]} packages are installed"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
wait_for_lock=(-o DPkg::Lock::Timeout=600)
echo "system-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get "${wait_for_lock[@]}" update
"${sudo[@]}" apt-get "${wait_for_lock[@]}" install -y --no-install-recommends "${missing[@]}"
